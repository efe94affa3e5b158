/** The ring of recent warnings and errors: what it keeps, in what order, and what it scrubs. */
import { describe, expect, test } from 'vitest';
import { createLogger, recentLogsOf } from '../../src/platform/logger.js';
import { RecentLogs, scrubText, scrubValue } from '../../src/platform/recent-logs.js';

const line = (level: number, msg: string, fields: Record<string, unknown> = {}, time = Date.now()) =>
  JSON.stringify({ level, time, pid: 1, hostname: 'h', msg, ...fields });

describe('scrubbing', () => {
  test.each([
    ['a JWT', 'token eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.abcdEFGH here', 'token [redacted jwt] here'],
    [
      'a password in a URL',
      'connect postgres://postgres:hunter2@db:5432/x failed',
      'connect postgres://postgres:[redacted]@db:5432/x failed',
    ],
    ['a webhook secret', 'secrets v1,whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNA==', 'secrets v1,whsec_[redacted]'],
    ['a bearer header', 'Authorization: Bearer abcdefgh12345678', 'Authorization: Bearer [redacted]'],
    ['plain text', 'cron job 3: bad schedule', 'cron job 3: bad schedule'],
  ])('%s', (_name, input, output) => expect(scrubText(input)).toBe(output));

  test('fields named like secrets are replaced, nested ones too', () => {
    expect(
      scrubValue({ password: 'p', nested: { clientSecret: 's', apikey: 'k', ok: 'fine' }, token: '', list: ['x'] }),
    ).toEqual({
      password: '[redacted]',
      nested: { clientSecret: '[redacted]', apikey: '[redacted]', ok: 'fine' },
      token: '',
      list: ['x'],
    });
  });
});

describe('the ring', () => {
  test('keeps warn and above, newest first, the last N only', () => {
    const ring = new RecentLogs(3);
    ring.write(line(30, 'info is not kept'));
    for (const n of [1, 2, 3, 4]) ring.write(line(n % 2 ? 40 : 50, `m${n}`));
    expect(ring.list().map((r) => r.msg)).toEqual(['m4', 'm3', 'm2']);
    expect(ring.list({ level: 'error' }).map((r) => r.msg)).toEqual(['m4', 'm2']);
    expect(ring.list({ text: 'M3' }).map((r) => r.level)).toEqual(['warn']);
    expect(ring.list({ limit: 1 })).toHaveLength(1);
  });
  test('filters by time', () => {
    const ring = new RecentLogs();
    ring.write(line(40, 'old', {}, Date.parse('2026-01-01T00:00:00Z')));
    ring.write(line(40, 'new', {}, Date.parse('2026-06-01T00:00:00Z')));
    expect(ring.list({ since: new Date('2026-03-01T00:00:00Z') }).map((r) => r.msg)).toEqual(['new']);
  });
  test("createLogger's logger feeds its ring even at LOG_LEVEL=silent, and not with info", () => {
    const log = createLogger({ level: 'silent', pretty: false });
    log.info('not kept');
    log.warn({ uri: 'http://u:pw@localhost/x', reqId: 'r1' }, 'something odd');
    const [record] = recentLogsOf(log)!.list();
    expect(record).toMatchObject({
      level: 'warn',
      msg: 'something odd',
      fields: { uri: 'http://u:[redacted]@localhost/x', reqId: 'r1' },
    });
    expect(recentLogsOf(log)!.list()).toHaveLength(1);
  });
});
