/**
 * Studio in Chromium (playwright-core, /usr/bin/chromium): sign in, create a table and a policy in
 * the SQL editor, insert a row in the table editor, run a query as an ordinary user and see RLS hide
 * the row, upload a file, watch the request chart move; the components on the way (tabs, a sorted
 * table, a confirmation dialog). Then the live views: an open channel with its presence, a warning
 * the server logged, the last bench statement, auth's providers (secrets masked), a backup started
 * and restored, a queue purged and a cron job paused. Each page's screenshot goes to docs/studio/.
 * Without Chromium the test is skipped, and says why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { setStudioPassword } from '../../../src/project/studio-password.js';
import { freePort } from '../../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../../helpers/db.js';
import { closeRealtime, subscribed } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = fileURLToPath(new URL('../../../docs/studio/', import.meta.url));
const PASSWORD = 'browser-test-password';
const GITHUB_SECRET = 'github-secret-never-shown';
const BENCH_STATEMENT = 'this machine sustains 120 concurrent users at p99 < 100 ms';
const missing = !fs.existsSync(CHROMIUM);
if (missing) console.warn(`skipping the Studio browser test: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

let server: TestServer;
let browser: Browser;
let page: Page;
let empty: TestDatabase;

beforeAll(async () => {
  if (missing) return;
  // The access-token hook's port has nothing listening: a sign-in's hook fails, and logs a warning.
  const hookPort = await freePort();
  server = await startTestServer({
    migrations: {
      '20240101000000_open.sql': `create table public.guestbook (id serial primary key, message text);
        select pgmq.create('emails');
        select pgmq.send('emails', '{"n": 1}'::jsonb);
        select cron.schedule('nightly', '0 3 * * *', 'select 1');`,
    },
    env: {
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true',
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: `http://127.0.0.1:${hookPort}/hook`,
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS: `v1,whsec_${Buffer.from('a-hook-signing-secret-of-32-byte').toString('base64')}`,
      AUTH_EXTERNAL_GITHUB_ENABLED: 'true',
      AUTH_EXTERNAL_GITHUB_CLIENT_ID: 'gh-client-id',
      AUTH_EXTERNAL_GITHUB_SECRET: GITHUB_SECRET,
    },
  });
  empty = await freshDatabase();
  await setStudioPassword(path.join(server.dir, '.trellis'), PASSWORD);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  fs.mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await empty?.drop();
});

const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

async function runSql(query: string, as: 'service' | 'user', email?: string): Promise<string> {
  await page.goto(`${server.url}/studio/#/sql`);
  await page.waitForSelector('#sql');
  await page.fill('#sql', query);
  await page.selectOption('#sql-role', as);
  if (as === 'user' && email) {
    await page.waitForSelector(`#sql-user option:text("${email}")`, { state: 'attached' });
    await page.selectOption('#sql-user', { label: email });
  }
  await page.click('#run-sql');
  await page.waitForSelector('#sql-status, #sql-result .error');
  return (await page.textContent('#sql-result')) ?? '';
}

test.skipIf(missing)('a Studio session from sign-in to the request chart', { timeout: 120_000 }, async () => {
  // Sign in: a wrong password first, then the right one.
  await page.goto(`${server.url}/studio/`);
  await page.fill('#password', 'wrong-password');
  await page.click('button[type=submit]');
  await expect.poll(async () => page.textContent('.login [role=alert]')).toMatch(/password is wrong/);
  await shot('sign-in');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('nav');

  // The table list warns about the public table without RLS.
  await page.waitForSelector('#tables');
  expect(await page.textContent('#page-tables')).toMatch(/guestbook: Row-level security is off/);
  await shot('tables');

  // A user to impersonate, made on the Auth page.
  await page.goto(`${server.url}/studio/#/auth`);
  await page.fill('#new-email', 'reader@example.com');
  await page.fill('#new-password', 'password-123');
  await page.click('#create-user');
  await page.waitForSelector('#users td:text("reader@example.com")');
  await shot('auth');

  // A table and a policy, in the SQL editor as the service (saved snippets this page cannot read are none).
  await page.evaluate(() => localStorage.setItem('trellis-studio-snippets', '{not json'));
  const created = await runSql(
    `create table public.diary (id bigint generated always as identity primary key, owner uuid, entry text);
     alter table public.diary enable row level security;
     create policy "owners read" on public.diary for select to authenticated using (owner = auth.uid());
     grant select on public.diary to authenticated;`,
    'service',
  );
  expect(created).not.toMatch(/error/i);

  // A row, inserted in the table editor; its owner is someone else.
  await page.goto(`${server.url}/studio/#/tables/public/diary`);
  await page.waitForSelector('#insert-row');
  expect(await page.textContent('#page-tables')).toMatch(/owners read/);
  await page.click('#insert-row');
  await page.fill('#row-form input[name=owner]', crypto.randomUUID());
  await page.fill('#row-form input[name=entry]', 'a private entry');
  await page.click('#save-row');
  await page.waitForSelector('#row-saved');
  await page.waitForSelector('#rows td:text("a private entry")');
  await shot('table-editor');
  // The structure is in tabs: the policy shows when its tab is chosen.
  expect(await page.isVisible('#policies')).toBe(false);
  await page.click('#tab-policies');
  await page.waitForSelector('#policies td:text("owners read")');

  // The table list sorts by a column: a click sorts ascending, a second descending.
  await page.goto(`${server.url}/studio/#/tables`);
  const names = () => page.$$eval('#tables tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
  await page.waitForSelector('#tables a:text("diary")');
  await page.click('#tables th:text("name")');
  expect(await names()).toEqual(['diary', 'guestbook']);
  await page.click('#tables th:text("name")');
  expect(await names()).toEqual(['guestbook', 'diary']);
  expect(await page.getAttribute('#tables th:text("name")', 'aria-sort')).toBe('descending');

  // The service sees the row; the user does not: RLS hides it.
  expect(await runSql('select entry from public.diary', 'service')).toMatch(/1 row\(s\)[\s\S]*a private entry/);
  const asUser = await runSql('select entry from public.diary', 'user', 'reader@example.com');
  expect(asUser).toMatch(/0 row\(s\)/);
  expect(asUser).not.toMatch(/a private entry/);
  await shot('sql-editor');
  // The query saved as a snippet, named in a dialog.
  await page.click('button:text("Save snippet")');
  await page.fill('#prompt-value', 'diary entries');
  await page.press('#prompt-value', 'Enter');
  await page.waitForSelector('#snippets option:text("diary entries")', { state: 'attached' });
  expect(await page.evaluate(() => localStorage.getItem('trellis-studio-snippets'))).toBe(
    JSON.stringify({ 'diary entries': 'select entry from public.diary' }),
  );

  // Storage: a bucket and an uploaded file.
  await page.goto(`${server.url}/studio/#/storage`);
  await page.fill('#bucket-name', 'uploads');
  await page.click('#create-bucket');
  await page.waitForSelector('#upload-file');
  await page.setInputFiles('#upload-file', {
    name: 'hello.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('hello from the browser'),
  });
  await page.click('#upload');
  await page.waitForSelector('#uploaded');
  await page.waitForSelector('#object-list td:text("hello.txt")');
  const stored = await server.sql.query("select name from storage.objects where bucket_id = 'uploads'");
  expect(stored.rows).toEqual([{ name: 'hello.txt' }]);
  await shot('storage');

  // Realtime: a channel joined with presence is listed with it; a test broadcast.
  const client = supabaseClient(server);
  try {
    const channel = client.channel('studio-browser', { config: { presence: { key: 'alice' } } });
    await subscribed(channel);
    await channel.track({ typing: false });
    await page.goto(`${server.url}/studio/#/realtime`);
    await page.waitForSelector('#realtime-cards .card');
    await page.waitForSelector('#channels td:text("studio-browser")');
    await page.waitForSelector('#channels li:text("alice")');
    await page.click('#broadcast');
    await page.waitForSelector('#broadcast-sent');
    await shot('realtime');
    await client.removeChannel(channel);
    await page.waitForSelector('#channels td:text("studio-browser")', { state: 'detached', timeout: 10_000 });
  } finally {
    await closeRealtime(client);
  }

  // A sign-in whose hook fails logs a warning; a bench report is kept in the project.
  await supabaseClient(server).auth.signInWithPassword({ email: 'reader@example.com', password: 'password-123' });
  fs.writeFileSync(
    path.join(server.dir, '.trellis', 'bench-last.json'),
    JSON.stringify({
      savedAt: '2026-12-04T20:00:00.000Z',
      command: 'trellis bench crud --quick',
      report: { scenario: 'crud', statement: BENCH_STATEMENT, capacity: 120 },
    }),
  );

  // Observability: traffic makes the request chart move.
  await page.goto(`${server.url}/studio/#/observability`);
  await page.waitForSelector('#request-chart');
  const maxRate = async () => Number(await page.getAttribute('#request-chart', 'data-max'));
  const quiet = await maxRate();
  const traffic = setInterval(() => {
    for (let i = 0; i < 20; i++) void fetch(`${server.url}/health`).then((r) => r.body?.cancel());
  }, 100);
  try {
    await expect.poll(maxRate, { timeout: 15_000, interval: 500 }).toBeGreaterThan(quiet + 50);
    const points = async () => Number(await page.getAttribute('#request-chart', 'data-points'));
    await expect.poll(points, { timeout: 15_000, interval: 500 }).toBeGreaterThan(4);
  } finally {
    clearInterval(traffic);
  }
  expect(await page.textContent('#bench-last')).toContain(BENCH_STATEMENT);
  await shot('observability');
  await page.click('#tab-logs');
  await page.waitForSelector('#log-lines td:text("auth hook failed")');
  await page.selectOption('#log-level', 'error');
  await page.waitForSelector('#log-lines td:text("auth hook failed")', { state: 'detached' });

  // The table editor sets a value to NULL with its box.
  await page.goto(`${server.url}/studio/#/tables/public/diary`);
  await page.click('#rows button:text("Edit")');
  await page.check('#row-form input[name=entry-null]');
  await page.click('#save-row');
  await page.waitForSelector('#row-saved');
  expect((await server.sql.query('select entry from public.diary')).rows).toEqual([{ entry: null }]);

  // Deleting a row asks first; Cancel keeps it, the dialog's Delete removes it.
  await page.click('#rows button:text("Delete")');
  await page.click('#confirm button:text("Cancel")');
  expect(await page.isVisible('#confirm')).toBe(false);
  expect((await server.sql.query('select count(*)::int as n from public.diary')).rows).toEqual([{ n: 1 }]);
  await page.click('#rows button:text("Delete")');
  await page.click('#confirm-yes');
  await page.waitForSelector('#rows tbody tr', { state: 'detached' });
  expect((await server.sql.query('select count(*)::int as n from public.diary')).rows).toEqual([{ n: 0 }]);

  await page.goto(`${server.url}/studio/#/operations`);
  await page.waitForSelector('#no-pending');
  expect(await page.textContent('#page-operations')).toMatch(/20240101000000/);
  await shot('operations');

  // A backup started from the Backups tab ends listed; restored into an empty database, it holds the tables.
  await page.click('#tab-backups');
  await page.fill('#backup-label', 'from the browser');
  await page.click('#start-backup');
  await page.waitForSelector('#jobs .job-succeeded', { timeout: 60_000 });
  await page.waitForSelector('#backup-list td:text("from the browser")');
  const backupId = ((await page.textContent('#backup-list tbody tr td:first-child')) ?? '').trim();
  expect(backupId).toMatch(/^\d{8}T\d{9}Z$/);
  await page.click('#backup-list button:text("Restore")');
  await page.fill('#restore-into', empty.url);
  expect(await page.isDisabled('#restore-start')).toBe(true);
  await page.fill('#restore-confirm', backupId);
  await page.click('#restore-start');
  await page.waitForSelector('#restore-started');
  await expect
    .poll(async () => page.locator('#jobs .job-succeeded').count(), { timeout: 60_000, interval: 500 })
    .toBe(2);
  await shot('backups');
  const restored = new pg.Client({ connectionString: empty.url });
  await restored.connect();
  try {
    const { rows } = await restored.query("select to_regclass('public.diary')::text as diary");
    expect(rows).toEqual([{ diary: 'diary' }]);
  } finally {
    await restored.end();
  }

  // Queues: purged after its name is typed. Cron: a job paused.
  await page.click('#tab-queues');
  await page.waitForSelector('#queue-list td:text("emails")');
  await page.click('#queue-list button:text("Purge")');
  await page.fill('#purge-confirm', 'emails');
  await page.click('#purge-yes');
  await page.waitForSelector('#queue-purged');
  expect((await server.sql.query('select count(*)::int as n from pgmq.q_emails')).rows).toEqual([{ n: 0 }]);
  await page.click('#tab-cron');
  await page.waitForSelector('#cron-list td:text("nightly")');
  await page.click('#cron-list button:text("Pause")');
  await page.waitForSelector('#cron-list .badge:text("paused")');
  expect((await server.sql.query("select active from cron.job where jobname = 'nightly'")).rows).toEqual([
    { active: false },
  ]);

  // Auth's providers and settings: GitHub on, its secret masked.
  await page.goto(`${server.url}/studio/#/auth`);
  await page.click('#tab-settings');
  await page.waitForSelector('#auth-providers td:text("gh-client-id")');
  expect(await page.textContent('#auth-settings')).toContain('********');
  expect(await page.content()).not.toContain(GITHUB_SECRET);
  await shot('auth-settings');
});
