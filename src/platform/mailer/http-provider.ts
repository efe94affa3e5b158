/** A mail provider reached over its HTTP API (http-apis.ts) with fetch, within a time limit. */
import type { MailProviderConfig } from '../../config/mail-providers.js';
import { errorMessage } from '../../errors.js';
import { buildApiRequest, classifyStatus, messageIdOf } from './http-apis.js';
import type { MailProvider } from './mailer.js';

export function createHttpProvider(config: MailProviderConfig, timeoutMs = 15_000): MailProvider {
  return {
    name: config.name,
    kind: config.kind,
    from: config.from,
    dailyQuota: config.dailyQuota,
    monthlyQuota: config.monthlyQuota,
    async send(mail) {
      const request = buildApiRequest(config, mail);
      let response: Response;
      try {
        response = await fetch(request.url, {
          method: 'POST',
          headers: request.headers,
          body: request.body,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        return { kind: 'down', error: `${config.name}: ${errorMessage(err)}` };
      }
      const text = await response.text().catch(() => '');
      const outcome = classifyStatus(response.status);
      if (outcome === 'sent') {
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = undefined;
        }
        return { kind: 'sent', messageId: messageIdOf(config.kind, response.headers, body) };
      }
      return { kind: outcome, error: `${config.name} answered ${response.status}: ${text.slice(0, 300)}` };
    },
    close: async () => undefined,
  };
}
