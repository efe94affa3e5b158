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
