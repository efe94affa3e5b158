/** Opens the target a setting or a --from names, and finds a backup in it. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { FatalError } from '../errors.js';
import { createLocalTarget } from './target-local.js';
import { BACKUP_ID, type BackupTarget } from './target.js';

export async function openTarget(
  where: string,
  s3: Config['backup']['s3'],
  mustExist: boolean,
  setting = '--from',
): Promise<BackupTarget> {
  if (where.startsWith('s3://')) {
    const { createS3Target } = await import('./target-s3.js');
    return createS3Target(where, s3);
  }
  if (mustExist) {
    const st = await fsp.stat(where).catch(() => undefined);
    if (!st?.isDirectory()) throw new FatalError(`${where} is not a backup folder (it does not exist)`, setting);
  }
  return createLocalTarget(where);
}

/** `--from`: a target (folder or s3://bucket/prefix), or one backup in it (its folder or prefix). */
export function parseFrom(from: string): { where: string; id?: string; partial: boolean } {
  const trimmed = from.replace(/\/+$/, '');
  const s3 = trimmed.startsWith('s3://');
  const base = s3 ? trimmed.slice(trimmed.lastIndexOf('/') + 1) : path.basename(trimmed);
  const partial = base.endsWith('.partial');
  const id = partial ? base.slice(0, -'.partial'.length) : base;
  if (BACKUP_ID.test(id)) {
    const parent = s3 ? trimmed.slice(0, trimmed.lastIndexOf('/')) : path.dirname(path.resolve(trimmed));
    return { where: parent, id, partial };
  }
  return { where: s3 ? trimmed : path.resolve(trimmed), partial: false };
}
