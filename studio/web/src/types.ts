/** The shapes /studio/api answers (docs/studio.md lists the endpoints). */
export interface TableSummary {
  schema: string;
  name: string;
  kind: string;
  rowsEstimate: number;
  rls: boolean;
  warning: string | null;
}
export interface TableList {
  schemas: string[];
  tables: TableSummary[];
}
export interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
}
export interface Definition {
  name: string;
  definition: string;
}
export interface Policy {
  name: string;
  command: string;
  roles: string[];
  using: string | null;
  check: string | null;
  /** What makes the policy slower than it needs to be (per-row calls); empty when nothing does. */
  advice: string[];
}
export interface TableDetail {
  schema: string;
  name: string;
  primaryKey: string[];
  columns: ColumnInfo[];
  indexes: Definition[];
  foreignKeys: Definition[];
  policies: Policy[];
  triggers: Definition[];
}
export type Row = Record<string, unknown>;
export interface RowPage {
  rows: Row[];
  total: number;
}
export interface Filter {
  column: string;
  op: string;
  value: string;
}

export interface SqlResult {
  command: string | null;
  rowCount: number | null;
  columns: string[];
  rows: unknown[][];
  plan?: string[];
  ms: number;
}

export interface User {
  id: string;
  email: string | null;
  phone: string | null;
  created_at: string;
  last_sign_in_at: string | null;
  banned_until: string | null;
  factors: number;
}
export interface UserPage {
  users: User[];
  total: number;
  page: number;
  perPage: number;
}
export interface Session {
  id: string;
  created_at: string;
  user_agent: string | null;
  ip: string | null;
}

export interface Bucket {
  id: string;
  name: string;
  public: boolean;
}
export interface StoredObject {
  name: string;
  id: string | null;
  metadata: { size?: number; mimetype?: string } | null;
}

export interface Metrics {
  at: number;
  requests: { total: number; byClass: Record<string, number> };
  errors: number;
  latency: { p50: number | null; p95: number | null; p99: number | null };
  buckets: { le: number | null; count: number }[];
  db: { inUse: number; idle: number; waiting: number };
  realtime: { connections: number; channels: number; messagesIn: number; messagesOut: number };
  process: { rssBytes: number; heapUsedBytes: number; uptimeSeconds: number };
  routes: { route: string; count: number }[];
}
export interface RequestRecord {
  at: number;
  method: string;
  path: string;
  route: string;
  status: number;
  ms: number;
  reqId: string;
}

export interface Migrations {
  applied: { version: string; name: string | null }[];
  pending: { version: string; name: string }[];
}
export interface Backup {
  id: string;
  complete: boolean;
  kind: string | null;
  label: string | null;
  stopTime: string | null;
  size: number | null;
  problem: string | null;
}
export interface Backups {
  where: string;
  backups: Backup[];
}

export interface LiveChannel {
  topic: string;
  private: boolean;
  sockets: number;
  presence: { keys: number; metas: number; entries: { key: string; metas: number }[] };
  postgresChanges: { schema: string; table: string | null; event: string; filter: string | null; count: number }[];
  broadcast: { self: boolean; ack: boolean; count: number }[];
  presenceEnabled: number;
}
export interface LiveChannels {
  scope: 'all' | 'instance';
  channels: LiveChannel[];
}

export type LogLevel = 'warn' | 'error' | 'fatal';
export interface LogRecord {
  time: string;
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}
export interface Logs {
  capacity: number;
  scope: 'instance';
  logs: LogRecord[];
}

export interface OperationSummary {
  op: string;
  count: number;
  errors: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  firstError?: string;
}
/** A saved `trellis bench` report: the server checks only `statement`, so the rest may be missing. */
export interface SavedBench {
  savedAt: string;
  command: string;
  report: {
    statement: string;
    scenario?: string;
    target?: string;
    instances?: number;
    machine?: string;
    budget?: { p99Ms: number; maxErrorRate: number };
    capacity?: number;
    atCapacity?: OperationSummary[];
  };
}

/** Where each setting of a section was found: an environment variable, a config.toml line, a flag, `default`. */
export type SetIn = Record<string, string>;
export interface AuthSettings {
  siteUrl: string;
  redirectUrls: string[];
  signup: { disabled: boolean; anonymous: boolean; manualLinking: boolean; setIn: SetIn };
  email: { enabled: boolean; autoconfirm: boolean; passwordMinLength: number; otpExpiry: number; setIn: SetIn };
  phone: {
    enabled: boolean;
    autoconfirm: boolean;
    provider: string | null;
    credentials: Record<string, string | null>;
    testNumbers: number;
    setIn: SetIn;
  };
  external: {
    id: string;
    enabled: boolean;
    clientId: string | null;
    clientIds: string[];
    secret: string | null;
    redirectUri: string | null;
    url: string | null;
    setIn: SetIn;
  }[];
  hooks: { name: string; enabled: boolean; kind: string | null; uri: string | null; secrets: number; setIn: SetIn }[];
  mfa: {
    maxEnrolledFactors: number;
    totp: { enroll: boolean; verify: boolean };
    phone: { enroll: boolean; verify: boolean };
    webauthn: { enroll: boolean; verify: boolean };
    passkeys: boolean;
    setIn: SetIn;
  };
  jwt: {
    expiry: number;
    signing: { alg: string | null; kid: string | null };
    keys: { kid: string | null; alg: string | null; kty: string }[];
    signingKeysPath: string | null;
    setIn: SetIn;
  };
}

export type JobState = 'running' | 'succeeded' | 'failed';
export interface Job {
  id: string;
  kind: string;
  subject: Record<string, string | null>;
  state: JobState;
  progress: { step: string | null; done: number; total: number; unit: string | null; notes: string[] };
  error: string | null;
  result: unknown;
  startedAt: string;
  finishedAt: string | null;
}

export interface Queue {
  name: string;
  depth: number;
  visible: number;
  oldestAgeSeconds: number | null;
  newestAgeSeconds: number | null;
  totalSent: string;
  createdAt: string;
  deadLetter: { queue: string; maxReads: number; moved: number; waiting: number } | null;
}
export interface Queues {
  queues: Queue[];
  deadJobs: { task: string; count: number; lastFailedAt: string }[];
}
export interface CronRun {
  id: number;
  status: string;
  returnMessage: string | null;
  startTime: string | null;
  endTime: string | null;
  scheduledAt: string | null;
}
export interface CronJob {
  id: number;
  name: string | null;
  schedule: string;
  command: string;
  username: string;
  active: boolean;
  lastRuns: CronRun[];
}
export interface Cron {
  schedulerEnabled: boolean;
  jobs: CronJob[];
}
