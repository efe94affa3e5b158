/**
 * A Trellis the user runs, named by `--target`: one instance, several (their URLs, between which
 * the virtual users are spread, as seed 004's client spreads its calls), or several behind one
 * load balancer (`--instances N`). Its keys come from the user or from its JWT secret.
 */
import { FatalError } from '../errors.js';
import { signApiKeys } from '../project/secrets.js';
import type { ProcessSample, Target } from './target.js';

export interface RemoteOptions {
  /** Base URLs, without a trailing slash. */
  readonly urls: readonly string[];
  /** Instances behind the single URL (a load balancer); undefined: one per URL. */
  readonly instances: number | undefined;
  readonly jwtSecret: string | undefined;
  readonly anonKey: string | undefined;
  readonly serviceRoleKey: string | undefined;
  readonly dbUrl: string | undefined;
}

/** The statement's subject for these URLs. Pure. */
export function targetSubject(urls: readonly string[], instances: number | undefined): string {
  if (urls.length > 1) return `${urls.length} instances at ${urls.join(', ')}`;
  if (instances !== undefined && instances > 1) return `${instances} instances behind ${urls[0]}`;
  return `the Trellis at ${urls[0]}`;
}

export async function remoteTarget(options: RemoteOptions): Promise<Target> {
  const { urls } = options;
  for (const url of urls) {
    const health = await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (health !== 200)
      throw new FatalError(`no Trellis answers at ${url} (GET /health gave ${health || 'no answer'})`, '--target');
  }
  const signed = options.jwtSecret ? await signApiKeys(options.jwtSecret) : undefined;
  const anonKey = options.anonKey ?? signed?.anonKey;
  const serviceRoleKey = options.serviceRoleKey ?? signed?.serviceRoleKey;
  if (!anonKey || !serviceRoleKey)
    throw new FatalError(
      '--target needs the anon and service_role keys (--anon-key and --service-role-key, or ANON_KEY and SERVICE_ROLE_KEY) or the JWT secret they are signed with (--jwt-secret or JWT_SECRET)',
      '--target',
    );
  for (const url of urls) await checkKeys(url, anonKey, serviceRoleKey);
  const instances = options.instances ?? urls.length;
  // Behind a load balancer, /metrics answers for whichever instance the request lands on.
  const sampled = instances === urls.length;
  return {
    url: urls[0] ?? '',
    urls,
    instances,
    subject: targetSubject(urls, options.instances),
    anonKey,
    serviceRoleKey,
    jwtSecret: options.jwtSecret,
    dbUrl: options.dbUrl,
    sample: async () => (sampled ? sampleInstances(urls, serviceRoleKey) : undefined),
    close: async () => undefined,
  };
}

/** A wrong key would turn every request of the run into an error: refuse it before the run. */
async function checkKeys(url: string, anonKey: string, serviceRoleKey: string): Promise<void> {
  const status = async (path: string, key: string) =>
    fetch(`${url}${path}`, { headers: { apikey: key, authorization: `Bearer ${key}` } }).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status;
      },
      () => 0,
    );
  const anon = await status('/auth/v1/settings', anonKey);
  if (anon !== 200)
    throw new FatalError(`${url} refused the anon key (GET /auth/v1/settings gave ${anon})`, '--anon-key');
  const admin = await status('/auth/v1/admin/users?per_page=1', serviceRoleKey);
  if (admin !== 200)
    throw new FatalError(
      `${url} refused the service_role key (GET /auth/v1/admin/users gave ${admin})`,
      '--service-role-key',
    );
}

/** CPU seconds and resident memory of every instance, from their /metrics; undefined if one fails. */
async function sampleInstances(urls: readonly string[], serviceRoleKey: string): Promise<ProcessSample | undefined> {
  const samples = await Promise.all(
    urls.map(async (url) => {
      try {
        const response = await fetch(`${url}/metrics`, { headers: { apikey: serviceRoleKey } });
        return response.ok ? parseMetrics(await response.text()) : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  if (samples.some((s) => s === undefined)) return undefined;
  return samples.reduce<ProcessSample>(
    (sum, s) => ({ cpuSeconds: sum.cpuSeconds + (s?.cpuSeconds ?? 0), rssBytes: sum.rssBytes + (s?.rssBytes ?? 0) }),
    { cpuSeconds: 0, rssBytes: 0 },
  );
}

/** prom-client's default process metrics, read from the Prometheus text format. Pure. */
export function parseMetrics(text: string): ProcessSample | undefined {
  const value = (name: string) => {
    const line = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    return line ? Number(line[1]) : NaN;
  };
  const cpuSeconds = value('process_cpu_seconds_total');
  const rssBytes = value('process_resident_memory_bytes');
  return Number.isFinite(cpuSeconds) && Number.isFinite(rssBytes) ? { cpuSeconds, rssBytes } : undefined;
}
