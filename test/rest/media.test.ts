import { describe, expect, test } from 'vitest';
import { acceptsStrippedNulls, stripNulls } from '../../src/rest/media.js';
import { parseJson, stringifyJson } from '../../src/platform/json.js';

describe('Accept: …;nulls=stripped', () => {
  test.each([
    ['application/vnd.pgrst.object+json;nulls=stripped', true],
    ['application/vnd.pgrst.array+json;nulls=stripped', true],
    ['application/vnd.pgrst.array+json; nulls=stripped', true],
    ['application/vnd.pgrst.object;NULLS=STRIPPED', true],
    ['text/csv, application/vnd.pgrst.array+json;nulls=stripped', true],
    // PostgREST reads the parameter only on its own media types.
    ['application/json;nulls=stripped', false],
    ['application/vnd.pgrst.object+json', false],
    ['application/vnd.pgrst.array+json;nulls=kept', false],
    ['', false],
  ])('%j strips nulls: %s', (accept, strips) => {
    expect(acceptsStrippedNulls(accept)).toBe(strips);
  });

  test.each([
    ['fields that are null go, however deep', '[{"a":null,"b":{"c":null,"d":1}}]', '[{"b":{"d":1}}]'],
    ['nulls in arrays stay', '{"a":[null,{"b":null}],"c":null}', '{"a":[null,{}]}'],
    ['scalars and null pass', 'null', 'null'],
    ['numbers keep every digit', '{"n":12345678901234567890.50,"z":null}', '{"n":12345678901234567890.50}'],
    ['a __proto__ key stays a field', '{"__proto__":{"x":1},"y":null}', '{"__proto__":{"x":1}}'],
  ])('%s', (_name, body, stripped) => {
    expect(stringifyJson(stripNulls(parseJson(body)))).toBe(stripped);
  });
});
