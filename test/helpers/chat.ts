/**
 * The one chat fixture: the reference chat app's migration (examples/chat), which tests that need
 * the chat schema load as their first migration, adding only what they test beyond the app.
 */
import fs from 'node:fs';
import path from 'node:path';

export const CHAT_FIXTURE_FILE = path.resolve(
  import.meta.dirname,
  '..',
  '..',
  'examples',
  'chat',
  'supabase',
  'migrations',
  '20240101000000_chat.sql',
);

export const CHAT_FIXTURE = fs.readFileSync(CHAT_FIXTURE_FILE, 'utf8');
