/**
 * Unhandled errors reported to Sentry (or any server speaking its protocol) when SENTRY_DSN is
 * set (docs/observability.md): what renderError answers with a 500, and uncaught exceptions and
 * unhandled rejections of the process. @sentry/node is loaded only then, without its automatic
 * instrumentation (Trellis's own tracing is OpenTelemetry's, platform/tracing.ts).
 */
import type { Logger } from './logger.js';

export interface ErrorReportSettings {
  /** SENTRY_DSN. */
  readonly dsn: string | undefined;
  /** SENTRY_ENVIRONMENT. */
  readonly environment: string;
}

export interface ErrorReports {
  /** Sends what is queued (at most `timeoutMs`). */
  close(timeoutMs: number): Promise<void>;
}

type Capture = (err: unknown, tags: Readonly<Record<string, string>>) => void;

let capture: Capture | undefined;

export async function startErrorReports(settings: ErrorReportSettings, log: Logger): Promise<ErrorReports | undefined> {
  if (settings.dsn === undefined) return undefined;
  const Sentry = await import('@sentry/node');
  Sentry.init({
    dsn: settings.dsn,
    environment: settings.environment,
    enableOpenTelemetrySetup: false,
    enableRuntimeChannelInjection: false,
    defaultIntegrations: false,
    integrations: [Sentry.onUncaughtExceptionIntegration(), Sentry.onUnhandledRejectionIntegration({ mode: 'warn' })],
    tracesSampleRate: 0,
  });
  capture = (err, tags) => void Sentry.captureException(err, { tags: { ...tags } });
  log.info('error reports: unhandled errors go to SENTRY_DSN');
  return {
    async close(timeoutMs) {
      capture = undefined;
      await Sentry.close(timeoutMs);
    },
  };
}

/** Reports an unhandled error (a bug), tagged with what identifies its request; nothing without SENTRY_DSN. */
export function reportError(err: unknown, tags: Readonly<Record<string, string>>): void {
  capture?.(err, tags);
}
