/**
 * The bad-input table, in PocketBase's style: one row per hostile request (name, request, the
 * status and a fragment of the body expected), over every surface: /auth/v1, /rest/v1,
 * /storage/v1 and realtime's HTTP API. Each answer is a 4xx in its family's error shape, never a
 * 5xx, and the server is still healthy after the whole table.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RawSocket } from '../../helpers/realtime.js';
import { headersFor, startWorld, type Caller, type World } from './world.js';

interface Row {
  readonly name: string;
  readonly method: string;
  /** Sent as written: raw bytes, percent-escapes and all. */
  readonly url: string;
  /** Whose token goes with the request (default: the signed-up user's). */
  readonly caller?: Caller;
  readonly headers?: Record<string, string>;
  /** A JSON body as a value, or the exact text/bytes to send. */
  readonly json?: unknown;
  readonly body?: string | Buffer;
  readonly status: number;
  /** A fragment the response body must contain. */
  readonly has: string;
}

const NUL = '\u0000';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const huge = (bytes: number) => JSON.stringify({ title: 'x'.repeat(bytes) });

/** storage-api's error shape: HTTP 400 for every client error, the real status as text in the body. */
const storage400 = (fragment: string) => ({ status: 400, has: fragment });

const STORAGE: Row[] = [
  // The six NUL 500s of issue 12, item 5: each now a 400 naming the field.
  {
    name: 'remove: NUL in a prefix',
    method: 'DELETE',
    url: '/storage/v1/object/docs',
    json: { prefixes: [`a${NUL}b`] },
    ...storage400('prefixes'),
  },
  {
    name: 'list: NUL in search',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    json: { prefix: '', search: `a${NUL}` },
    ...storage400('search'),
  },
  {
    name: 'sign many: NUL in a path',
    method: 'POST',
    url: '/storage/v1/object/sign/docs',
    json: { expiresIn: 60, paths: [`x${NUL}`] },
    ...storage400('paths'),
  },
  {
    name: 'upload: NUL in x-metadata (a \\u0000 escape)',
    method: 'POST',
    url: '/storage/v1/object/docs/$USER/meta.txt',
    headers: { 'content-type': 'text/plain', 'x-metadata': b64('{"a":"\\u0000"}') },
    body: 'hello',
    ...storage400('metadata'),
  },
  {
    name: 'upload: NUL in an x-metadata key',
    method: 'POST',
    url: '/storage/v1/object/docs/$USER/meta2.txt',
    headers: { 'content-type': 'text/plain', 'x-metadata': b64('{"a\\u0000":1}') },
    body: 'hello',
    ...storage400('metadata'),
  },
  {
    name: 'upload: NUL in the multipart metadata field',
    method: 'POST',
    url: '/storage/v1/object/docs/$USER/meta3.txt',
    headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
    body: '--XyZ\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"a":"\\u0000"}\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n',
    ...storage400('metadata'),
  },
  {
    name: 'list: NUL in prefix',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    json: { prefix: `a${NUL}` },
    ...storage400('prefix'),
  },
  {
    name: 'list: NUL in a JSON key',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    json: { [`pre${NUL}fix`]: 'a' },
    ...storage400('pre\\\\u0000fix must not contain the NUL character'),
  },
  {
    name: 'move: NUL in the destination',
    method: 'POST',
    url: '/storage/v1/object/move',
    json: { bucketId: 'docs', sourceKey: 'a/b', destinationKey: `a/${NUL}` },
    ...storage400('destinationKey must not contain the NUL character'),
  },
  {
    name: 'copy: NUL in the bucket id',
    method: 'POST',
    url: '/storage/v1/object/copy',
    json: { bucketId: `docs${NUL}`, sourceKey: 'a/b', destinationKey: 'a/c' },
    ...storage400('bucketId must not contain the NUL character'),
  },
  {
    name: 'sign one: %00 in the path',
    method: 'POST',
    url: '/storage/v1/object/sign/docs/a%00b',
    json: { expiresIn: 60 },
    ...storage400('Invalid key'),
  },
  {
    name: 'sign many: %00 in the bucket',
    method: 'POST',
    url: '/storage/v1/object/sign/docs%00',
    json: { expiresIn: 60, paths: ['a'] },
    ...storage400('Bucket name invalid'),
  },
  // Found by the fuzz run: a malformed escape in the bucket of a multi-sign was a URIError (500).
  {
    name: 'sign many: a malformed escape in the bucket',
    method: 'POST',
    url: '/storage/v1/object/sign/docs%ff',
    json: { expiresIn: 60, paths: ['a'] },
    ...storage400('Bucket name invalid'),
  },
  {
    name: 'sign many: a lone % in the bucket',
    method: 'POST',
    url: '/storage/v1/object/sign/docs%',
    json: { expiresIn: 60, paths: ['a'] },
    ...storage400('Bucket name invalid'),
  },
  {
    name: 'download: %00 in the name',
    method: 'GET',
    url: '/storage/v1/object/authenticated/docs/a%00',
    ...storage400('Invalid key'),
  },
  {
    name: 'public download: %00 in the bucket',
    method: 'GET',
    url: '/storage/v1/object/public/pi%00cs/a.png',
    caller: 'none',
    ...storage400('Bucket name invalid'),
  },
  { name: 'bucket list: NUL in search', method: 'GET', url: '/storage/v1/bucket?search=a%00', ...storage400('search') },
  {
    name: 'create bucket: NUL in the name',
    method: 'POST',
    url: '/storage/v1/bucket',
    caller: 'service',
    json: { name: `b${NUL}` },
    ...storage400('name must not contain the NUL character'),
  },
  {
    name: 'create bucket: NUL in a MIME type',
    method: 'POST',
    url: '/storage/v1/bucket',
    caller: 'service',
    json: { name: 'b1', allowed_mime_types: [`image/png${NUL}`] },
    ...storage400('allowed_mime_types'),
  },
  // Malformed and mistyped bodies.
  {
    name: 'list: body is not JSON',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    body: '{"prefix":',
    headers: { 'content-type': 'application/json' },
    ...storage400('not valid JSON'),
  },
  {
    name: 'list: body is an array',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    json: [1, 2],
    ...storage400('JSON object'),
  },
  {
    name: 'list: limit is a huge number',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    json: { limit: 1e308 },
    ...storage400('limit'),
  },
  {
    name: 'list: offset is a string',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    json: { offset: '1; drop table storage.objects' },
    ...storage400('offset'),
  },
  {
    name: 'list: sortBy column is SQL',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    json: { sortBy: { column: 'name; drop table storage.objects', order: 'asc' } },
    ...storage400('sortBy.column'),
  },
  {
    name: 'remove: prefixes is a string',
    method: 'DELETE',
    url: '/storage/v1/object/docs',
    json: { prefixes: 'a' },
    ...storage400('prefixes'),
  },
  {
    name: 'sign many: expiresIn is an object',
    method: 'POST',
    url: '/storage/v1/object/sign/docs',
    json: { expiresIn: { a: 1 }, paths: ['a'] },
    ...storage400('expiresIn'),
  },
  {
    name: 'create bucket: file_size_limit is nonsense',
    method: 'POST',
    url: '/storage/v1/bucket',
    caller: 'service',
    json: { name: 'b2', file_size_limit: '12 parsecs' },
    ...storage400('file size'),
  },
  // Found while probing: a limit past bigint was PostgreSQL's error (a 500).
  {
    name: 'create bucket: a file_size_limit past bigint',
    method: 'POST',
    url: '/storage/v1/bucket',
    caller: 'service',
    json: { name: 'b3', file_size_limit: '99999999999999999999GB' },
    ...storage400('file_size_limit is too large'),
  },
  {
    name: 'list: a body of 2 MB',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    body: huge(2 * 1024 * 1024),
    ...storage400('maximum allowed size'),
  },
  {
    name: 'list: JSON nested 100,000 deep',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    body: `{"prefix":${deepArray(100_000)}}`,
    ...storage400('nested too deeply'),
  },
  {
    name: 'upload: x-metadata nested 1,000 deep',
    method: 'POST',
    url: '/storage/v1/object/docs/$USER/deep.txt',
    headers: { 'content-type': 'text/plain', 'x-metadata': b64(deepObject(1000)) },
    body: 'x',
    ...storage400('metadata is nested too deeply'),
  },
  {
    name: 'upload: x-metadata that is not base64 JSON',
    method: 'POST',
    url: '/storage/v1/object/docs/$USER/bad.txt',
    headers: { 'content-type': 'text/plain', 'x-metadata': '%%%' },
    body: 'x',
    ...storage400('metadata must be a JSON object'),
  },
  {
    name: 'bucket id with SQL in it',
    method: 'GET',
    url: "/storage/v1/bucket/docs';drop%20table%20storage.objects;--",
    ...storage400(''),
  },
  {
    name: 'a bucket id of 101 characters',
    method: 'GET',
    url: `/storage/v1/bucket/${'b'.repeat(101)}`,
    ...storage400('Bucket name invalid'),
  },
  {
    name: 'an object name of 2000 bytes',
    method: 'GET',
    url: `/storage/v1/object/authenticated/docs/${'n'.repeat(2000)}`,
    ...storage400('Invalid key'),
  },
  // Tokens.
  {
    name: 'a forged token',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    caller: 'forged',
    json: {},
    ...storage400('invalid signature'),
  },
  {
    name: 'an expired token',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    caller: 'expired',
    json: {},
    ...storage400('jwt expired'),
  },
  {
    name: 'an alg:none token',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    caller: 'algNone',
    json: {},
    ...storage400(''),
  },
  {
    name: 'a token for the postgres role',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    caller: 'superuser',
    json: {},
    ...storage400('not allowed'),
  },
  { name: 'no apikey', method: 'GET', url: '/storage/v1/bucket', caller: 'none', status: 401, has: 'apikey' },
];

