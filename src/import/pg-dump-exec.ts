/**
 * Runs a dump's items in one transaction on one connection: each statement as pg-dump-plan.ts
 * decides, COPY blocks streamed, Supabase's auth/storage rows staged and moved into Trellis's
 * tables, object files copied. Any failure rolls everything back (and removes copied files) and
 * names the dump line. With dryRun nothing is executed: the catalogs are read, the dump is walked
 * and counted.
 */
import type pg from 'pg';
import { ident } from '../db/index.js';
import { FatalError, errorMessage } from '../errors.js';
import type { Progress, ProgressOptions } from '../platform/progress.js';
import type { ObjectKey, ObjectStore } from '../platform/store/index.js';
import { classify, type Classified } from './pg-dump-classify.js';
import { copyInto, copyLineOf, type CopySink } from './pg-dump-copy.js';
import { columnPlan, flushStages, keepProjectMigrations, stageFor, type Stage } from './pg-dump-managed.js';
import { copyObjectFiles, findObjectFiles } from './pg-dump-objects.js';
import { readContext, warnOpenTables } from './pg-dump-context.js';
import { decide, type Decision, type MappedTable, type PlanContext } from './pg-dump-plan.js';
import { DumpReader, copyFields, type DumpItem } from './pg-dump-reader.js';
import { count, emptyReport, recordSkip, type PgDumpReport, type TableLoad } from './pg-dump-report.js';
import type { DumpLines } from './pg-dump-source.js';
import type { StorageSource } from './pg-dump-storage.js';
import { KNOWN_USES, connectTarget, insertRows, retarget } from './pg-dump-rewrite.js';

export interface RunOptions {
  readonly file: string;
  readonly dryRun: boolean;
  readonly log: (line: string) => void;
  readonly progress: (label: string, options: ProgressOptions) => Progress;
  readonly source: StorageSource | undefined;
  readonly store: ObjectStore | undefined;
  /** Versions of the project's migration files (supabase/migrations), when known. */
  readonly migrations: readonly string[] | undefined;
}

interface OpenCopy {
  readonly table: string;
  readonly line: number;
  readonly load: TableLoad;
  readonly sink: CopySink | undefined;
  readonly bar: Progress | undefined;
  readonly stage: Stage | undefined;
  /** --dry-run with a storage source: storage.objects rows kept to look for their files. */
  readonly objects?: (string | null)[][];
}

export async function runDump(
  client: pg.ClientBase,
  lines: AsyncIterable<DumpLines>,
  options: RunOptions,
): Promise<PgDumpReport> {
  const run = new DumpRun(client, options, await readContext(client));
  if (!options.dryRun) await client.query('begin');
  try {
    await run.consume(lines);
    if (!options.dryRun) {
      await warnOpenTables(client, run.report);
      // A running Trellis reloads its data API schema cache (PostgREST's channel), at the commit.
      await client.query("select pg_catalog.pg_notify('pgrst', 'reload schema')");
      await client.query('commit');
    }
  } catch (err) {
    run.copy?.sink?.abort(err instanceof Error ? err : new Error(String(err)));
    run.copy?.bar?.fail('rolled back');
    if (!options.dryRun) await client.query('rollback').catch(() => undefined);
    await options.store?.remove(run.written).catch(() => undefined);
    if (err instanceof FatalError) throw err;
    throw new FatalError(`${options.file}: ${errorMessage(err)}; nothing was imported`);
  }
  return run.report;
}

class DumpRun {
  readonly report: PgDumpReport;
  readonly written: ObjectKey[] = [];
  copy: OpenCopy | undefined;
  private readonly stages = new Map<MappedTable, Stage>();
  private readonly skippedExtensions: string[] = [];
  private database: string | undefined;
  private objectColumns: readonly string[] = [];

  constructor(
    private readonly client: pg.ClientBase,
    private readonly options: RunOptions,
    private readonly ctx: PlanContext,
  ) {
    this.report = emptyReport(options.file, options.dryRun);
  }

