/**
 * `trellis gen types typescript`: the generated `Database` type makes typed supabase-js code
 * compile, and makes wrong code fail, under the project's own strict tsc.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as prettier from 'prettier';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, startCli, tempProject } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { TYPED_PROGRAM, TYPES_SCHEMA, WRONG_PROGRAM } from '../helpers/types-fixture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');

/** Runs tsc on `dir`; the errors as `file:line`, each once. */
async function typeErrors(dir: string): Promise<string[]> {
  const result = await promisify(execFile)(TSC, ['--noEmit', '-p', path.join(dir, 'tsconfig.json')], {
    cwd: dir,
  }).then(
    () => ({ stdout: '' }),
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  const lines = result.stdout.split('\n').flatMap((line) => {
    const match = /^([^(\s]+)\((\d+),\d+\): error/.exec(line);
    return match ? [`${path.basename(match[1] ?? '')}:${match[2]}`] : [];
  });
  return [...new Set(lines)].sort();
}

describe('trellis gen types typescript', () => {
  let server: TestServer;
  let dir: string;
  let types: string;
  beforeAll(async () => {
    server = await startTestServer({ migrations: { '20240101000000_types.sql': TYPES_SCHEMA } });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-gen-types-'));
    const generated = await runCli(['gen', 'types', 'typescript', '--db-url', server.databaseUrl]);
    expect(generated.stderr).toBe('');
    expect(generated.code).toBe(0);
    types = generated.stdout;
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test("the Supabase CLI's shape: Json, the schema's sections, Row/Insert/Update/Relationships, helpers", async () => {
    expect(types).toMatch(/^export type Json =\n {2}\| string\n/);
    expect(types).toContain('__InternalSupabase: {\n    PostgrestVersion: "13.0"\n  }');
    for (const section of ['Tables', 'Views', 'Functions', 'Enums', 'CompositeTypes'])
      expect(types).toContain(`    ${section}: {\n`);
    for (const helper of ['Tables', 'TablesInsert', 'TablesUpdate', 'Enums', 'CompositeTypes'])
      expect(types).toContain(`export type ${helper}<`);
    expect(types).toContain('export const Constants = {');
    expect(types).toContain('mood: "happy" | "sad" | "so-so"');
    expect(types).toContain('mood: ["happy", "sad", "so-so"],');
    // Columns sorted by name, nullable ones `| null`, the identity column never written.
    expect(types).toContain(
      [
        '        Row: {',
        '          bio: string | null',
        '          created_at: string',
        '          home: Database["public"]["CompositeTypes"]["address"] | null',
        '          id: number',
        '          mood: Database["public"]["Enums"]["mood"] | null',
        '          name: string',
        '          tags: string[]',
        '        }',
        '        Insert: {',
        '          bio?: string | null',
        '          created_at?: string',
        '          home?: Database["public"]["CompositeTypes"]["address"] | null',
        '          id?: never',
      ].join('\n'),
    );
    expect(types).toContain(
      [
        '            foreignKeyName: "profiles_author_id_fkey"',
        '            columns: ["author_id"]',
        '            isOneToOne: true',
        '            referencedRelation: "authors"',
        '            referencedColumns: ["id"]',
      ].join('\n'),
    );
    // The view's relationship, carried over from its table's foreign key.
    expect(types).toMatch(
      /post_authors: \{\n {8}Row: \{[^]*?Relationships: \[\n {10}\{\n {12}foreignKeyName: "posts_author_id_fkey"\n {12}columns: \["writer"\]/,
    );
    expect(types).toContain('      add: { Args: { a: number; b?: number }; Returns: number }\n');
    expect(types).toContain('    Enums: {\n      mood: "happy" | "sad" | "so-so"\n    }\n    CompositeTypes: {');
    expect(types).toMatch(/^ {4}Views: \{\n {6}drafts: \{$/m);
    // Laid out as the CLI prints it (Prettier without semicolons), so a switch diffs little.
    expect(await prettier.format(types, { parser: 'typescript', semi: false })).toBe(types);
    // Trellis's own schemas are not the project's: they stay out unless asked for.
    expect(types).not.toMatch(/^ {2}(auth|storage|trellis): \{/m);
  });

  test('a typed supabase-js program compiles, and each wrong line of another fails', async () => {
    await fs.writeFile(path.join(dir, 'database.types.ts'), types);
    await fs.writeFile(path.join(dir, 'program.ts'), TYPED_PROGRAM);
    await fs.writeFile(path.join(dir, 'wrong.ts'), WRONG_PROGRAM);
    // The project's node_modules, so the programs import @supabase/supabase-js as an app does.
    await fs.symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    await fs.writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['database.types.ts', 'program.ts', 'wrong.ts'],
      }),
    );
    await fs.writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
    const expected = WRONG_PROGRAM.split('\n').flatMap((line, i) =>
      line.includes('must fail') ? [`wrong.ts:${i + 1}`] : [],
    );
    expect(await typeErrors(dir)).toEqual(expected.sort());
  });

  test('--schema picks the schemas; a bad flag, language or URL is one line and exit 1', async () => {
    const storage = await runCli(['gen', 'types', 'typescript', '--db-url', server.databaseUrl, '--schema', 'storage']);
    expect(storage.code).toBe(0);
    expect(storage.stdout).toMatch(/^ {2}storage: \{\n {4}Tables: \{\n {6}buckets: \{/m);
    expect(storage.stdout).not.toMatch(/^ {2}public: \{/m);
    const refusals = [
      [['gen', 'types', 'python'], 'unknown language "python"'],
      [['gen', 'types', 'typescript', '--db-url', 'mysql://x'], '--db-url'],
      [['gen', 'types', 'typescript', '--nope'], "Unknown option '--nope'"],
      [['gen', 'schemas'], 'unknown gen command "schemas"'],
    ] as const;
    const results = await Promise.all(refusals.map(([args]) => runCli([...args])));
    results.forEach((result, i) => {
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(refusals[i]?.[1]);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    });
  });

  test('without a database in the folder, it says how to get one', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-gen-empty-'));
    try {
      const result = await runCli(['gen', 'types', 'typescript', '--dir', empty]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/no database in .* yet: run `trellis start` or `trellis migrate` first/);
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });

  test('on the embedded database: through the running Trellis, then started for the occasion', async () => {
    const project = await tempProject({
      '20240101000000_notes.sql': 'create table public.notes (id int primary key, body text);\n',
    });
    try {
      const running = await startCli(project);
      let whileRunning: Awaited<ReturnType<typeof runCli>>;
      try {
        whileRunning = await runCli(['gen', 'types', 'typescript', '--dir', project]);
      } finally {
        await running.stop();
      }
      expect(whileRunning.stderr).toBe('');
      expect(whileRunning.stdout).toContain(
        '      notes: {\n        Row: {\n          body: string | null\n          id: number\n',
      );
      const stopped = await runCli(['gen', 'types', 'typescript', '--dir', project], {}, 60_000);
      expect(stopped.stderr).toBe('');
      expect(stopped.stdout).toBe(whileRunning.stdout);
    } finally {
      await fs.rm(project, { recursive: true, force: true });
    }
  });
});
