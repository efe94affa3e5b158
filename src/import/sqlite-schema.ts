/** What the reader learns of a SQLite database and what the planner makes of it: the shared types. */
import type { ColumnProfile } from './sqlite-profile.js';
import type { Conversion } from './sqlite-types.js';

export interface SqliteColumn {
  readonly name: string;
  readonly declared: string;
  readonly notNull: boolean;
  /** The DEFAULT expression as SQLite keeps its text, or null. */
  readonly defaultSql: string | null;
  /** 1-based position in the primary key, 0 when not part of it. */
  readonly pk: number;
  /** A generated column (PRAGMA table_xinfo hidden 2 or 3). */
  readonly generated: boolean;
}

export interface SqliteForeignKey {
  readonly table: string;
  readonly from: readonly string[];
  /** Empty when the REFERENCES named only the table (its primary key). */
  readonly to: readonly string[];
  readonly onUpdate: string;
  readonly onDelete: string;
}

export interface SqliteIndex {
  readonly name: string;
  readonly unique: boolean;
  /** 'c' CREATE INDEX, 'u' a UNIQUE constraint, 'pk' the PRIMARY KEY. */
  readonly origin: 'c' | 'u' | 'pk';
  /** null name: an expression (or the rowid) in the index. */
  readonly columns: readonly { readonly name: string | null; readonly desc: boolean; readonly collation: string }[];
  readonly sql: string | null;
  readonly partial: boolean;
}

export interface SqliteTable {
  readonly name: string;
  readonly sql: string;
  readonly withoutRowid: boolean;
  readonly autoincrement: boolean;
  /** AUTOINCREMENT's high-water mark (sqlite_sequence): ids up to it were handed out, even if deleted. */
  readonly sequence?: bigint;
  readonly columns: readonly SqliteColumn[];
  readonly foreignKeys: readonly SqliteForeignKey[];
  readonly indexes: readonly SqliteIndex[];
  readonly rowCount: number;
  readonly profiles: ReadonlyMap<string, ColumnProfile>;
}

export interface SqliteSchema {
  readonly tables: readonly SqliteTable[];
  /** Tables, views and triggers not imported, each with the reason. */
  readonly skipped: readonly { readonly name: string; readonly reason: string; readonly internal?: boolean }[];
}

export interface UsersOptions {
  readonly table: string;
  readonly emailColumn: string;
  readonly passwordColumn: string;
  readonly idColumn: string;
}

export interface Note {
  readonly level: 'info' | 'warn';
  readonly table?: string;
  readonly message: string;
}

export interface ColumnPlan {
  readonly source: string;
  readonly name: string;
  readonly type: string;
  readonly convert: Conversion;
  /** Every value already reaches COPY as it should: no conversion call per value. */
  readonly passThrough: boolean;
  readonly reason: string;
  readonly definition: string;
}

/** A statement run after the data; when it fails the import goes on without it and says so. */
export interface OptionalStep {
  readonly sql: string;
  readonly what: string;
}

export interface UsersPlan {
  readonly emailColumn: string;
  readonly passwordColumn: string;
  readonly idColumn: string;
  /** 'uuid': auth.users.id is the row's id; 'integer': new uuids in a link column. */
  readonly mode: 'uuid' | 'integer';
  readonly linkColumn?: string;
  readonly createdAtColumn?: string;
}

export interface TablePlan {
  readonly source: string;
  readonly name: string;
  readonly columns: readonly ColumnPlan[];
  /** The SQLite columns `select` reads, in its order (the users password column is read, never written). */
  readonly readColumns: readonly string[];
  readonly create: string;
  /** PRIMARY KEY, identity sequence, uniques: these must hold, or the table fails. */
  readonly required: readonly string[];
  /** Indexes and CHECKs: dropped with a warning when PostgreSQL refuses them. */
  readonly optional: readonly OptionalStep[];
  readonly foreignKeys: readonly OptionalStep[];
  readonly security: readonly string[];
  readonly policyHint: string;
  readonly rowCount: number;
  /** Integers must be read as bigint (beyond 2^53, or written as text): slower, so only when needed. */
  readonly safeIntegers: boolean;
  /** The SQLite SELECT that reads the rows, in a stable order (rowid or primary key). */
  readonly select: string;
  /** The SQLite SELECT that names the n-th row (OFFSET ?), to map a COPY line back to a row. */
  readonly selectKey: string;
  readonly users?: UsersPlan;
}

export interface ImportPlan {
  readonly schema: string;
  readonly tables: readonly TablePlan[];
  readonly notes: readonly Note[];
}

/** What planning one table needs to know of the others. */
export interface TableContext {
  readonly schema: string;
  readonly users: UsersPlan | undefined;
  readonly usersTable: string | undefined;
  readonly usersMode: 'uuid' | 'integer' | undefined;
  /** The users table's link column to auth.users (integer ids). */
  readonly usersLink: string | undefined;
  readonly uuidColumns: ReadonlySet<string>;
  readonly imported: ReadonlySet<string>;
  readonly tables: readonly SqliteTable[];
  readonly notes: Note[];
}