const REALTIME: Row[] = [
  // The two NUL 500s of issue 12, item 5.
  {
    name: 'broadcast API: NUL in a private topic',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: [{ topic: `room:a${NUL}`, event: 'e', payload: {}, private: true }] },
    status: 400,
    has: 'messages.0.topic',
  },
  {
    name: 'broadcast API: NUL in a public topic',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: [{ topic: `a${NUL}`, event: 'e', payload: {} }] },
    status: 400,
    has: 'messages.0.topic: must not contain the NUL character',
  },
  {
    name: 'broadcast API: NUL in an event',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: [{ topic: 'room:a', event: `e${NUL}`, payload: {}, private: true }] },
    status: 400,
    has: 'messages.0.event',
  },
  {
    name: 'httpSend: %00 in a private topic',
    method: 'POST',
    url: '/realtime/v1/api/broadcast/room%3Aa%00/events/e?private=true',
    json: { a: 1 },
    status: 400,
    has: 'topic',
  },
  {
    name: 'httpSend: %00 in the event',
    method: 'POST',
    url: '/realtime/v1/api/broadcast/room%3Aa/events/e%00?private=true',
    json: { a: 1 },
    status: 400,
    has: 'event',
  },
  // A NUL inside a payload is only relayed, never stored: accepted, as on Supabase.
  {
    name: 'broadcast API: \\u0000 inside a payload is relayed',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: [{ topic: 'room:a', event: 'e', payload: { t: NUL } }] },
    status: 202,
    has: '',
  },
  {
    name: 'broadcast API: not JSON',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    body: '{"messages":[',
    headers: { 'content-type': 'application/json' },
    status: 400,
    has: 'bad_json',
  },
  {
    name: 'broadcast API: messages is a string',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: 'hi' },
    status: 400,
    has: 'messages',
  },
  {
    name: 'broadcast API: private is a string',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: [{ topic: 't', event: 'e', private: 'yes' }] },
    status: 400,
    has: 'messages.0.private',
  },
  {
    name: 'broadcast API: a topic of 256 characters',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: [{ topic: 't'.repeat(256), event: 'e' }] },
    status: 400,
    has: 'messages.0.topic',
  },
  {
    name: 'broadcast API: a payload nested 100,000 deep',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    body: `{"messages":[{"topic":"t","event":"e","payload":${deepObject(100_000)}}]}`,
    status: 400,
    has: 'deep',
  },
  {
    name: 'broadcast API: a body of 10 MB',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    body: huge(10 * 1024 * 1024),
    status: 413,
    has: 'Payload Too Large',
  },
  {
    name: 'broadcast API: one payload over the limit',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: [{ topic: 't', event: 'e', payload: { x: 'x'.repeat(70_000) } }] },
    status: 413,
    has: 'the limit is 65536 bytes',
  },
  {
    name: 'httpSend: body is not JSON',
    method: 'POST',
    url: '/realtime/v1/api/broadcast/t/events/e',
    body: 'nope',
    headers: { 'content-type': 'application/json' },
    status: 400,
    has: 'bad_json',
  },
  {
    name: 'broadcast API: a forged token on a private topic',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    caller: 'forged',
    json: { messages: [{ topic: 'room:a', event: 'e', private: true }] },
    status: 401,
    has: 'JwtSignatureError',
  },
  {
    name: 'broadcast API: an expired token on a private topic',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    caller: 'expired',
    json: { messages: [{ topic: 'room:a', event: 'e', private: true }] },
    status: 401,
    has: 'expired',
  },
  {
    name: 'broadcast API: an alg:none token on a private topic',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    caller: 'algNone',
    json: { messages: [{ topic: 'room:a', event: 'e', private: true }] },
    status: 401,
    has: 'JWT',
  },
  {
    name: 'broadcast API: a SQL-looking private topic the policy refuses',
    method: 'POST',
    url: '/realtime/v1/api/broadcast',
    json: { messages: [{ topic: "x' or 1=1 --", event: 'e', private: true }] },
    status: 403,
    has: 'permissions',
  },
];

