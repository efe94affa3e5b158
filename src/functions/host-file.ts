/**
 * The worker's entry file. Built, it is worker-host.js beside this module; run from the sources
 * (tests, tsx), worker-host.ts is compiled with esbuild once per process into the temporary folder.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export async function hostFile(): Promise<string> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const built = path.join(here, 'worker-host.js');
  if (
    await fs.stat(built).then(
      () => true,
      () => false,
    )
  )
    return built;
  const outDir = path.join(os.tmpdir(), 'trellis-functions');
  await fs.mkdir(outDir, { recursive: true });
  const out = path.join(outDir, `worker-host.${process.pid}.mjs`);
  await esbuild.build({
    entryPoints: [path.join(here, 'worker-host.ts')],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // ws comes along (a CommonJS package, hence `require`); its optional native helpers do not.
    external: ['bufferutil', 'utf-8-validate'],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'silent',
  });
  return out;
}
