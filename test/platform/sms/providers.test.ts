/**
 * Each SMS provider against a loopback server speaking its API: the request it makes (path, auth,
 * form fields, as GoTrue sends them) and how it reads the documented answers, errors included.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createSmsProvider, SmsSendError, type SmsSettings } from '../../../src/platform/sms/index.js';
import { startSmsProviderServer, type SmsProviderServer } from '../../helpers/sms-providers.js';

let api: SmsProviderServer;
beforeAll(async () => {
  api = await startSmsProviderServer();
});
afterAll(async () => api?.close());
beforeEach(() => api.answerWith(undefined));

function settings(provider: SmsSettings['provider'], apiUrl = api.url): SmsSettings {
  return {
    provider,
    apiUrl,
    timeoutMs: 300,
    twilio: { accountSid: 'AC1', authToken: 'tok', messageServiceSid: 'MG1', contentSid: '' },
    twilioVerify: { accountSid: 'AC2', authToken: 'tok2', messageServiceSid: 'VA1' },
    messagebird: { accessKey: 'mbkey', originator: 'Trellis' },
    textlocal: { apiKey: 'tlkey', sender: 'TRLS' },
    vonage: { apiKey: 'vkey', apiSecret: 'vsecret', from: 'Trellis' },
  };
}
const message = { to: '15555550100', body: 'Your code is 123456', channel: 'sms' as const, code: '123456' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const last = () => api.requests.at(-1);

describe('requests as GoTrue makes them', () => {
  test('twilio', async () => {
    const id = await createSmsProvider(settings('twilio'))?.send(message);
    expect(id).toMatch(/^SM/);
    expect(last()).toEqual({
      path: '/2010-04-01/Accounts/AC1/Messages.json',
      authorization: basic('AC1', 'tok'),
      contentType: 'application/x-www-form-urlencoded',
      form: { To: '+15555550100', Channel: 'sms', From: 'MG1', Body: 'Your code is 123456' },
    });
  });

  test('twilio over WhatsApp, from a number, with a content template', async () => {
    const s = settings('twilio');
    const provider = createSmsProvider({
      ...s,
      twilio: { ...s.twilio, messageServiceSid: '+15550001111', contentSid: 'HX9' },
    });
    await provider?.send({ ...message, channel: 'whatsapp' });
    expect(last()?.form).toEqual({
      To: 'whatsapp:+15555550100',
      Channel: 'whatsapp',
      From: 'whatsapp:+15550001111',
      ContentSid: 'HX9',
      ContentVariables: '{"1":"123456"}',
    });
  });

  test('twilio_verify sends, then checks the code itself', async () => {
    const provider = createSmsProvider(settings('twilio_verify'));
    expect(await provider?.send(message)).toMatch(/^VE/);
    expect(last()).toMatchObject({
      path: '/v2/Services/VA1/Verifications',
      authorization: basic('AC2', 'tok2'),
      form: { To: '+15555550100', Channel: 'sms' },
    });
    const code = await api.codeFor('15555550100');
    expect(await provider?.checkCode?.('15555550100', code === '000000' ? '111111' : '000000')).toBe(false);
    expect(last()).toMatchObject({ path: '/v2/Services/VA1/VerificationCheck', form: { To: '+15555550100' } });
    expect(await provider?.checkCode?.('15555550100', code)).toBe(true);
    // Used up: Twilio answers 404 for a number with nothing pending.
    expect(await provider?.checkCode?.('15555550100', code)).toBe(false);
  });

  test('messagebird', async () => {
    expect(await createSmsProvider(settings('messagebird'))?.send(message)).toEqual(expect.any(String));
    expect(last()).toEqual({
      path: '/messages',
      authorization: 'AccessKey mbkey',
      contentType: 'application/x-www-form-urlencoded',
      form: {
        originator: 'Trellis',
        body: 'Your code is 123456',
        recipients: '15555550100',
        type: 'sms',
        datacoding: 'unicode',
      },
    });
  });

  test('vonage, with type=unicode for text that is not ASCII', async () => {
    const provider = createSmsProvider(settings('vonage'));
    await provider?.send(message);
    expect(last()).toEqual({
      path: '/sms/json',
      authorization: undefined,
      contentType: 'application/x-www-form-urlencoded',
      form: { from: 'Trellis', to: '15555550100', text: 'Your code is 123456', api_key: 'vkey', api_secret: 'vsecret' },
    });
    await provider?.send({ ...message, body: 'Votre code est 123456 ✓' });
    expect(last()?.form.type).toBe('unicode');
  });

  test('textlocal', async () => {
    await createSmsProvider(settings('textlocal'))?.send(message);
    expect(last()).toEqual({
      path: '/send',
      authorization: undefined,
      contentType: 'application/x-www-form-urlencoded',
      form: { sender: 'TRLS', apikey: 'tlkey', message: 'Your code is 123456', numbers: '15555550100' },
    });
  });

  test('no provider configured', () => {
    expect(createSmsProvider(settings(''))).toBeUndefined();
  });

  test.each([
    ['twilio', true],
    ['twilio_verify', true],
    ['messagebird', false],
    ['textlocal', false],
    ['vonage', false],
  ] as const)('%s carries WhatsApp: %s (as GoTrue allows)', (name, whatsapp) => {
    expect(createSmsProvider(settings(name))?.supports('whatsapp')).toBe(whatsapp);
    expect(createSmsProvider(settings(name))?.supports('sms')).toBe(true);
  });
});

describe('refusals become SmsSendError with what the provider said', () => {
  test.each<[SmsSettings['provider'], Parameters<SmsProviderServer['answerWith']>[0], RegExp]>([
    [
      'twilio',
      () => ({
        status: 401,
        json: { code: 20003, message: 'Authenticate', more_info: 'https://t/20003', status: 401 },
      }),
      /^Authenticate More information: https:\/\/t\/20003$/,
    ],
    [
      'twilio',
      () => ({ status: 201, json: { sid: 'SM1', status: 'undelivered', error_code: 30005 } }),
      /undelivered|30005/,
    ],
    [
      'twilio_verify',
      () => ({ status: 429, json: { code: 60203, message: 'Max send attempts reached', more_info: 'm' } }),
      /Max send attempts reached/,
    ],
    [
      'messagebird',
      () => ({ status: 422, json: { errors: [{ code: 9, description: 'no (correct) recipients found' }] } }),
      /^no \(correct\) recipients found$/,
    ],
    [
      'messagebird',
      () => ({ status: 201, json: { id: 'x', recipients: { totalSentCount: 0 } } }),
      /total sent count is 0/,
    ],
    [
      'vonage',
      () => ({ status: 200, json: { messages: [{ status: '4', 'error-text': 'Bad Credentials', 'message-id': '' }] } }),
      /^vonage error: Bad Credentials \(status: 4\)/,
    ],
    ['vonage', () => ({ status: 200, json: { messages: [] } }), /Internal Error/],
    [
      'textlocal',
      () => ({ status: 200, json: { status: 'failure', errors: [{ code: 80, message: 'Invalid template' }] } }),
      /^textlocal error: Invalid template \(code: 80\) template message: Your code is 123456$/,
    ],
    ['textlocal', () => ({ status: 502, text: '<html>Bad gateway</html>' }), /without a status/],
    ['twilio', () => 'hang', /no answer within 300 ms/],
  ])('%s refusal %#', async (name, answer, expected) => {
    api.answerWith(answer);
    const sent = createSmsProvider(settings(name))?.send(message);
    await expect(sent).rejects.toBeInstanceOf(SmsSendError);
    await expect(sent).rejects.toThrow(expected);
  });

  test('an unreachable provider', async () => {
    const sent = createSmsProvider(settings('twilio', 'http://127.0.0.1:9'))?.send(message);
    await expect(sent).rejects.toThrow('the provider could not be reached');
  });
});