const REST: Row[] = [
  {
    name: 'insert: \\u0000 in a text value',
    method: 'POST',
    url: '/rest/v1/notes',
    json: { title: `a${NUL}` },
    status: 400,
    has: '22P05',
  },
  {
    name: 'upsert: \\u0000 in on_conflict',
    method: 'POST',
    url: '/rest/v1/notes?on_conflict=i%00d',
    headers: { prefer: 'resolution=merge-duplicates' },
    json: { title: 'u' },
    status: 400,
    has: '',
  },
  {
    name: 'insert: \\u0000 in a jsonb value',
    method: 'POST',
    url: '/rest/v1/notes',
    json: { body: { k: NUL } },
    status: 400,
    has: '22P05',
  },
  {
    name: 'insert: \\u0000 in a jsonb key',
    method: 'POST',
    url: '/rest/v1/notes',
    json: { body: { [`k${NUL}`]: 1 } },
    status: 400,
    has: '22P05',
  },
  {
    name: 'insert: \\u0000 in a column name',
    method: 'POST',
    url: '/rest/v1/notes',
    json: { [`ti${NUL}tle`]: 'x' },
    status: 400,
    has: '',
  },
  { name: 'filter: %00 in a value', method: 'GET', url: '/rest/v1/notes?title=eq.a%00b', status: 400, has: '22021' },
  {
    name: 'filter: %00 in an in-list',
    method: 'GET',
    url: '/rest/v1/notes?title=in.(a,b%00)',
    status: 400,
    has: '22021',
  },
  {
    name: 'filter: %00 in a JSON path value',
    method: 'GET',
    url: '/rest/v1/notes?body->>k=eq.%00',
    status: 400,
    has: '22021',
  },
  {
    name: 'delete: %00 in the filter',
    method: 'DELETE',
    url: '/rest/v1/notes?title=eq.%00',
    status: 400,
    has: '22021',
  },
  { name: 'filter: %00 in a column', method: 'GET', url: '/rest/v1/notes?ti%00tle=eq.a', status: 400, has: 'PGRST100' },
  {
    name: 'select: %00 in a name',
    method: 'GET',
    url: '/rest/v1/notes?select=id,ti%00tle',
    status: 400,
    has: 'PGRST100',
  },
  { name: 'order: %00 in a name', method: 'GET', url: '/rest/v1/notes?order=ti%00tle', status: 400, has: 'PGRST100' },
  { name: 'a table name with %00', method: 'GET', url: '/rest/v1/no%00tes', status: 404, has: '' },
  {
    name: 'rpc: \\u0000 in an argument',
    method: 'POST',
    url: '/rest/v1/rpc/echo',
    json: { t: `a${NUL}` },
    status: 400,
    has: '22P05',
  },
  { name: 'rpc: %00 in a GET argument', method: 'GET', url: '/rest/v1/rpc/echo?t=a%00', status: 400, has: '22P05' },
  {
    name: 'rpc: %00 in the function name',
    method: 'POST',
    url: '/rest/v1/rpc/ec%00ho',
    json: {},
    status: 404,
    has: 'PGRST202',
  },
  {
    name: 'rpc: a string where an int goes',
    method: 'POST',
    url: '/rest/v1/rpc/add_them',
    json: { a: 'one', b: 2 },
    status: 400,
    has: '22P02',
  },
  {
    name: 'insert: not JSON',
    method: 'POST',
    url: '/rest/v1/notes',
    body: '{"title":',
    headers: { 'content-type': 'application/json' },
    status: 400,
    has: 'PGRST102',
  },
  {
    name: 'insert: a number where an int goes',
    method: 'POST',
    url: '/rest/v1/notes',
    json: { n: 'seven' },
    status: 400,
    has: '22P02',
  },
  {
    name: 'insert: an object where text[] goes',
    method: 'POST',
    url: '/rest/v1/notes',
    json: { tags: { a: 1 } },
    status: 400,
    has: 'expected JSON array',
  },
  {
    name: 'insert: a body nested 100,000 deep',
    method: 'POST',
    url: '/rest/v1/notes',
    body: `{"body":${deepArray(100_000)}}`,
    status: 400,
    has: 'PGRST102',
  },
  {
    name: 'insert: a body of 20 MB',
    method: 'POST',
    url: '/rest/v1/notes',
    body: huge(20 * 1024 * 1024),
    status: 413,
    has: 'PGRST413',
  },
  { name: 'filter: an unknown operator', method: 'GET', url: '/rest/v1/notes?id=zz.1', status: 400, has: 'PGRST100' },
  {
    name: 'select: SQL in the select list',
    method: 'GET',
    url: '/rest/v1/notes?select=id;drop%20table%20notes',
    status: 400,
    has: 'PGRST100',
  },
  {
    name: 'order: SQL in the order',
    method: 'GET',
    url: '/rest/v1/notes?order=id;drop%20table%20notes',
    status: 400,
    has: 'PGRST100',
  },
  {
    name: 'a table name that is SQL',
    method: 'GET',
    url: '/rest/v1/notes%22;drop%20table%20notes;--',
    status: 404,
    has: 'PGRST205',
  },
  {
    name: 'a value that is SQL is only a value',
    method: 'GET',
    url: "/rest/v1/notes?title=eq.x'%20or%20'1'='1",
    status: 200,
    has: '[]',
  },
  {
    name: 'a table name of 5,000 characters',
    method: 'GET',
    url: `/rest/v1/${'t'.repeat(5000)}`,
    status: 404,
    has: 'PGRST205',
  },
  {
    name: 'a limit larger than bigint',
    method: 'GET',
    url: '/rest/v1/notes?limit=99999999999999999999999',
    status: 400,
    has: 'PGRST100',
  },
  {
    name: 'a Range header that is nonsense',
    method: 'GET',
    url: '/rest/v1/notes',
    headers: { range: 'items=zz-yy' },
    status: 416,
    has: 'PGRST103',
  },
  {
    name: 'an Accept-Profile for a schema that is not exposed',
    method: 'GET',
    url: '/rest/v1/notes',
    headers: { 'accept-profile': 'pg_catalog' },
    status: 406,
    has: 'PGRST106',
  },
  {
    name: 'a Prefer header that is nonsense',
    method: 'POST',
    url: '/rest/v1/notes',
    headers: { prefer: 'return=everything, count=maybe' },
    json: { title: 'p' },
    status: 201,
    has: '',
  },
  // After the Prefer row above, which stored a note titled "p".
  {
    name: 'update: \\u0000 in a text value',
    method: 'PATCH',
    url: '/rest/v1/notes?title=eq.p',
    json: { title: `a${NUL}` },
    status: 400,
    has: '22P05',
  },
  { name: 'a forged token', method: 'GET', url: '/rest/v1/notes', caller: 'forged', status: 401, has: 'PGRST301' },
  {
    name: 'an expired token',
    method: 'GET',
    url: '/rest/v1/notes',
    caller: 'expired',
    status: 401,
    has: 'JWT expired',
  },
  {
    name: 'an alg:none token',
    method: 'GET',
    url: '/rest/v1/notes',
    caller: 'algNone',
    status: 401,
    has: 'signing method is not allowed',
  },
  {
    name: 'a token for the postgres role',
    method: 'GET',
    url: '/rest/v1/notes',
    caller: 'superuser',
    status: 401,
    has: 'not an API role',
  },
];

