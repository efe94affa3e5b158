/**
 * A function's TypeScript compiled and bundled with esbuild: index.ts and what it imports by path
 * (`../_shared/cors.ts`) become one ES module, written under the data folder by its content hash;
 * packages (`npm:x@1`, bare `x`) stay imports, resolved from the project's node_modules when the
 * worker loads the bundle. `jsr:` and URL imports need the network and fail here, with a message.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';

export interface Bundle {
  readonly path: string;
  readonly hash: string;
  /** The source files it was built from and their mtimes, to tell when it must be rebuilt. */
  readonly inputs: ReadonlyMap<string, number>;
}

export type BundleResult =
  | { readonly ok: true; readonly bundle: Bundle }
  | { readonly ok: false; readonly missing: boolean; readonly message: string };

const ENTRY_NAMES = ['index.ts', 'index.tsx', 'index.js', 'index.mjs', 'index.jsx'];

/** `npm:@scope/pkg@^1.2/sub` → `@scope/pkg/sub` (Deno's npm specifier, without its version range). */
export function npmSpecifier(spec: string): string {
  const body = spec.slice('npm:'.length).replace(/^\/+/, '');
  const scoped = body.startsWith('@');
  const parts = body.split('/');
  const nameParts = scoped ? parts.slice(0, 2) : parts.slice(0, 1);
  const last = nameParts.length - 1;
  const at = (nameParts[last] ?? '').indexOf('@', scoped && last === 0 ? 1 : 0);
  if (at > 0) nameParts[last] = (nameParts[last] ?? '').slice(0, at);
  return [...nameParts, ...parts.slice(scoped ? 2 : 1)].join('/');
}

const specifiers: esbuild.Plugin = {
  name: 'trellis-specifiers',
  setup(build) {
    build.onResolve({ filter: /^npm:/ }, (args) => ({ path: npmSpecifier(args.path), external: true }));
    build.onResolve({ filter: /^(jsr:|https?:)/ }, (args) => ({
      errors: [
        {
          text: `"${args.path}": network imports are not available in Trellis; add the package to the project (npm install) and import it as "npm:<package>" (docs/functions.md)`,
        },
      ],
    }));
  },
};

async function entryOf(dir: string): Promise<string | undefined> {
  for (const name of ENTRY_NAMES) {
    const file = path.join(dir, name);
    if (
      await fs.stat(file).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return file;
  }
  return undefined;
}

/** Builds supabase/functions/<name>; `outDir` holds bundles by name and hash. */
export async function bundleFunction(functionsDir: string, name: string, outDir: string): Promise<BundleResult> {
  const entry = await entryOf(path.join(functionsDir, name));
  if (entry === undefined) return { ok: false, missing: true, message: 'Requested function was not found' };
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: functionsDir,
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      logLevel: 'silent',
      plugins: [specifiers],
    });
  } catch (err) {
    const failure = err as { errors?: esbuild.Message[] };
    const first = failure.errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}: ` : '';
    return { ok: false, missing: false, message: first ? `${where}${first.text}` : String(err) };
  }
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const hash = crypto.createHash('sha256').update(code).digest('hex').slice(0, 16);
  const file = path.join(outDir, `${name}.${hash}.mjs`);
  if (
    !(await fs.stat(file).then(
      () => true,
      () => false,
    ))
  ) {
    await fs.mkdir(outDir, { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(temp, code);
    await fs.rename(temp, file);
  }
  await removeOldBundles(outDir, name, file);
  const inputs = new Map<string, number>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const absolute = path.resolve(functionsDir, input);
    inputs.set(absolute, await mtimeOf(absolute));
  }
  return { ok: true, bundle: { path: file, hash, inputs } };
}

/** A worker loads its bundle at start: one replaced more than a minute ago is no longer read. */
async function removeOldBundles(outDir: string, name: string, current: string): Promise<void> {
  const entries = await fs.readdir(outDir).catch(() => [] as string[]);
  const cutoff = Date.now() - 60_000;
  for (const entry of entries) {
    if (!entry.startsWith(`${name}.`) || !entry.endsWith('.mjs')) continue;
    const file = path.join(outDir, entry);
    if (file === current || !/^[0-9a-f]{16}$/.test(entry.slice(name.length + 1, -4))) continue;
    if ((await mtimeOf(file)) < cutoff) await fs.rm(file, { force: true });
  }
}

export async function mtimeOf(file: string): Promise<number> {
  return fs.stat(file).then(
    (s) => s.mtimeMs,
    () => -1,
  );
}

/** Whether a source file of `bundle` changed (or went away) since it was built. */
export async function isStale(bundle: Bundle): Promise<boolean> {
  for (const [file, mtime] of bundle.inputs) if ((await mtimeOf(file)) !== mtime) return true;
  return false;
}