  async consume(lines: AsyncIterable<DumpLines>): Promise<void> {
    const reader = new DumpReader();
    for await (const { lines: batch, first } of lines) {
      for (let i = 0; i < batch.length; i++) {
        const text = batch[i] as string;
        const copy = this.copy;
        // The hot path: a data line of an open COPY block goes straight to the server.
        if (copy && text !== '\\.') {
          // Staged rows are counted when they reach Trellis's table (flushStages).
          if (!copy.stage) copy.load.rows++;
          if (copy.sink) {
            const written = copy.sink.push(text);
            if (written) await written;
          } else copy.objects?.push(copyFields(text));
          continue;
        }
        for (const item of reader.feed(text, first + i)) await this.handle(item);
      }
    }
    const end = reader.end();
    if (end.open === 'copy')
      throw new FatalError(
        `${this.options.file}: the COPY of ${this.copy?.table ?? '?'} at line ${reader.copyStartLine} has no end line \`\\.\` (is the dump truncated?); nothing was imported`,
      );
    if (end.open)
      throw new FatalError(
        `${this.options.file}: the dump ends inside a ${end.open === 'quote' ? 'quoted string' : 'comment'} (is it truncated?); nothing was imported`,
      );
    for (const item of end.items) await this.handle(item);
    if (!this.options.dryRun) await this.flush();
  }

  private async handle(item: DumpItem): Promise<void> {
    switch (item.kind) {
      case 'meta':
        return this.meta(item.command, item.argument, item.line);
      case 'copy':
      case 'statement':
        return this.statement(item.text, item.line, item.kind === 'copy');
      case 'copy-end':
        return this.endCopy();
      case 'data':
        return; // consumed in consume()
    }
  }

  private meta(command: string, argument: string, line: number): void {
    this.report.statements++;
    const kind = `\\${command}`;
    if (command === 'connect' || command === 'c') {
      const db = connectTarget(argument);
      if (this.database !== undefined && db !== this.database)
        throw new FatalError(
          `${this.options.file} line ${line}: a second database (\\connect ${db}): a pg_dumpall file holds several; import one database's dump`,
        );
      this.database = db;
      return this.skip(kind, 'the import goes into the connected database', line);
    }
    if (command === 'restrict' || command === 'unrestrict')
      return this.skip(kind, 'psql meta-commands of pg_dump 17.6+ (no effect on the import)', line);
    this.skip(kind, 'psql meta-command Trellis does not run', line);
  }

  private skip(kind: string, reason: string, line: number, mapped = false): void {
    count(this.report, kind, mapped ? 'mapped' : 'skipped');
    recordSkip(this.report, kind, reason, line);
  }

  private async statement(text: string, line: number, isCopy: boolean): Promise<void> {
    this.report.statements++;
    const c = classify(text);
    const decision = decide(c, this.ctx);
    if (decision.action === 'skip') {
      if (c.kind === 'CREATE EXTENSION') this.extensionSkipped(c, decision.reason);
      return this.skip(c.kind, decision.reason, line, decision.mapped === true);
    }
    if (decision.action === 'stage' || decision.action === 'skip-data' || isCopy || c.kind === 'INSERT')
      return this.load(text, line, c, decision, isCopy);
    if (this.options.dryRun) return void count(this.report, c.kind, decision.mapped ? 'mapped' : 'run');
    await this.flush();
    const sql = await this.rewrite(c, decision);
    if (decision.action === 'try') {
      await this.client.query('savepoint trellis_import');
      try {
        await this.client.query(sql ?? text);
        await this.client.query('release savepoint trellis_import');
      } catch (err) {
        await this.client.query('rollback to savepoint trellis_import');
        return this.skip(c.kind, `refused by the server: ${errorMessage(err)}`, line);
      }
    } else {
      await this.client.query(sql ?? text).catch((err: unknown) => {
        throw this.failure(line, c, err);
      });
    }
    count(this.report, c.kind, decision.mapped || sql !== undefined ? 'mapped' : 'run');
  }

  /** CREATE EXTENSION … WITH SCHEMA s where s does not exist here: into `extensions`. */
  private async rewrite(c: Classified, decision: Decision): Promise<string | undefined> {
    const sql = 'sql' in decision ? decision.sql : undefined;
    if (c.kind !== 'CREATE EXTENSION' || c.option === undefined) return sql;
    const found = await this.client.query('select 1 from pg_catalog.pg_namespace where nspname = $1', [c.option]);
    return found.rowCount ? sql : sql?.replace(/ with schema .*$/, ' with schema "extensions"');
  }

  private extensionSkipped(c: Classified, reason: string): void {
    const name = c.target?.name ?? '';
    this.skippedExtensions.push(name);
    this.report.warnings.push(
      `extension ${name} skipped (${reason}); objects that use it will fail or lose it (${KNOWN_USES[name] ?? 'check the dump'})`,
    );
  }