const AUTH: Row[] = [
  {
    name: 'signup: \\u0000 in the email',
    method: 'POST',
    url: '/auth/v1/signup',
    caller: 'anon',
    json: { email: `a${NUL}@example.com`, password: 'password 123' },
    status: 400,
    has: 'email',
  },
  {
    name: 'signup: \\u0000 in user metadata',
    method: 'POST',
    url: '/auth/v1/signup',
    caller: 'anon',
    json: { email: 'nul1@example.com', password: 'password 123', data: { a: NUL } },
    status: 400,
    has: 'NUL',
  },
  {
    name: 'token: \\u0000 in a refresh token',
    method: 'POST',
    url: '/auth/v1/token?grant_type=refresh_token',
    caller: 'anon',
    json: { refresh_token: `a${NUL}` },
    status: 400,
    has: 'refresh_token_not_found',
  },
  {
    name: 'token: \\u0000 in the password',
    method: 'POST',
    url: '/auth/v1/token?grant_type=password',
    caller: 'anon',
    json: { email: 'mallory@example.com', password: `x${NUL}` },
    status: 400,
    has: 'invalid_credentials',
  },
  {
    name: 'token: %00 in the grant type',
    method: 'POST',
    url: '/auth/v1/token?grant_type=pass%00word',
    caller: 'anon',
    json: {},
    status: 400,
    has: 'unsupported_grant_type',
  },
  {
    name: 'verify: \\u0000 in the token',
    method: 'POST',
    url: '/auth/v1/verify',
    caller: 'anon',
    json: { type: 'signup', email: 'a@example.com', token: `1${NUL}` },
    status: 403,
    has: 'otp_expired',
  },
  {
    name: 'otp: \\u0000 in the email',
    method: 'POST',
    url: '/auth/v1/otp',
    caller: 'anon',
    json: { email: `x${NUL}@example.com` },
    status: 400,
    has: 'email',
  },
  {
    name: 'recover: \\u0000 in the redirect',
    method: 'POST',
    url: '/auth/v1/recover?redirect_to=http://x%00.example',
    caller: 'anon',
    json: { email: 'mallory@example.com' },
    status: 200,
    has: '',
  },
  {
    name: 'admin: %00 in a user id',
    method: 'GET',
    url: '/auth/v1/admin/users/a%00',
    caller: 'service',
    status: 404,
    has: 'user_not_found',
  },
  {
    name: "admin: \\u0000 in a new user's email",
    method: 'POST',
    url: '/auth/v1/admin/users',
    caller: 'service',
    json: { email: `n${NUL}@example.com`, password: 'password 123' },
    status: 400,
    has: 'email',
  },
  {
    name: "admin: \\u0000 in a new user's phone",
    method: 'POST',
    url: '/auth/v1/admin/users',
    caller: 'service',
    json: { phone: `+1555${NUL}`, password: 'password 123' },
    status: 400,
    has: 'Invalid phone number format (E.164 required)',
  },
  {
    name: 'update user: \\u0000 in metadata keys',
    method: 'PUT',
    url: '/auth/v1/user',
    json: { data: { [`k${NUL}`]: 1 } },
    status: 400,
    has: 'NUL',
  },
  {
    name: 'signup: not JSON',
    method: 'POST',
    url: '/auth/v1/signup',
    caller: 'anon',
    body: '{"email":',
    headers: { 'content-type': 'application/json' },
    status: 400,
    has: 'bad_json',
  },
  {
    name: 'signup: email is a number',
    method: 'POST',
    url: '/auth/v1/signup',
    caller: 'anon',
    json: { email: 7, password: 'password 123' },
    status: 400,
    has: 'validation_failed',
  },
  {
    name: 'signup: metadata nested 1,000 deep',
    method: 'POST',
    url: '/auth/v1/signup',
    caller: 'anon',
    body: `{"email":"deep@example.com","password":"password 123","data":${deepObject(1000)}}`,
    status: 400,
    has: 'nested more than 64 levels',
  },
  {
    name: 'signup: a body nested 100,000 deep (over the size bound first)',
    method: 'POST',
    url: '/auth/v1/signup',
    caller: 'anon',
    body: `{"data":${deepObject(100_000)}}`,
    status: 413,
    has: 'request_too_large',
  },
  {
    name: 'signup: a body of 2 MB',
    method: 'POST',
    url: '/auth/v1/signup',
    caller: 'anon',
    body: huge(2 * 1024 * 1024),
    status: 413,
    has: '',
  },
  {
    name: 'signup: an email of 10,000 characters',
    method: 'POST',
    url: '/auth/v1/signup',
    caller: 'anon',
    json: { email: `${'a'.repeat(10_000)}@example.com`, password: 'password 123' },
    status: 400,
    has: '',
  },
  {
    name: 'password grant: an email that is SQL',
    method: 'POST',
    url: '/auth/v1/token?grant_type=password',
    caller: 'anon',
    json: { email: "' or 1=1 --@example.com", password: 'x' },
    status: 400,
    has: 'invalid_credentials',
  },
  {
    name: 'user: a forged token',
    method: 'GET',
    url: '/auth/v1/user',
    caller: 'forged',
    status: 403,
    has: 'signature is invalid',
  },
  {
    name: 'user: an expired token',
    method: 'GET',
    url: '/auth/v1/user',
    caller: 'expired',
    status: 403,
    has: 'token is expired',
  },
  {
    name: 'user: an alg:none token',
    method: 'GET',
    url: '/auth/v1/user',
    caller: 'algNone',
    status: 403,
    has: 'signing method is not allowed',
  },
  // Found while probing: each of these was a 500 (a NUL reaching text, a ban past timestamptz).
  {
    name: 'factors: \\u0000 in the friendly name',
    method: 'POST',
    url: '/auth/v1/factors',
    json: { factor_type: 'totp', friendly_name: `f${NUL}` },
    status: 400,
    has: 'NUL character',
  },
  {
    name: "admin: \\u0000 in a user's role",
    method: 'PUT',
    url: '/auth/v1/admin/users/$USER',
    caller: 'service',
    json: { role: `r${NUL}` },
    status: 400,
    has: 'NUL character',
  },
  {
    name: 'admin: a ban past what a duration can be',
    method: 'PUT',
    url: '/auth/v1/admin/users/$USER',
    caller: 'service',
    json: { ban_duration: '99999999999h' },
    status: 400,
    has: 'longer than a Go duration',
  },
  { name: 'admin: a user token', method: 'GET', url: '/auth/v1/admin/users', status: 403, has: 'not_admin' },
];

