/**
 * The import rules of DESIGN.md ("Shape of the code"), checked by dependency-cruiser over src/ and
 * bench/: no cycle, nothing imports test/ or server.ts, modules meet through their doors, src/db has
 * one door, and a platform seam's implementations import its interface, never each other. test/ may
 * import anything, so it is not cruised (its files only appear as the targets of forbidden imports).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IForbiddenRuleType, type IViolation } from 'dependency-cruiser';
import { afterAll, describe, expect, test } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Folders directly under src/ that are modules: one door each (`index.ts` or `routes.ts` at the root). */
const MODULES = [
  'auth',
  'rest',
  'realtime',
  'storage',
  'functions',
  'jobs',
  'studio',
  'capacity',
  'import',
  'backup',
  'cli',
  'bench',
  'move',
];
/** Layers anyone may import (src/db only through its index.ts, checked by its own rule); src/config/ holds config.ts's pure parts. */
const SHARED = ['^src/platform/', '^src/project/', '^src/db/', '^src/config/', '^src/(config|errors|services)\\.ts$'];
/** Platform seams: each folder's interface file, which its implementations import instead of each other. */
const SEAMS = [
  { folder: 'src/platform/bus', iface: 'bus.ts' },
  { folder: 'src/platform/limiter', iface: 'limiter.ts' },
  { folder: 'src/platform/mailer', iface: 'mailer.ts' },
  { folder: 'src/platform/store', iface: 'store.ts' },
  { folder: 'src/platform/sms', iface: 'sms.ts' },
  { folder: 'src/platform/cache', iface: 'response-store.ts' },
];
/** Helpers that live in a seam folder but implement nothing: an implementation may import them. */
const SEAM_HELPERS = [
  'src/platform/mailer/templates.ts',
  'src/platform/mailer/http-apis.ts',
  'src/platform/mailer/windows.ts',
  'src/platform/store/hash.ts',
  'src/platform/limiter/flexible.ts',
  'src/platform/sms/post.ts',
  'src/platform/bus/postgres-wire.ts',
];

const anyModule = `^src/(${MODULES.join('|')})/`;
const moduleDoor = `^src/(${MODULES.join('|')})/(index|routes)\\.ts$`;
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const importRules: IForbiddenRuleType[] = [
  {
    name: 'no-cycle',
    comment: 'No import cycle in src/ (type-only imports count: a cycle of types is still a tangle).',
    severity: 'error',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'no-test-import',
    comment: 'src/ and bench/ never import test/.',
    severity: 'error',
    from: { path: '^(src|bench)/' },
    to: { path: '^test/' },
  },
  {
    name: 'no-server-import',
    comment: 'Only the CLI (src/cli/start.ts) imports src/server.ts; the rest share src/services.ts.',
    severity: 'error',
    from: { path: '^(src|bench)/', pathNot: '^src/cli/start\\.ts$' },
    to: { path: '^src/server\\.ts$' },
  },
  {
    name: 'module-door',
    comment: 'A module imports another module only through its door (index.ts or routes.ts), never its internals.',
    severity: 'error',
    from: { path: '^src/([^/]+)/' },
    to: { path: anyModule, pathNot: ['^src/$1/', moduleDoor] },
  },
  {
    name: 'module-door',
    comment: 'Code outside the modules (src/*.ts, bench/) imports a module only through its door.',
    severity: 'error',
    from: { path: ['^src/[^/]+\\.ts$', '^bench/'] },
    to: { path: anyModule, pathNot: moduleDoor },
  },
  {
    name: 'db-door',
    comment: 'src/db has one door: nothing outside src/db imports a file of src/db other than src/db/index.ts.',
    severity: 'error',
    from: { path: '^(src|bench)/', pathNot: '^src/db/' },
    to: { path: '^src/db/', pathNot: '^src/db/index\\.ts$' },
  },
  {
    name: 'known-layer',
    comment: 'Every file imported in src/ belongs to a module or to a shared layer (DESIGN.md "Shape of the code").',
    severity: 'error',
    from: { path: '^(src|bench)/' },
    to: { path: '^src/', pathNot: [anyModule, ...SHARED, '^src/server\\.ts$'] },
  },
  ...SEAMS.map(({ folder, iface }): IForbiddenRuleType => {
    const dir = escape(folder);
    return {
      name: 'seam-implementations',
      comment: `In ${folder}, files import the interface (${iface}) or a helper, never a sibling implementation or index.ts.`,
      severity: 'error',
      from: { path: `^${dir}/[^/]+\\.ts$`, pathNot: `^${dir}/index\\.ts$` },
      to: {
        path: `^${dir}/[^/]+\\.ts$`,
        pathNot: [`^${dir}/${escape(iface)}$`, ...SEAM_HELPERS.map((h) => `^${escape(h)}$`)],
      },
    };
  }),
];

