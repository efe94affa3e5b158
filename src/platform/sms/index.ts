/**
 * Outgoing text messages (phone sign-in codes). GoTrue's five providers, one chosen by
 * AUTH_SMS_PROVIDER; none chosen, there is no provider and sending answers GoTrue's error.
 */
import { createMessagebirdProvider } from './messagebird.js';
import type { SmsProvider, SmsSettings } from './sms.js';
import { createTextlocalProvider } from './textlocal.js';
import { createTwilioProvider } from './twilio.js';
import { createTwilioVerifyProvider } from './twilio-verify.js';
import { createVonageProvider } from './vonage.js';

export { SmsSendError, type SmsChannel, type SmsMessage, type SmsProvider, type SmsSettings } from './sms.js';

export function createSmsProvider(settings: SmsSettings): SmsProvider | undefined {
  switch (settings.provider) {
    case 'twilio':
      return createTwilioProvider(settings);
    case 'twilio_verify':
      return createTwilioVerifyProvider(settings);
    case 'messagebird':
      return createMessagebirdProvider(settings);
    case 'textlocal':
      return createTextlocalProvider(settings);
    case 'vonage':
      return createVonageProvider(settings);
    case '':
      return undefined;
  }
}
