/**
 * PostgreSQL's text output of a column value -> the JSON value Supabase's Realtime sends for it.
 * Supabase builds records with `to_jsonb(value::type)`: numbers and booleans as JSON numbers and
 * booleans, json/jsonb as JSON, arrays of those as JSON arrays, timestamps in ISO 8601 form, and
 * every other type as its text. Pure; keyed by the type OIDs built into PostgreSQL (a type the
 * table below does not know, such as an enum or a domain, stays text).
 */

import { jsonNumber, parseJson } from '../../platform/json.js';

type Scalar = 'int' | 'float' | 'numeric' | 'bool' | 'json' | 'timestamp' | 'timestamptz' | 'text';

const SCALARS: ReadonlyMap<number, Scalar> = new Map<number, Scalar>([
  [20, 'int'], // int8
  [21, 'int'], // int2
  [23, 'int'], // int4
  [26, 'int'], // oid
  [700, 'float'], // float4
  [701, 'float'], // float8
  [1700, 'numeric'],
  [16, 'bool'],
  [114, 'json'],
  [3802, 'json'], // jsonb
  [1114, 'timestamp'],
  [1184, 'timestamptz'],
]);

/** Array type OID -> its element type OID, for the built-in types. */
const ARRAYS: ReadonlyMap<number, number> = new Map([
  [1016, 20],
  [1005, 21],
  [1007, 23],
  [1028, 26],
  [1021, 700],
  [1022, 701],
  [1231, 1700],
  [1000, 16],
  [199, 114],
  [3807, 3802],
  [1115, 1114],
  [1185, 1184],
  [1009, 25], // text[]
  [1015, 1043], // varchar[]
  [1014, 1042], // bpchar[]
  [2951, 2950], // uuid[]
  [1182, 1082], // date[]
]);

export function textToJson(typeOid: number, text: string): unknown {
  const element = ARRAYS.get(typeOid);
  if (element !== undefined) return parseArrayLiteral(text).map((item) => convertItem(element, item));
  return scalar(SCALARS.get(typeOid) ?? 'text', text);
}

function convertItem(elementOid: number, item: ArrayItem): unknown {
  if (item === null) return null;
  if (Array.isArray(item)) return item.map((inner) => convertItem(elementOid, inner));
  return scalar(SCALARS.get(elementOid) ?? 'text', item);
}

function scalar(kind: Scalar, text: string): unknown {
  switch (kind) {
    case 'int':
      // to_jsonb writes int8 as a JSON number with every digit; so does Trellis (platform/json.ts),
      // whatever a JavaScript client then makes of it.
      return jsonNumber(text);
    case 'float':
    case 'numeric':
      // NaN and ±Infinity have no JSON number: to_jsonb gives them as strings. A numeric keeps its
      // scale (1.50) and its digits.
      return Number.isFinite(Number(text)) ? jsonNumber(text) : text;
    case 'bool':
      return text === 't';
    case 'json':
      try {
        return parseJson(text);
      } catch {
        return text;
      }
    case 'timestamp':
      // Text output `2024-05-01 10:00:00.5`; to_jsonb's ISO form `2024-05-01T10:00:00.5`.
      return text.replace(' ', 'T');
    case 'timestamptz':
      // `2024-05-01 10:00:00.5+00` -> `2024-05-01T10:00:00.5+00:00`.
      return text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
    default:
      return text;
  }
}

export type ArrayItem = string | null | ArrayItem[];

/**
 * Parses PostgreSQL's array output (`{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`, or with
 * explicit bounds `[0:1]={7,8}`).
 */
export function parseArrayLiteral(text: string): ArrayItem[] {
  let i = text.startsWith('[') ? text.indexOf('=') + 1 : 0;
  const parseList = (): ArrayItem[] => {
    if (text[i] !== '{') throw new Error(`array literal expected "{" at ${i}`);
    i++;
    const items: ArrayItem[] = [];
    if (text[i] === '}') {
      i++;
      return items;
    }
    for (;;) {
      if (text[i] === '{') {
        items.push(parseList());
      } else if (text[i] === '"') {
        i++;
        let s = '';
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\') i++;
          s += text[i] ?? '';
          i++;
        }
        i++;
        items.push(s);
      } else {
        const start = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
        const raw = text.slice(start, i).trim();
        items.push(raw === 'NULL' ? null : raw);
      }
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return items;
      }
      throw new Error(`array literal: unexpected "${text[i] ?? 'end'}" at ${i}`);
    }
  };
  return parseList();
}
