/**
 * safeRedirect: a redirect_to is honoured only when it is the site URL, the API URL or an allowed
 * URL, and it comes back parsed and serialised; everything else falls back to the site URL.
 */
import { describe, expect, test } from 'vitest';
import { safeRedirect } from '../../src/auth/context.js';
import { contextWith } from './helpers.js';

const SITE = 'https://app.example.com';
const ctx = contextWith({
  AUTH_SITE_URL: `${SITE}/`,
  API_EXTERNAL_URL: 'https://api.example.com',
  AUTH_ADDITIONAL_REDIRECT_URLS: [
    'https://partner.example.org/callback',
    'http://localhost:3000/*',
    'https://trailing.example.org/app/',
    'https://*.preview.example.com',
    'https://staging.example.org*',
  ].join(', '),
});

describe('safeRedirect honours the site, the API and the allowed URLs', () => {
  test.each([
    ['the site itself, serialised with its slash', SITE, `${SITE}/`],
    ['a path, query and fragment on the site', `${SITE}/welcome?x=1#top`, `${SITE}/welcome?x=1#top`],
    ['an upper-case host, lower-cased', 'https://APP.Example.COM/Path', `${SITE}/Path`],
    ['the default port, dropped', `${SITE}:443/x`, `${SITE}/x`],
    ['dot segments, resolved on the site', `${SITE}/a/../../b`, `${SITE}/b`],
    ['a backslash, read as a path separator the way browsers read it', `${SITE}\\@evil.com`, `${SITE}/@evil.com`],
    [
      'a percent-encoded CR LF, which stays encoded',
      `${SITE}/%0d%0aSet-Cookie:%20x=1`,
      `${SITE}/%0d%0aSet-Cookie:%20x=1`,
    ],
    ['the API URL', 'https://api.example.com/auth/v1/verify', 'https://api.example.com/auth/v1/verify'],
    ['an allowed URL exactly', 'https://partner.example.org/callback', 'https://partner.example.org/callback'],
    [
      'an allowed URL with a trailing slash',
      'https://partner.example.org/callback/',
      'https://partner.example.org/callback/',
    ],
    [
      'a path below an allowed URL',
      'https://partner.example.org/callback/deeper',
      'https://partner.example.org/callback/deeper',
    ],
    [
      'an allowed URL with a query',
      'https://partner.example.org/callback?code=1',
      'https://partner.example.org/callback?code=1',
    ],
    [
      'an allowed URL with a fragment',
      'https://partner.example.org/callback#done',
      'https://partner.example.org/callback#done',
    ],
    ['anything under a trailing-* pattern', 'http://localhost:3000/any/path?x=1', 'http://localhost:3000/any/path?x=1'],
    ['anything after a slashless trailing-* pattern', 'https://staging.example.org/x', 'https://staging.example.org/x'],
    ['the bare origin of a trailing-/* pattern', 'http://localhost:3000', 'http://localhost:3000/'],
    [
      'a path below a pattern written with a trailing slash',
      'https://trailing.example.org/app/page',
      'https://trailing.example.org/app/page',
    ],
    [
      'a pattern written with a trailing slash, as written',
      'https://trailing.example.org/app/',
      'https://trailing.example.org/app/',
    ],
  ])('%s', (_name, requested, expected) => {
    expect(safeRedirect(ctx, requested)).toBe(expected);
  });
});

describe('safeRedirect sends anything else to the site URL', () => {
  test.each([
    ['no redirect_to', undefined],
    ['an empty redirect_to', ''],
    ['a raw CR LF that would split the Location header', `${SITE}/\r\nSet-Cookie: x=1`],
    ['a raw tab', `${SITE}/\tx`],
    ['a raw NUL', `${SITE}/\u0000`],
    ['a raw DEL', `${SITE}/\u007f`],
    ['a host that only starts with the site host', 'https://app.example.com.evil.com/'],
    ['the site host as user name (https://site@evil)', 'https://app.example.com@evil.com/'],
    ['credentials in front of the site host', 'https://user:pw@app.example.com/'],
    ['a backslash trick that lands on another host', 'https://evil.com\\@app.example.com'],
    ['the site over plain http', 'http://app.example.com/'],
    ['another port on the site host', 'https://app.example.com:8443/'],
    ['javascript:', 'javascript:alert(1)'],
    ['javascript: in capitals, dressed as the site', 'JAVASCRIPT:alert(1)//https://app.example.com'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['a protocol-relative URL', '//evil.com/'],
    ['a relative path', '/dashboard'],
    ['not a URL at all', 'not a url'],
    ['a sibling path of an allowed URL', 'https://partner.example.org/callbackevil'],
    ['the origin of an allowed URL', 'https://partner.example.org/'],
    ['a neighbouring port of a trailing-* pattern', 'http://localhost:3001/'],
    ['user info in front of a trailing-* pattern', 'http://localhost:3000@evil.com/'],
    ['a slashless trailing-* pattern as user name (https://pattern@evil)', 'https://staging.example.org@evil.com/'],
    ['a pattern written with a trailing slash, without it', 'https://trailing.example.org/app'],
    [
      'a subdomain of a pattern with * in its host: only a trailing * is a wildcard',
      'https://pr-1.preview.example.com/',
    ],
  ])('%s', (_name, requested) => {
    expect(safeRedirect(ctx, requested)).toBe(SITE);
  });
});

test('with no site URL configured, the API URL is the site', () => {
  const bare = contextWith({ API_EXTERNAL_URL: 'https://api.example.com/' });
  expect(safeRedirect(bare, 'https://evil.com/')).toBe('https://api.example.com');
  expect(safeRedirect(bare, 'https://api.example.com/welcome')).toBe('https://api.example.com/welcome');
});
