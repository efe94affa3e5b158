/**
 * What to do with each classified statement of a Supabase dump: run it, try it (in a savepoint,
 * skipped with the server's reason if it fails), skip it with a reason, or stage its rows for one
 * of Trellis's own tables. Pure: the target's roles, extensions and settings come in `PlanContext`.
 */
import { ident, PROVIDED_EXTENSIONS } from '../db/index.js';
import type { Classified, QualifiedName } from './pg-dump-classify.js';

/** Schemas Trellis owns: their DDL is Trellis's, a dump's version of it is skipped. */
export const TRELLIS_SCHEMAS = [
  'auth',
  'storage',
  'realtime',
  'extensions',
  'supabase_migrations',
  // pg_cron's, pgmq's and pg_net's surfaces (src/sql), and the job runner's tables (pg-boss).
  'cron',
  'pgmq',
  'pgmq_public',
  'net',
  'supabase_functions',
  'pgboss',
];
/** Schemas of Supabase's platform and its extensions, which Trellis does not have. */
export const SUPABASE_SCHEMAS = [
  'graphql',
  'graphql_public',
  'vault',
  'pgsodium',
  'pgsodium_masks',
  '_realtime',
  '_analytics',
  '_supavisor',
  'pgbouncer',
  'pgtle',
  'etl',
  'repack',
  'dbdev',
];

/** Rows of these tables go into Trellis's tables of the same name, by column intersection. */
export const MAPPED_TABLES = [
  'auth.users',
  'auth.identities',
  'auth.mfa_factors',
  'storage.buckets',
  'storage.objects',
  // Only the versions the project has files for (marked applied, so they are not run again).
  'supabase_migrations.schema_migrations',
] as const;
export type MappedTable = (typeof MAPPED_TABLES)[number];

/** Tables of Trellis's schemas whose policies are a project's own (Supabase leaves them to the user). */
const USER_POLICY_TABLES = new Set(['storage.objects', 'storage.buckets', 'realtime.messages']);

export interface PlanContext {
  readonly roles: ReadonlySet<string>;
  readonly extensions: ReadonlySet<string>;
  readonly settings: ReadonlySet<string>;
  readonly currentUser: string;
}

export type Decision =
  | { readonly action: 'run'; readonly sql?: string; readonly mapped?: string }
  | { readonly action: 'try'; readonly sql?: string; readonly mapped?: string }
  | { readonly action: 'skip'; readonly reason: string; readonly mapped?: boolean }
  | { readonly action: 'stage'; readonly table: MappedTable }
  /** Rows of a table Trellis does not keep: read past and counted. */
  | { readonly action: 'skip-data'; readonly reason: string };

export function managedReason(schema: string | undefined): string | undefined {
  if (schema === undefined) return undefined;
  if (TRELLIS_SCHEMAS.includes(schema)) return `schema ${schema} is Trellis's own`;
  if (schema === 'pg_catalog' || schema === 'information_schema' || schema === 'pg_toast')
    return `${schema} is the server's system catalog`;
  if (SUPABASE_SCHEMAS.includes(schema) || schema.startsWith('pg_'))
    return `schema ${schema} belongs to Supabase's platform, not to Trellis`;
  return undefined;
}

const key = (q: QualifiedName | undefined) => (q ? `${q.schema ?? 'public'}.${q.name}` : '');