const RAW_BYTES: Row[] = [
  // Node's HTTP parser answers these before any route: 400 with no body.
  { name: 'a raw NUL in the path', method: 'GET', url: `/rest/v1/notes${NUL}`, status: 400, has: '' },
  {
    name: 'a raw NUL in a header value',
    method: 'GET',
    url: '/rest/v1/notes',
    headers: { 'x-note': `a${NUL}b` },
    status: 400,
    has: '',
  },
  {
    name: 'a raw NUL in a header name',
    method: 'GET',
    url: '/rest/v1/notes',
    headers: { [`x-no${NUL}te`]: 'a' },
    status: 400,
    has: '',
  },
  {
    name: 'a raw NUL in the apikey',
    method: 'GET',
    url: '/storage/v1/bucket',
    caller: 'none',
    headers: { apikey: `a${NUL}` },
    status: 400,
    has: '',
  },
  {
    name: 'a control byte in a header value',
    method: 'POST',
    url: '/storage/v1/object/docs/$USER/cc.txt',
    headers: { 'content-type': 'text/plain', 'cache-control': 'max-age=1\u0001' },
    body: 'x',
    status: 400,
    has: '',
  },
  {
    name: 'headers of 64 KB',
    method: 'GET',
    url: '/rest/v1/notes',
    headers: { 'x-big': 'h'.repeat(64 * 1024) },
    status: 431,
    has: '',
  },
  {
    name: 'a raw NUL in a JSON body (not valid JSON)',
    method: 'POST',
    url: '/rest/v1/notes',
    body: `{"title":"a${NUL}"}`,
    headers: { 'content-type': 'application/json' },
    status: 400,
    has: 'PGRST102',
  },
  {
    name: 'a raw NUL in a storage JSON body',
    method: 'POST',
    url: '/storage/v1/object/list/docs',
    body: `{"prefix":"a${NUL}"}`,
    ...storage400('not valid JSON'),
  },
];

