/**
 * The reference chat app (examples/chat) in Chromium: two users in two browser contexts sign up,
 * chat live, see each other type and come online, get unread counts, scroll back through history
 * and upload an avatar. Everything goes through supabase-js in the page, against a real Trellis.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EXAMPLE_DIR, serveBuilt, type ServedPage } from '../../../examples/chat/page.js';
import { freePort } from '../../helpers/cli.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { logicalDatabase } from '../../realtime/changes/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const available = fs.existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  console.log(`skipping the chat example's browser test: ${CHROMIUM} is not installed (apt-get install chromium)`);
}

// A 1×1 PNG, the avatar.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

describe.skipIf(!available)('examples/chat in Chromium', () => {
  let server: TestServer;
  let page: ServedPage;
  let browser: Browser;
  let outDir: string;
  let database: Awaited<ReturnType<typeof logicalDatabase>>;

  beforeAll(async () => {
    const migration = fs.readFileSync(
      path.join(EXAMPLE_DIR, 'supabase', 'migrations', '20240101000000_chat.sql'),
      'utf8',
    );
    // Live messages come from the WAL: an embedded PostgreSQL (wal_level=logical), as `npm start` runs.
    database = await logicalDatabase();
    server = await startTestServer({ databaseUrl: database.url, migrations: { '20240101000000_chat.sql': migration } });
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-chat-page-'));
    page = await serveBuilt(server.url, server.anonKey, await freePort(), outDir);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await page?.close();
    await server?.stop();
    await database?.stop();
    fs.rmSync(outDir, { recursive: true, force: true });
  });

  async function signUp(username: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const tab = await context.newPage();
    tab.on('pageerror', (err) => console.error(`${username}'s page: ${err.message}`));
    await tab.goto(page.url);
    await tab.fill('#email', `${username}@example.com`);
    await tab.fill('#password', `${username} password`);
    await tab.fill('#username', username);
    await tab.click('#sign-up');
    await tab.waitForSelector('#app:not([hidden])');
    await expect.poll(() => tab.textContent('#my-name')).toBe(username);
    await expect.poll(() => tab.textContent('#room-name')).toBe('# general');
    return tab;
  }

  test('two users chat live, see typing and presence, unread counts, history and avatars', async () => {
    const ada = await signUp('ada');
    const bob = await signUp('bob');

    // Presence: each sees the other online in #general.
    await expect.poll(() => ada.textContent('#online'), { timeout: 10_000 }).toContain('bob');
    await expect.poll(() => bob.textContent('#online'), { timeout: 10_000 }).toContain('ada');

    // Typing: broadcast, shown to the other only.
    await ada.type('#message', 'hel');
    await expect.poll(() => bob.textContent('#typing'), { timeout: 10_000 }).toBe('ada is typing…');
    expect(await ada.textContent('#typing')).toBe('');

    // Messages: inserted through the data API, delivered by postgres_changes under RLS.
    await ada.fill('#message', 'hello bob');
    await ada.press('#message', 'Enter');
    await expect
      .poll(() => bob.locator('#messages li').allTextContents(), { timeout: 10_000 })
      .toEqual([expect.stringContaining('hello bob')]);
    await bob.fill('#message', 'hi ada');
    await bob.press('#message', 'Enter');
    await expect
      .poll(() => ada.locator('#messages .body').allTextContents(), { timeout: 10_000 })
      .toEqual(['hello bob', 'hi ada']);
    await expect.poll(() => bob.textContent('#typing')).toBe('');

    // Unread counts: bob looks at #random; ada writes twice in #general.
    await bob.click('#rooms li[data-room="random"]');
    await expect.poll(() => bob.textContent('#room-name')).toBe('# random');
    await ada.fill('#message', 'are you there?');
    await ada.press('#message', 'Enter');
    await ada.fill('#message', 'bob?');
    await ada.press('#message', 'Enter');
    await expect.poll(() => bob.textContent('#rooms li[data-room="general"] .badge'), { timeout: 10_000 }).toBe('2');
    await bob.click('#rooms li[data-room="general"]');
    await expect.poll(() => bob.locator('#rooms li[data-room="general"] .badge').count()).toBe(0);

    // History: 45 older messages in #random; the page shows 30, scrolling up loads the rest.
    const adaId = (await server.sql.query<{ id: string }>(`select id from public.profiles where username = 'ada'`))
      .rows[0]?.id;
    await server.sql.query(
      `insert into public.members (room_id, user_id) select id, $1 from public.rooms where name = 'random' on conflict do nothing`,
      [adaId],
    );
    await server.sql.query(
      `insert into public.messages (room_id, author_id, body) select (select id from public.rooms where name = 'random'), $1, 'old ' || g from generate_series(1, 45) g`,
      [adaId],
    );
    await bob.click('#rooms li[data-room="random"]');
    await expect.poll(() => bob.locator('#messages li').count(), { timeout: 10_000 }).toBe(30);
    expect(await bob.locator('#messages .body').last().textContent()).toBe('old 45');
    await bob.locator('#messages').evaluate((list) => list.scrollTo(0, 0));
    await expect.poll(() => bob.locator('#messages li').count(), { timeout: 10_000 }).toBe(45);
    expect(await bob.locator('#messages .body').first().textContent()).toBe('old 1');

    // Avatar: uploaded to storage in the user's own folder, served from the public URL.
    await ada.setInputFiles('#avatar-file', { name: 'me.png', mimeType: 'image/png', buffer: PNG });
    await expect
      .poll(() => ada.getAttribute('#my-avatar', 'src'), { timeout: 10_000 })
      .toContain(`/storage/v1/object/public/avatars/${adaId}/avatar`);
    const src = (await ada.getAttribute('#my-avatar', 'src')) ?? '';
    const image = await fetch(src);
    expect(image.status).toBe(200);
    expect(Buffer.from(await image.arrayBuffer()).equals(PNG)).toBe(true);

    await ada.click('#rooms li[data-room="general"]');
    await expect.poll(() => ada.locator('#messages li').count()).toBe(4);
    // Both back in #general, bob typing: the picture the screenshot keeps.
    await bob.click('#rooms li[data-room="general"]');
    await expect.poll(() => ada.textContent('#online'), { timeout: 10_000 }).toBe('online: ada, bob');
    await bob.type('#message', 'see you');
    await expect.poll(() => ada.textContent('#typing'), { timeout: 10_000 }).toBe('bob is typing…');
    // The screenshot kept in docs/ is refreshed on request; every run takes one.
    const shot =
      process.env.TRELLIS_UPDATE_SCREENSHOTS === '1'
        ? path.join(EXAMPLE_DIR, '..', '..', 'docs', 'chat-example.png')
        : path.join(outDir, 'chat.png');
    await ada.screenshot({ path: shot });
    expect(fs.statSync(shot).size).toBeGreaterThan(5000);
  }, 120_000);
});
