import { expect, test } from 'vitest';
import { npmSpecifier, parseFunctionPath } from '../../src/functions/index.js';

test.each([
  ['/hello', { ok: true, name: 'hello', rest: '' }],
  ['/hello/', { ok: true, name: 'hello', rest: '/' }],
  ['/hello/users/1', { ok: true, name: 'hello', rest: '/users/1' }],
  ['/my_fn-2/a%20b', { ok: true, name: 'my_fn-2', rest: '/a%20b' }],
  ['/hel%6Co', { ok: true, name: 'hello', rest: '' }],
])('%s names a function', (raw, expected) => expect(parseFunctionPath(raw)).toEqual(expected));

test.each([
  ['', /No function name/],
  ['/', /No function name/],
  ['/..', /cannot hold a path/],
  ['/.', /cannot hold a path/],
  ['/a%2Fb', /cannot hold a path/],
  ['/a%5Cb', /cannot hold a path/],
  ['/a%00', /NUL/],
  ['/_shared', /must start with a letter/],
  ['/1abc', /must start with a letter/],
  ['/a.b', /must start with a letter/],
  ['/%ZZ', /percent-encoding/],
  [`/${'a'.repeat(129)}`, /at most 128/],
])('%s is refused', (raw, message) => {
  const parsed = parseFunctionPath(raw);
  expect(parsed.ok).toBe(false);
  if (!parsed.ok) expect(parsed.message).toMatch(message);
});

test.each([
  ['npm:@supabase/supabase-js@2', '@supabase/supabase-js'],
  ['npm:@supabase/supabase-js@2.39.3/dist/module', '@supabase/supabase-js/dist/module'],
  ['npm:@supabase/supabase-js', '@supabase/supabase-js'],
  ['npm:zod@^3.22', 'zod'],
  ['npm:zod', 'zod'],
  ['npm:stripe@14.0.0/lib/x.js', 'stripe/lib/x.js'],
  ['npm:/hono@4', 'hono'],
])('%s resolves as %s', (spec, expected) => expect(npmSpecifier(spec)).toBe(expected));