  private failure(line: number, c: Classified, err: unknown): FatalError {
    const what = c.target ? `${c.kind} ${c.target.schema ? `${c.target.schema}.` : ''}${c.target.name}` : c.kind;
    const hint =
      this.skippedExtensions.length > 0 ? ` (extensions skipped earlier: ${this.skippedExtensions.join(', ')})` : '';
    return new FatalError(
      `${this.options.file} line ${line}: ${what}: ${errorMessage(err)}${hint}; nothing was imported (rolled back)`,
    );
  }

  private tableLoad(table: string, action: TableLoad['action'], note?: string): TableLoad {
    let load = this.report.tables.find((t) => t.table === table);
    if (!load) {
      load = { table, rows: 0, action, ...(note && { note }) };
      this.report.tables.push(load);
    }
    return load;
  }

  /** COPY and INSERT: into the dump's own table, a stage for Trellis's, or read past. */
  private async load(text: string, line: number, c: Classified, d: Decision, isCopy: boolean): Promise<void> {
    const table = `${c.target?.schema ?? 'public'}.${c.target?.name ?? ''}`;
    const skipping = d.action === 'skip-data';
    const load = this.tableLoad(
      table,
      skipping ? 'skipped' : d.action === 'stage' ? 'mapped' : 'loaded',
      skipping ? d.reason : undefined,
    );
    count(this.report, c.kind, skipping ? 'skipped' : d.action === 'stage' ? 'mapped' : 'run');
    if (skipping) recordSkip(this.report, c.kind, d.reason, line);
    const dry = this.options.dryRun;
    let stage: Stage | undefined;
    if (d.action === 'stage' && !dry) {
      stage = await stageFor(this.client, this.stages, d.table, c.columns ?? [], load);
      stage.pending = true;
    } else if (d.action === 'stage' && load.droppedColumns === undefined) {
      load.droppedColumns = (await columnPlan(this.client, d.table, c.columns ?? [])).dropped;
    }
    if (!isCopy) {
      if (dry && !skipping) load.rows += insertRows(text);
      if (skipping || dry) return;
      if (!stage) await this.flush();
      const sql = stage ? retarget(text, stage.name) : text;
      const result = await this.client.query(sql).catch((err: unknown) => {
        throw this.failure(line, c, err);
      });
      if (!stage) load.rows += result.rowCount ?? 0;
      return;
    }
    if (skipping || dry) {
      const objects = dry && table === 'storage.objects' && this.options.source ? [] : undefined;
      this.copy = { table, line, load, sink: undefined, bar: undefined, stage: undefined, objects };
      this.objectColumns = c.columns ?? [];
      return;
    }
    if (!stage) await this.flush();
    const bar = this.options.progress(table, { unit: 'rows' });
    const sql = stage ? `copy ${stage.name} (${stage.sourceColumns.map(ident).join(', ')}) from stdin` : text;
    const { sink } = copyInto(this.client, sql, (n) => bar.tick(n));
    this.copy = { table, line, load, sink, bar, stage };
  }

  private async endCopy(): Promise<void> {
    const copy = this.copy;
    this.copy = undefined;
    if (copy?.objects && this.options.source)
      await findObjectFiles(this.options.source, this.objectColumns, copy.objects, this.report.storage);
    if (!copy?.sink) return;
    try {
      await copy.sink.end();
      copy.bar?.done();
    } catch (err) {
      copy.bar?.fail(errorMessage(err));
      const row = copyLineOf(err);
      const at =
        row === undefined ? `the COPY at line ${copy.line}` : `line ${copy.line + row} (row ${row} of ${copy.table})`;
      throw new FatalError(`${this.options.file} ${at}: ${errorMessage(err)}; nothing was imported (rolled back)`);
    }
  }

  /** Staged auth/storage rows into Trellis's tables (object files first). */
  private async flush(): Promise<void> {
    if (![...this.stages.values()].some((s) => s.pending)) return;
    await flushStages(this.client, this.stages, async (stage) => {
      if (stage.table === 'supabase_migrations.schema_migrations')
        return keepProjectMigrations(this.client, stage, this.options.migrations);
      if (stage.table !== 'storage.objects') return;
      await copyObjectFiles(this.client, stage, {
        source: this.options.source,
        store: this.options.store,
        progress: this.options.progress,
        report: this.report.storage,
        warnings: this.report.warnings,
        written: this.written,
      });
    });
  }
}
