/** What a workload of `trellis bench` is: its description, its schema, and its virtual users. */
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
  prepare(target: Target): Promise<PreparedScenario>;
}

export interface PreparedScenario {
  user(index: number): Promise<VirtualUser>;
  /** The same operations done by the floor; undefined when it cannot run (no database URL). */
  readonly floorUser: ((index: number) => Promise<VirtualUser>) | undefined;
  /** What the floor is, for the report. */
  readonly floorDescription: string;
  /** The same operations on a peer (Socket.IO for realtime), when the scenario has one. */
  readonly peerUser?: ((index: number) => Promise<VirtualUser>) | undefined;
  readonly peerDescription?: string;
  close(): Promise<void>;
}