const TABLE: Row[] = [...STORAGE, ...REALTIME, ...REST, ...AUTH, ...RAW_BYTES];

let world: World;

beforeAll(async () => {
  world = await startWorld({ REALTIME_MAX_PAYLOAD_BYTES: '65536' });
});
afterAll(async () => {
  await world?.server.stop();
});

function request(row: Row) {
  const headers: Record<string, string> = { ...headersFor(world, row.caller ?? 'user'), ...row.headers };
  let body = row.body;
  if (row.json !== undefined) {
    body = JSON.stringify(row.json);
    headers['content-type'] ??= 'application/json';
  }
  return world.send({
    method: row.method,
    path: row.url.replace('$USER', world.userId),
    headers,
    ...(body !== undefined && { body }),
  });
}

const answers: { row: Row; status: number }[] = [];

describe('bad input', () => {
  test.each(TABLE.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const answer = await request(row);
    answers.push({ row, status: answer.status });
    if (process.env.TABLE_DEBUG) console.log(`ROW ${row.name} => ${answer.status} ${answer.text.slice(0, 300)}`);
    expect({ status: answer.status, body: answer.text.slice(0, 500) }).toMatchObject({ status: row.status });
    expect(answer.text).toContain(row.has);
    if (row.url.startsWith('/storage/v1') && answer.status === 400 && answer.text !== '') {
      // storage-api's shape: the error's own status as text in the body.
      expect(JSON.parse(answer.text)).toMatchObject({
        statusCode: expect.stringMatching(/^4\d\d$/),
        error: expect.any(String),
        message: expect.any(String),
      });
    }
  });
});