export function decide(c: Classified, ctx: PlanContext): Decision {
  const managed = managedReason(c.target?.schema);
  switch (c.kind) {
    case 'SET': {
      const name = c.target?.name ?? '';
      if (name === 'client_encoding' && !/^'?(utf8|utf-8|sql_ascii)'?$/i.test(c.option ?? ''))
        return { action: 'skip', reason: 'not UTF8: dump again with pg_dump --encoding=UTF8' };
      if (!ctx.settings.has(name) && !name.includes('.'))
        return { action: 'skip', reason: `setting ${name} is unknown to this PostgreSQL server` };
      // A superuser-only setting (session_replication_role) is tried: refused, the import goes on.
      return { action: 'try' };
    }
    case 'SET ROLE':
      return { action: 'skip', reason: 'the import runs as the connecting user' };
    case 'RESET':
    case 'SELECT SET_CONFIG':
    case 'DO':
      return { action: 'run' };
    case 'SELECT SETVAL':
      return managed ? { action: 'skip', reason: `a sequence of ${managed}` } : { action: 'run' };
    case 'SELECT':
      return { action: 'run' };
    case 'TRANSACTION':
      return { action: 'skip', reason: 'the whole import is one transaction' };
    case 'SECURITY LABEL':
      return { action: 'skip', reason: 'security labels belong to pgsodium, which Trellis does not have' };
    case 'CREATE DATABASE':
    case 'ALTER DATABASE':
    case 'COMMENT ON DATABASE':
    case 'GRANT ON DATABASE':
    case 'REVOKE ON DATABASE':
      return { action: 'skip', reason: 'the import goes into the connected database' };
    case 'CREATE ROLE':
    case 'ALTER ROLE':
    case 'CREATE USER':
    case 'ALTER USER':
    case 'CREATE GROUP':
    case 'DROP ROLE':
    case 'GRANT ROLE':
    case 'REVOKE ROLE':
      return {
        action: 'skip',
        reason: "roles are the server's, not the dump's (Trellis has anon, authenticated, service_role)",
      };
    case 'DROP EXTENSION':
      return { action: 'skip', reason: 'extensions are the server’s: a --clean dump’s DROP EXTENSION is not run' };
    case 'DROP PUBLICATION':
      if (c.target?.name === 'supabase_realtime')
        return { action: 'skip', reason: 'Trellis has its own supabase_realtime publication' };
      return { action: 'run' };
    case 'DROP SCHEMA':
      if (c.target?.name === 'public')
        return { action: 'skip', reason: 'schema public keeps Trellis’s grants and default privileges' };
      return managed ? { action: 'skip', reason: managed } : { action: 'run' };
    case 'DROP EVENT TRIGGER':
    case 'DROP DATABASE':
      return { action: 'skip', reason: 'a --clean dump drops what this server does not have' };
    case 'CREATE TABLESPACE':
      return { action: 'skip', reason: 'tablespaces are the server’s' };
    case 'CREATE EXTENSION': {
      const name = c.target?.name ?? '';
      if (Object.hasOwn(PROVIDED_EXTENSIONS, name))
        return {
          action: 'skip',
          reason: `Trellis provides ${name}'s SQL surface itself (${PROVIDED_EXTENSIONS[name]})`,
        };
      if (!ctx.extensions.has(name))
        return { action: 'skip', reason: `extension ${name} is not available on this server` };
      return { action: 'try', sql: createExtension(name, c.option) };
    }
    case 'ALTER EXTENSION':
    case 'COMMENT ON EXTENSION':
      return { action: 'skip', reason: 'extensions are created as this server has them' };
    case 'CREATE EVENT TRIGGER': {
      const fn = managedReason(c.function?.schema);
      if (fn)
        return {
          action: 'skip',
          reason: `Supabase's own event trigger (its function is in ${fn.replace('schema ', '')})`,
        };
      return { action: 'try' };
    }
    case 'ALTER EVENT TRIGGER':
      return c.ownerTo !== undefined ? ownerSkip(c, ctx) : { action: 'try' };
    case 'COMMENT ON EVENT TRIGGER':
      return { action: 'try' };
    case 'CREATE PUBLICATION':
      if (c.target?.name === 'supabase_realtime')
        return { action: 'skip', reason: 'Trellis has its own supabase_realtime publication', mapped: true };
      if (c.target?.name.startsWith('supabase_realtime_'))
        return { action: 'skip', reason: 'Supabase Realtime’s own publication' };
      return { action: 'try' };
    case 'ALTER PUBLICATION': {
      if (c.ownerTo !== undefined) return ownerSkip(c, ctx);
      if (c.target?.name.startsWith('supabase_realtime_'))
        return { action: 'skip', reason: 'Supabase Realtime’s own publication' };
      if (c.tables) {
        const theirs = c.tables.filter((t) => managedReason(t.schema) !== undefined);
        if (theirs.length > 0) return { action: 'skip', reason: `${theirs.map(key).join(', ')}: Trellis's own tables` };
        return {
          action: 'try',
          mapped: c.target?.name === 'supabase_realtime' ? 'into Trellis’s publication' : undefined,
        };
      }
      return { action: 'try' };
    }
    case 'CREATE SCHEMA': {
      if (managed) return { action: 'skip', reason: managed };
      const missing = (c.roles ?? []).filter((r) => !ctx.roles.has(r));
      const name = c.target?.name ?? '';
      // Owned by the connecting user instead of a role this server lacks; IF NOT EXISTS for public.
      if (missing.length > 0 || name === 'public')
        return { action: 'run', sql: `create schema if not exists ${ident(name)}`, mapped: ownerNote(missing, ctx) };
      return { action: 'run' };
    }
    case 'CREATE POLICY': {
      if (managed && !USER_POLICY_TABLES.has(key(c.target))) return { action: 'skip', reason: managed };
      const missing = (c.roles ?? []).filter((r) => r !== 'public' && !ctx.roles.has(r));
      if (missing.length > 0) return { action: 'skip', reason: `names roles this server lacks: ${missing.join(', ')}` };
      return { action: 'run' };
    }
    case 'CREATE TRIGGER': {
      // A project's own trigger on auth.users (a profile per sign-up) is kept; Supabase's are not.
      if (managed && managedReason(c.function?.schema) !== undefined) return { action: 'skip', reason: managed };
      return { action: 'run' };
    }
    case 'GRANT':
    case 'REVOKE':
    case 'ALTER DEFAULT PRIVILEGES':
    case 'GRANT ON LANGUAGE':
    case 'REVOKE ON LANGUAGE': {
      if (managed) return { action: 'skip', reason: managed };
      const missing = (c.roles ?? []).filter((r) => r !== 'public' && !ctx.roles.has(r));
      if (missing.length > 0) return { action: 'skip', reason: `names roles this server lacks: ${missing.join(', ')}` };
      // Default privileges FOR ROLE another role need membership in it; languages, ownership.
      return { action: c.kind === 'GRANT' || c.kind === 'REVOKE' ? 'run' : 'try' };
    }
    case 'COPY':
    case 'INSERT': {
      const table = key(c.target);
      if ((MAPPED_TABLES as readonly string[]).includes(table)) return { action: 'stage', table: table as MappedTable };
      if (managed) return { action: 'skip-data', reason: tableDataReason(table, managed) };
      return { action: 'run' };
    }
  }
  if (c.ownerTo !== undefined) return managed ? { action: 'skip', reason: managed } : ownerSkip(c, ctx);
  if (c.kind.startsWith('ALTER TABLE') && managed && USER_POLICY_TABLES.has(key(c.target)))
    return { action: 'skip', reason: 'row level security on Trellis’s own tables is already set' };
  if (managed) return { action: 'skip', reason: managed };
  if (c.kind.startsWith('COMMENT ON')) return { action: 'try' };
  if (/FOREIGN DATA|SERVER|USER MAPPING|FOREIGN TABLE/.test(c.kind)) return { action: 'try' };
  return { action: 'run' };
}

function ownerSkip(c: Classified, ctx: PlanContext): Decision {
  void c;
  return {
    action: 'skip',
    reason: `owner → ${ctx.currentUser} (the connecting user owns what it creates)`,
    mapped: true,
  };
}

function ownerNote(missing: readonly string[], ctx: PlanContext): string | undefined {
  return missing.length > 0 ? `authorization ${missing.join(', ')} → ${ctx.currentUser}` : undefined;
}

function tableDataReason(table: string, managed: string): string {
  if (table.startsWith('auth.'))
    return 'sessions, tokens and logs are not carried over (users sign in again); users and identities are';
  return managed;
}

function createExtension(name: string, schema: string | undefined): string {
  // Supabase puts extensions in `extensions`; a schema the dump names and this server lacks is
  // replaced by it when the statement runs (pg-dump-exec.ts).
  return `create extension if not exists ${ident(name)}${schema ? ` with schema ${ident(schema)}` : ''}`;
}
