/**
 * `npm run example:chat`: Trellis on this folder (its migrations in supabase/migrations, data in
 * .trellis/), and the page on http://127.0.0.1:5173. Ctrl-C stops both.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { EXAMPLE_DIR, serveDev } from './page.js';

const BIN = path.resolve(EXAMPLE_DIR, '..', '..', 'bin', 'trellis.js');
const API_PORT = Number(process.env.PORT ?? 54321);
const PAGE_PORT = Number(process.env.PAGE_PORT ?? 5173);

const trellis = spawn(process.execPath, [BIN, 'start', '--dir', EXAMPLE_DIR, '--port', String(API_PORT)], {
  stdio: 'inherit',
});
const apiUrl = `http://127.0.0.1:${API_PORT}`;
while (
  !(await fetch(`${apiUrl}/ready`).then(
    (r) => r.ok,
    () => false,
  ))
) {
  if (trellis.exitCode !== null) process.exit(trellis.exitCode);
  await new Promise((r) => setTimeout(r, 200));
}
const status = JSON.parse(
  spawnSync(process.execPath, [BIN, 'status', '--dir', EXAMPLE_DIR, '-o', 'json'], { encoding: 'utf8' }).stdout,
) as { ANON_KEY: string };
const page = await serveDev(apiUrl, status.ANON_KEY, PAGE_PORT);
console.log(`\nchat example: open ${page.url} (API ${apiUrl})\n`);

const stop = async () => {
  await page.close();
  trellis.kill('SIGTERM');
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
trellis.once('exit', (code) => process.exit(code ?? 0));
