/**
 * What a workload of `trellis bench` is: its description, its schema, and its virtual users. It is
 * set up in two places: `prepare` once in the harness (seeding the target, starting the floor),
 * and `clients` in every load generator (a child process), from what `prepare` shared as JSON.
 */
import type { VirtualUser } from '../runner.js';
import type { Target } from '../target.js';

export interface Scenario {
  readonly name: string;
  /** The workload in one line, for the report. */
  readonly description: string;
  /** The capacity statement's noun: "concurrent <users>". */
  readonly users: string;
  /** SQL the target must have applied; a local run uses it as the project's migration. */
  readonly schema: string | undefined;
  /** Settings of a local run (rate limits a load test would trip). */
  readonly serverEnv: Readonly<Record<string, string>>;
  /** Operations a user receives rather than makes (deliveries): not counted as its calls. */
  readonly received?: readonly string[];
  /** Whether its users' tokens are signed here, so a --target run needs the JWT secret. */
  readonly signsTokens: boolean;
  /** Mean pause between a user's turns in the capacity search. */
  readonly thinkMs: number;
  /** In the harness: seeds the target and starts the floor. */
  prepare(target: Target): Promise<PreparedScenario>;
  /** In a load generator: makes the virtual users from what `prepare` shared. */
  clients(target: ClientTarget, shared: SharedSetup): Promise<ScenarioClients>;
}

/** What a generator knows of the target: the serialisable part of it. */
export type ClientTarget = Pick<
  Target,
  'url' | 'urls' | 'instances' | 'anonKey' | 'serviceRoleKey' | 'jwtSecret' | 'dbUrl'
>;

/** JSON a scenario's `prepare` hands its generators (run ids, room ids, the floor's URL). */
export type SharedSetup = Readonly<Record<string, unknown>>;

export interface PreparedScenario {
  readonly shared: SharedSetup;
  /** Whether the floor (and the peer) can run (the floor needs the database URL). */
  readonly hasFloor: boolean;
  readonly hasPeer: boolean;
  /** The floor's and the peer's server processes, when they run on this machine (for their CPU). */
  readonly floorPid?: number | undefined;
  readonly peerPid?: number | undefined;
  /** What the floor is, for the report. */
  readonly floorDescription: string;
  readonly peerDescription?: string;
  close(): Promise<void>;
}

export interface ScenarioClients {
  readonly user: (index: number) => Promise<VirtualUser>;
  /** The same operations done by the floor; undefined when it cannot run (no database URL). */
  readonly floorUser: ((index: number) => Promise<VirtualUser>) | undefined;
  /** The same operations on a peer (Socket.IO for realtime), when the scenario has one. */
  readonly peerUser?: ((index: number) => Promise<VirtualUser>) | undefined;
  close(): Promise<void>;
}

/** A field of the shared setup, checked: a generator given the wrong JSON fails with a message. */
export function sharedField<T>(shared: SharedSetup, key: string, is: (v: unknown) => v is T): T {
  const value = shared[key];
  if (!is(value)) throw new Error(`the load generator's setup has no valid "${key}"`);
  return value;
}

export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isString = (v: unknown): v is string => typeof v === 'string';
export const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNumber);
export const isOptionalString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';