/** Joins over a raw socket, whose refusals are phx_reply errors with a reason (Realtime's shape), not HTTP statuses. */
const JOINS: { name: string; topic: string; payload: (w: World) => Record<string, unknown>; reason: string }[] = [
  {
    name: 'a private topic with NUL',
    topic: `room:a${NUL}`,
    payload: (w) => ({ config: { private: true }, access_token: w.tokens.user }),
    reason: 'the topic must not contain the NUL character',
  },
  {
    name: 'a public topic with NUL',
    topic: `a${NUL}`,
    payload: () => ({ config: {} }),
    reason: 'the topic must not contain the NUL character',
  },
  {
    name: 'a postgres_changes filter with NUL',
    topic: 'changes',
    payload: (w) => ({
      config: { postgres_changes: [{ event: '*', schema: 'public', table: 'notes', filter: `title=eq.a${NUL}` }] },
      access_token: w.tokens.user,
    }),
    reason: 'postgres_changes must not contain the NUL character',
  },
  {
    name: 'a postgres_changes table with NUL',
    topic: 'changes2',
    payload: (w) => ({
      config: { postgres_changes: [{ event: '*', schema: 'public', table: `no${NUL}tes` }] },
      access_token: w.tokens.user,
    }),
    reason: 'postgres_changes must not contain the NUL character',
  },
  {
    name: 'a forged access token',
    topic: 'room:b',
    payload: (w) => ({ config: { private: true }, access_token: w.tokens.forged }),
    reason: 'JwtSignatureError',
  },
  {
    name: 'an alg:none access token',
    topic: 'room:b',
    payload: (w) => ({ config: { private: true }, access_token: w.tokens.algNone }),
    reason: 'JwtSignatureError',
  },
];

