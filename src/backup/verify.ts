/**
 * `trellis backup verify`: restores a backup into a scratch folder, replays it to the exact LSN of
 * the snapshot digested when it was made, and compares every table's row count and checksum.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config.js';
import { checkBtreeIndexes, digestTables, startEmbedded, type TableDigest } from '../db/index.js';
import { errorMessage } from '../errors.js';
import type { BackupProgress } from './create.js';
import type { EmbeddedManifest } from './manifest.js';
import { fetchWal, replay, unpackBackup } from './recover.js';
import { readSecretsOf } from './secrets.js';
import type { BackupTarget } from './target.js';

export interface VerifyLine {
  readonly table: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly pieces: readonly { piece: string; message: string }[];
  readonly tables: readonly VerifyLine[];
  /** B-tree indexes amcheck found sound. */
  readonly indexesChecked: number;
}

export async function verifyBackup(
  config: Config,
  target: BackupTarget,
  manifest: EmbeddedManifest,
  progress: BackupProgress,
): Promise<VerifyReport> {
  const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'trellis-verify-'));
  try {
    await fsp.chmod(scratch, 0o755);
    const pieces = await unpackBackup({ target, manifest, dir: scratch, progress, stopOnMismatch: false });
    await fetchWal(target, manifest, path.join(scratch, '.trellis', 'wal-restore'), progress);
    const secrets = await readSecretsOf(path.join(scratch, '.trellis'));
    let tables: VerifyLine[];
    let indexesChecked = 0;
    try {
      await replay(config, scratch, secrets.dbPassword, { kind: 'lsn', lsn: manifest.consistentLsn }, progress);
      const compared = await compareRestored(scratch, secrets.dbPassword, manifest, progress);
      tables = compared.lines;
      indexesChecked = compared.indexesChecked;
    } catch (err) {
      if (pieces.length === 0) throw err;
      // A damaged piece may keep the cluster from starting at all: that is the verdict.
      tables = [{ table: '(cluster)', ok: false, detail: errorMessage(err) }];
    }
    return { ok: pieces.length === 0 && tables.every((t) => t.ok), pieces, tables, indexesChecked };
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}

async function compareRestored(
  scratch: string,
  password: string,
  manifest: EmbeddedManifest,
  progress: BackupProgress,
): Promise<{ lines: VerifyLine[]; indexesChecked: number }> {
  const embedded = await startEmbedded({
    dataDir: path.join(scratch, '.trellis'),
    password,
    onProgress: (m) => progress.note(m),
  });
  try {
    const client = new pg.Client({ connectionString: embedded.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const lines: VerifyLine[] = [];
      const restored: TableDigest[] = [];
      // One table at a time: a damaged page fails that table's read, not the whole verification.
      for (const t of manifest.tables) {
        const name = `${t.schema}.${t.table}`;
        try {
          await client.query('begin isolation level repeatable read');
          const [d] = await digestTables(client, [{ schema: t.schema, table: t.table }]);
          await client.query('commit');
          if (d) restored.push(d);
        } catch (err) {
          await client.query('rollback').catch(() => undefined);
          lines.push({ table: name, ok: false, detail: `cannot be read: ${errorMessage(err)}` });
        }
      }
      const failed = new Set(lines.map((l) => l.table));
      for (const t of manifest.tables) {
        const name = `${t.schema}.${t.table}`;
        if (failed.has(name)) continue;
        const got = restored.find((r) => r.schema === t.schema && r.table === t.table);
        const same = got !== undefined && got.rows === t.rows && got.checksum === t.checksum;
        const found = got ? `${got.rows} rows (checksum ${got.checksum})` : 'no table';
        lines.push(
          same
            ? { table: name, ok: true, detail: `${t.rows} rows` }
            : { table: name, ok: false, detail: `expected ${t.rows} rows (checksum ${t.checksum}), found ${found}` },
        );
      }
      // The indexes too (amcheck, bundled): a table's rows can be right while its index is not.
      const indexes = await checkBtreeIndexes(client);
      for (const i of indexes)
        if (i.error) lines.push({ table: i.table, ok: false, detail: `index ${i.index}: ${i.error}` });
      return {
        lines: lines.sort((a, b) => (a.table < b.table ? -1 : 1)),
        indexesChecked: indexes.filter((i) => !i.error).length,
      };
    } finally {
      await client.end().catch(() => undefined);
    }
  } finally {
    await embedded.stop();
  }
}