/** Cruises `roots` under `baseDir` with the rules above; one readable line per violation. */
async function findViolations(baseDir: string, roots: string[]): Promise<string[]> {
  const { output } = await cruise(roots, {
    baseDir,
    ruleSet: { forbidden: importRules },
    validate: true,
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
  });
  if (typeof output === 'string')
    throw new Error(`dependency-cruiser gave text, not a result: ${output.slice(0, 200)}`);
  return describeViolations(output);
}

function describeViolations(result: ICruiseResult): string[] {
  return [...new Set(result.summary.violations.map(describeViolation))].sort();
}

/**
 * dependency-cruiser names a cycle once per import on it; rotating the loop to start at its first
 * file (by name) makes every report of one cycle the same line, so each cycle is listed once.
 */
function describeViolation(violation: IViolation): string {
  if (!violation.cycle?.length) return `${violation.rule.name}: ${violation.from} → ${violation.to}`;
  const loop = [violation.from, ...violation.cycle.map((step) => step.name)].slice(0, -1);
  const start = loop.indexOf([...loop].sort()[0]!);
  const rotated = [...loop.slice(start), ...loop.slice(0, start)];
  const typeOnly = violation.cycle.some((step) => step.dependencyTypes.includes('type-only'));
  return `${violation.rule.name}: ${[...rotated, rotated[0]].join(' → ')}${typeOnly ? ' (through a type-only import)' : ''}`;
}

describe('architecture', () => {
  test('src/ and bench/ follow the import rules of DESIGN.md', async () => {
    const violations = await findViolations(ROOT, ['src', 'bench']);
    // An empty list is the contract; on failure vitest prints every offending import, one per line.
    expect(violations).toEqual([]);
  });

  describe('the rules themselves (a throwaway tree, so the check is known to fail and to pass)', () => {
    const dirs: string[] = [];
    afterAll(async () => {
      await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
    });
    async function tree(files: Record<string, string>): Promise<string> {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-architecture-'));
      dirs.push(dir);
      for (const [name, text] of Object.entries(files)) {
        await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
        await fs.writeFile(path.join(dir, name), text);
      }
      return dir;
    }

    test('two files importing each other are a cycle; breaking it clears the violation', async () => {
      const cyclic = await tree({
        'src/rest/a.ts': "import { b } from './b.js';\nexport const a = (): number => b + 1;\n",
        'src/rest/b.ts':
          "import { a } from './a.js';\nexport const b = 1;\nexport const twice = (): number => a() * 2;\n",
      });
      expect(await findViolations(cyclic, ['src'])).toEqual([
        'no-cycle: src/rest/a.ts → src/rest/b.ts → src/rest/a.ts',
      ]);
      const acyclic = await tree({
        'src/rest/a.ts': "import { b } from './b.js';\nexport const a = (): number => b + 1;\n",
        'src/rest/b.ts': 'export const b = 1;\n',
      });
      expect(await findViolations(acyclic, ['src'])).toEqual([]);
    });

    test('a module reaching into another module, test/ or a sibling implementation is named', async () => {
      const dir = await tree({
        'src/auth/routes.ts': "export { parse } from '../rest/parse.js';\n",
        'src/rest/routes.ts': "export { parse } from './parse.js';\n",
        'src/rest/parse.ts':
          "import { fixture } from '../../test/fixture.js';\nexport const parse = (): string => fixture;\n",
        'test/fixture.ts': "export const fixture = 'x';\n",
        'src/platform/bus/bus.ts': 'export interface Bus { publish(topic: string): void }\n',
        'src/platform/bus/memory.ts':
          "import type { Bus } from './bus.js';\nexport const memory: Bus = { publish() {} };\n",
        'src/platform/bus/redis.ts': "import { memory } from './memory.js';\nexport const redis = memory;\n",
      });
      expect(await findViolations(dir, ['src'])).toEqual([
        'module-door: src/auth/routes.ts → src/rest/parse.ts',
        'no-test-import: src/rest/parse.ts → test/fixture.ts',
        'seam-implementations: src/platform/bus/redis.ts → src/platform/bus/memory.ts',
      ]);
    });
  });
});
