/** Test-only pieces for the change feed: an in-process bus, a recording subscriber, an embedded database. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startEmbedded, type EmbeddedDatabase } from '../../../src/db/embedded.js';
import { migrate } from '../../../src/db/migrate.js';
import type { Db } from '../../../src/db/pool.js';
import type { Bus } from '../../../src/platform/bus/index.js';
import type { JwtClaims } from '../../../src/platform/tokens.js';
import type {
  ChangeData,
  ChangeHub,
  ChangeSubscriber,
  ChangeSubscriptionRequest,
} from '../../../src/realtime/changes/contract.js';

export const silentLog = pino({ level: process.env.TEST_LOG ?? 'silent' });

/** The smallest Bus: synchronous fan-out within the process (stands in for memory or Redis). */
/** `published` counts the change batches (realtime:changes), not the cache's table notices. */
export function memoryBus(): Bus & { published: number } {
  const topics = new Map<string, Set<(m: Uint8Array | string) => void>>();
  const bus = {
    published: 0,
    async publish(topic: string, message: Uint8Array | string) {
      if (topic === 'realtime:changes') bus.published++;
      for (const fn of topics.get(topic) ?? []) fn(message);
    },
    subscribe(topic: string, fn: (m: Uint8Array | string) => void) {
      let set = topics.get(topic);
      if (!set) topics.set(topic, (set = new Set()));
      set.add(fn);
      return () => set.delete(fn);
    },
    shared: true,
    isHealthy: () => true,
    close: async () => undefined,
  };
  return bus;
}

export interface Recorder extends ChangeSubscriber {
  readonly received: { ids: readonly number[]; data: ChangeData }[];
}

export function recorder(claims: JwtClaims, requests: readonly ChangeSubscriptionRequest[]): Recorder {
  const received: Recorder['received'] = [];
  return {
    claims,
    subscriptions: requests.map((r, i) => ({ ...r, id: i + 1 })),
    received,
    deliver: (ids, data) => void received.push({ ids, data }),
  };
}

/** Subscribes a recorder to `hub`; throws the hub's refusal. */
export async function subscribeRecorder(hub: ChangeHub, ...args: Parameters<typeof recorder>) {
  const r = recorder(...args);
  const result = await hub.subscribe(r);
  if (!result.ok) throw new Error(result.message);
  return { ...r, unsubscribe: result.unsubscribe };
}

export async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An embedded PostgreSQL with wal_level=logical (the machine's server runs with replica). */
export async function logicalDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-changes-'));
  await fs.chmod(dataDir, 0o755);
  let embedded: EmbeddedDatabase;
  try {
    embedded = await startEmbedded({ dataDir, password: 'test-password-not-secret', onProgress: () => undefined });
  } catch (err) {
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: embedded.url,
    stop: async () => {
      await embedded.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Trellis's own schema plus one project migration. */
export async function migrateWith(db: Db, sql: string): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-changes-mig-'));
  await fs.writeFile(path.join(dir, '20240101000000_app.sql'), sql);
  try {
    await migrate(db, dir, { dryRun: false, onProgress: () => undefined });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
