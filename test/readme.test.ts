/**
 * README's promises, run as a reader would: its supabase-js snippet runs against a started Trellis
 * (on this Node.js, 20 or 22), and its "own project" commands install and start Trellis from a
 * fresh folder.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHAT_FIXTURE } from './helpers/chat.js';
import { cliEnv, freePort } from './helpers/cli.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');

/** The first fenced block of `lang` after `heading`. */
function block(heading: string, lang: string): string {
  const at = readme.indexOf(heading);
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme.slice(at));
  if (at < 0 || !match?.[1]) throw new Error(`README has no ${lang} block under ${heading}`);
  return match[1];
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 60_000) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(command, args, { cwd, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the supabase-js snippet', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ migrations: { '20240101000000_chat.sql': CHAT_FIXTURE } });
  });
  afterAll(async () => {
    await server.stop();
  });

  test('runs as written and gets what its comments say', async () => {
    // Inside the repository, so its imports resolve from node_modules; removed afterwards.
    const file = path.join(ROOT, 'test', `.readme-snippet-${process.pid}.mts`);
    const check = `\nif (!signedUp.user || me.user?.email !== 'ada@example.com' || !Array.isArray(messages)) process.exit(3);\nprocess.exit(0);\n`;
    await fs.writeFile(file, block('## Use it from supabase-js', 'ts') + check);
    try {
      const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
      const result = await run(process.execPath, [tsx, file], ROOT, { API_URL: server.url, ANON_KEY: server.anonKey });
      expect(result, result.output).toMatchObject({ code: 0 });
    } finally {
      await fs.rm(file, { force: true });
    }
  });
});

describe('running Trellis in your own project', () => {
  test('the README commands install it from the checkout, start it, and report its status', async () => {
    const commands = block('## Run it in your own project', 'sh')
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter((line) => line !== '');
    expect(commands).toEqual([
      'cd my-app',
      'npm install /path/to/trellis',
      'npx trellis start',
      'npx trellis status -o json',
      'npx trellis gen types typescript > database.types.ts',
    ]);
    const app = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-own-project-'));
    await fs.chmod(app, 0o755);
    await fs.mkdir(path.join(app, 'supabase', 'migrations'), { recursive: true });
    await fs.writeFile(
      path.join(app, 'supabase', 'migrations', '20240101000000_notes.sql'),
      'create table public.notes (id serial primary key);',
    );
    await fs.writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'my-app', private: true }));
    const port = await freePort();
    let started: ReturnType<typeof spawn> | undefined;
    try {
      const install = await run('npm', ['install', ROOT, '--no-audit', '--no-fund'], app);
      expect(install.code, install.output).toBe(0);
      started = spawn('npx', ['trellis', 'start', '--port', String(port)], {
        cwd: app,
        env: cliEnv(),
        stdio: 'ignore',
      });
      const deadline = Date.now() + 60_000;
      while (
        !(await fetch(`http://127.0.0.1:${port}/ready`).then(
          (r) => r.ok,
          () => false,
        ))
      ) {
        if (Date.now() > deadline) throw new Error('npx trellis start was not ready within 60 s');
        await new Promise((r) => setTimeout(r, 200));
      }
      const status = await run('npx', ['trellis', 'status', '-o', 'json'], app);
      expect(status.code, status.output).toBe(0);
      const keys = JSON.parse(status.output) as Record<string, string>;
      expect(Object.keys(keys).sort()).toEqual(['ANON_KEY', 'API_URL', 'DB_URL', 'JWT_SECRET', 'SERVICE_ROLE_KEY']);
      // Its migration applied: the table is served.
      const notes = await fetch(`http://127.0.0.1:${port}/rest/v1/notes`, { headers: { apikey: keys.ANON_KEY! } });
      expect(notes.status).toBeLessThan(500);
      // The types of that table, from the running Trellis's database.
      const types = await run('npx', ['trellis', 'gen', 'types', 'typescript'], app);
      expect(types.code, types.output).toBe(0);
      expect(types.output).toContain('export type Database = {');
      expect(types.output).toMatch(/notes: \{\n\s+Row: \{\n\s+id: number/);
      expect(await fs.stat(path.join(app, '.trellis'))).toBeTruthy();
    } finally {
      const pid = await fs
        .readFile(path.join(app, '.trellis', 'trellis.pid'), 'utf8')
        .then((t) => (JSON.parse(t) as { pid: number }).pid)
        .catch(() => undefined);
      if (pid) process.kill(pid, 'SIGTERM');
      started?.kill('SIGTERM');
      for (let i = 0; i < 50 && pid; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      await fs.rm(app, { recursive: true, force: true });
    }
  }, 120_000);
});
