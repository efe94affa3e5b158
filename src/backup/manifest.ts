/** manifest.json: what a complete backup holds, written last. Parsed strictly: a bad one is refused. */
import { z } from 'zod';

const piece = z.object({
  name: z.string().regex(/^[a-z0-9_.-]+$/),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type Piece = z.infer<typeof piece>;

const digest = z.object({
  schema: z.string(),
  table: z.string(),
  rows: z.number().int().nonnegative(),
  checksum: z.string(),
});

const walName = z.string().regex(/^[0-9A-F]{24}$/);
const lsn = z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/);

export const manifestSchema = z.discriminatedUnion('kind', [
  z.object({
    format: z.literal('trellis-backup/1'),
    kind: z.literal('embedded'),
    id: z.string(),
    label: z.string(),
    startLsn: lsn,
    stopLsn: lsn,
    /** The exported snapshot's LSN: `verify` recovers to exactly here and compares `tables`. */
    consistentLsn: lsn,
    timeline: z.number().int().positive(),
    /** pg_control_system()'s system_identifier: the shipped WAL of this cluster is under wal/<systemId>/. */
    systemId: z.string().regex(/^\d+$/),
    startWal: walName,
    /** The last segment a recovery to `consistentLsn` needs. */
    lastWal: walName,
    startTime: z.iso.datetime(),
    stopTime: z.iso.datetime(),
    postgresVersion: z.string(),
    trellisVersion: z.string(),
    pieces: z.array(piece).min(1),
    storageFiles: z.number().int().nonnegative(),
    tables: z.array(digest),
  }),
  z.object({
    format: z.literal('trellis-backup/1'),
    kind: z.literal('pg_dump'),
    id: z.string(),
    label: z.string(),
    startTime: z.iso.datetime(),
    stopTime: z.iso.datetime(),
    postgresVersion: z.string(),
    pgDumpVersion: z.string(),
    trellisVersion: z.string(),
    pieces: z.array(piece).min(1),
  }),
]);
export type Manifest = z.infer<typeof manifestSchema>;
export type EmbeddedManifest = Extract<Manifest, { kind: 'embedded' }>;

/** The manifest, or a one-line reason it is not one. */
export function parseManifest(text: string): Manifest | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'manifest.json is not valid JSON';
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `manifest.json is not a Trellis backup manifest (${issue?.path.join('.') || 'value'}: ${issue?.message})`;
  }
  return parsed.data;
}