describe('bad realtime joins', () => {
  test.each(JOINS.map((j) => [j.name, j] as const))(
    '%s is refused, and the socket still works',
    async (_name, join) => {
      const socket = await RawSocket.open(world.server.url, world.tokens.anon);
      try {
        const { reply } = await socket.join(join.topic, join.payload(world));
        expect(reply).toMatchObject({ status: 'error', response: { reason: expect.stringContaining(join.reason) } });
        expect(
          (await socket.join('room:ok', { config: { private: true }, access_token: world.tokens.user })).reply.status,
        ).toBe('ok');
      } finally {
        socket.close();
      }
    },
  );

  test('presence with NUL in its key and payload is relayed (it is never stored)', async () => {
    const socket = await RawSocket.open(world.server.url, world.tokens.anon);
    try {
      const { joinRef } = await socket.join('lobby', { config: { presence: { key: `k${NUL}` } } });
      const reply = await socket.push(joinRef, 'realtime:lobby', 'presence', {
        type: 'presence',
        event: 'track',
        payload: { [`n${NUL}`]: NUL },
      });
      expect(reply.status).toBe('ok');
      await socket.waitFrame((f) => f[3] === 'presence_diff');
    } finally {
      socket.close();
    }
  });
});

describe('after the table', () => {
  test('no row was answered with a 5xx', () => {
    expect(answers.length).toBe(TABLE.length);
    expect(answers.filter((a) => a.status >= 500).map((a) => `${a.row.name}: ${a.status}`)).toEqual([]);
  });

  test('the server is healthy and still answers a normal request', async () => {
    expect((await world.send({ method: 'GET', path: '/health' })).status).toBe(200);
    const read = await world.send({
      method: 'GET',
      path: '/rest/v1/notes?select=id',
      headers: headersFor(world, 'user'),
    });
    expect(read.status).toBe(200);
    const listed = await world.send({
      method: 'POST',
      path: '/storage/v1/object/list/docs',
      headers: { ...headersFor(world, 'user'), 'content-type': 'application/json' },
      body: '{"prefix":""}',
    });
    expect(listed.status).toBe(200);
  });
});
