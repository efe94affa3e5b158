/**
 * The provider router (seed 004's EmailRouter, done properly): providers in priority order, each
 * with its own daily and monthly quota counted in PostgreSQL (shared by every instance, UTC
 * windows) and its health (a failing provider is skipped for a growing backoff). A mail goes to the
 * first healthy provider with room; a failure moves on to the next. When every quota is spent the
 * answer is `deferred` until the first window that reopens, so the caller can wait instead of drop.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../logger.js';
import type { MailProvider, MailRouter } from './mailer.js';
import { quotaWindows, unhealthyFor } from './windows.js';

export interface MailRouterOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly providers: readonly MailProvider[];
  /** The clock of quota windows and health (a test moves it). */
  readonly now?: () => Date;
  /** The first rest of a failed provider (doubling per failure in a row, at most 10 min). */
  readonly unhealthyMs?: number;
  /** Where trellis_mail_sent_total and trellis_mail_quota_remaining go. */
  readonly registry?: Registry;
}

export function createMailRouter(options: MailRouterOptions): MailRouter {
  const { db, log, providers } = options;
  const now = options.now ?? (() => new Date());
  const sent = options.registry
    ? new Counter({
        name: 'trellis_mail_sent_total',
        help: 'Mails handed to a provider, by provider and outcome (sent, rejected, down; deferred: every quota spent).',
        labelNames: ['provider', 'outcome'] as const,
        registers: [options.registry],
      })
    : undefined;
  if (options.registry) registerQuotaGauge(options.registry, db, log, providers, now);
  const count = (provider: string, outcome: string) => sent?.inc({ provider, outcome });

  const markDown = async (provider: string, error: string, at: Date) => {
    const { rows } = await db.query<{ failures: number }>(
      `insert into trellis.mail_provider_health (provider, failures, last_error, updated_at)
       values ($1, 1, $2, $3) on conflict (provider) do update
         set failures = mail_provider_health.failures + 1, last_error = $2, updated_at = $3
       returning failures`,
      [provider, error.slice(0, 1000), at],
    );
    const failures = rows[0]?.failures ?? 1;
    const until = new Date(at.getTime() + unhealthyFor(failures, options.unhealthyMs));
    await db.query('update trellis.mail_provider_health set unhealthy_until = $2 where provider = $1', [
      provider,
      until,
    ]);
    log.warn({ provider, failures, until }, `mail provider ${provider} is down until ${until.toISOString()}: ${error}`);
    return until;
  };
  const markUp = (provider: string, at: Date) =>
    db.query(
      `update trellis.mail_provider_health set failures = 0, unhealthy_until = null, updated_at = $2
        where provider = $1 and failures > 0`,
      [provider, at],
    );

  return {
    providers,
    async send(mail) {
      const at = now();
      const w = quotaWindows(at);
      const { rows: health } = await db.query<{ provider: string; unhealthy_until: Date | null }>(
        'select provider, unhealthy_until from trellis.mail_provider_health where provider = any($1)',
        [providers.map((p) => p.name)],
      );
      const restingUntil = new Map(health.map((h) => [h.provider, h.unhealthy_until]));
      const problems: string[] = [];
      let reopens: Date | undefined;
      let anyDown = false;
      /** The first moment a resting or failed provider may be tried again. */
      let upAgain: Date | undefined;
      const restsUntil = (until: Date) => {
        anyDown = true;
        if (!upAgain || until < upAgain) upAgain = until;
      };
      for (const provider of providers) {
        const resting = restingUntil.get(provider.name);
        if (resting && resting.getTime() > at.getTime()) {
          restsUntil(resting);
          problems.push(`${provider.name} is resting until ${resting.toISOString()}`);
          continue;
        }
        const { rows } = await db.query<{ took: string }>(
          'select trellis.mail_take_quota($1, $2, $3, $4, $5) as took',
          [provider.name, w.day, w.month, provider.dailyQuota ?? null, provider.monthlyQuota ?? null],
        );
        const took = rows[0]?.took;
        if (took !== 'ok') {
          const opens = took === 'month' ? w.nextMonth : w.nextDay;
          if (!reopens || opens < reopens) reopens = opens;
          problems.push(`${provider.name}'s ${took === 'month' ? 'monthly' : 'daily'} quota is spent`);
          continue;
        }
        let outcome;
        try {
          outcome = await provider.send(provider.from ? { ...mail, from: provider.from } : mail);
        } catch (err) {
          outcome = { kind: 'down', error: `${provider.name}: ${errorMessage(err)}` } as const;
        }
        if (outcome.kind === 'sent') {
          count(provider.name, 'sent');
          await markUp(provider.name, at);
          return { kind: 'sent', provider: provider.name, messageId: outcome.messageId };
        }
        await db.query('select trellis.mail_return_quota($1, $2, $3)', [provider.name, w.day, w.month]);
        count(provider.name, outcome.kind);
        if (outcome.kind === 'rejected') return { kind: 'rejected', provider: provider.name, error: outcome.error };
        problems.push(outcome.error);
        restsUntil(await markDown(provider.name, outcome.error, at));
      }
      const error = problems.join('; ') || 'no mail provider is configured';
      if (anyDown || !reopens)
        return {
          kind: 'down',
          error,
          retryAt: upAgain ?? new Date(at.getTime() + unhealthyFor(1, options.unhealthyMs)),
        };
      count('none', 'deferred');
      return { kind: 'deferred', until: reopens, error };
    },
    async close() {
      await Promise.allSettled(providers.map((p) => p.close()));
    },
  };
}

/** trellis_mail_quota_remaining{provider,period}: read from PostgreSQL at each scrape (every instance agrees). */
function registerQuotaGauge(
  registry: Registry,
  db: Db,
  log: Logger,
  providers: readonly MailProvider[],
  now: () => Date,
): void {
  new Gauge({
    name: 'trellis_mail_quota_remaining',
    help: 'Mails a provider may still send in the current UTC day or month (providers with that quota only).',
    labelNames: ['provider', 'period'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const w = quotaWindows(now());
      try {
        const { rows } = await db.query<{ provider: string; period: string; used: number }>(
          `select provider, period, used from trellis.mail_quota_usage
            where (period = 'day' and window_start = $1) or (period = 'month' and window_start = $2)`,
          [w.day, w.month],
        );
        const used = (name: string, period: string) =>
          rows.find((r) => r.provider === name && r.period === period)?.used ?? 0;
        for (const p of providers) {
          if (p.dailyQuota !== undefined)
            this.set({ provider: p.name, period: 'day' }, Math.max(0, p.dailyQuota - used(p.name, 'day')));
          if (p.monthlyQuota !== undefined)
            this.set({ provider: p.name, period: 'month' }, Math.max(0, p.monthlyQuota - used(p.name, 'month')));
        }
      } catch (err) {
        log.debug(`mail quota metrics: ${errorMessage(err)}`);
      }
    },
  });
}
