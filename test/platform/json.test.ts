import { describe, expect, test } from 'vitest';
import { JsonNumber, parseJson, stringifyJson } from '../../src/platform/json.js';

describe('parseJson and stringifyJson keep every number as written', () => {
  test.each([
    ['{"id":1234567890123456789}'],
    ['{"id":9007199254740993}'],
    ['{"n":12345678901234567890123456789}'],
    ['{"n":1.50}'],
    ['{"n":1e400}'],
    ['{"n":-0}'],
    ['{"n":1E+2}'],
    ['{"n":0.1000000000000000055511151231257827}'],
    ['[1,2,{"deep":[{"x":123456789012345678901234567890.123}]}]'],
    ['12345678901234567890'],
    ['{"date":"2024-01-01","id":1e21}'],
  ])('%s round-trips byte for byte', (text) => {
    expect(stringifyJson(parseJson(text))).toBe(text);
  });

  test.each([
    ['{"a":1,"b":2.5,"c":"x"}', { a: 1, b: 2.5, c: 'x' }],
    ['{"s":"12345678901234567890 in a string","n":7}', { s: '12345678901234567890 in a string', n: 7 }],
    ['{"date":"2024-01-01"}', { date: '2024-01-01' }],
    ['[-1,0,3]', [-1, 0, 3]],
  ])('%s parses to plain values where they are exact', (text, value) => {
    expect(parseJson(text)).toEqual(value);
  });

  test('an exact number stays a plain number beside one that is not', () => {
    const parsed = parseJson('{"small":42,"big":123456789012345678901}') as Record<string, unknown>;
    expect(parsed.small).toBe(42);
    expect(parsed.big).toBeInstanceOf(JsonNumber);
    expect(String(parsed.big)).toBe('123456789012345678901');
  });

  test.each([['{"a":'], ['{"a":1,}'], ['nul'], ['{"a":01}'], ['']])('%s is a SyntaxError', (text) => {
    expect(() => parseJson(text)).toThrow(SyntaxError);
  });

  test('a __proto__ key is an own key, never the prototype, on both paths', () => {
    for (const text of ['{"__proto__":{"polluted":1}}', '{"__proto__":{"polluted":1},"n":1e400}']) {
      const parsed = parseJson(text) as Record<string, unknown>;
      expect(Object.keys(parsed)).toContain('__proto__');
      expect((parsed as { polluted?: unknown }).polluted).toBeUndefined();
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    }
  });
});

test('JSON.stringify of a kept number never writes its object form', () => {
  const text = JSON.stringify(parseJson('{"n":123456789012345678901}'));
  // Node.js 21+ writes it verbatim (JSON.rawJSON); Node.js 20 writes the nearest double.
  expect(['{"n":123456789012345678901}', '{"n":123456789012345680000}']).toContain(text);
});
