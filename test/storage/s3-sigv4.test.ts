/**
 * The pure SigV4 parts against the worked examples of Amazon's S3 documentation ("Signature
 * Calculations for the Authorization Header" and "Transferring Payload in Multiple Chunks"), and
 * the aws-chunked decoder's refusals.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, test } from 'vitest';
import { AwsChunkedDecoder } from '../../src/storage/s3/chunked.js';
import { S3Error } from '../../src/storage/s3/errors.js';
import { listOptions, planS3List } from '../../src/storage/s3/list.js';
import {
  canonicalQuery,
  parseSignedRequest,
  requestSignature,
  signingKey,
  type HttpFacts,
} from '../../src/storage/s3/sigv4.js';
import { parseCompleteBody, parseDeleteBody, xmlDocument } from '../../src/storage/s3/xml.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AT = Date.UTC(2013, 4, 24, 0, 1, 0);

function facts(method: string, path: string, query: string, headers: Record<string, string>): HttpFacts {
  return { method, rawPath: path, rawQuery: query, header: (name) => headers[name] };
}

describe('SigV4', () => {
  test("Amazon's GET object example signs to its published signature", () => {
    const http = facts('GET', '/test.txt', '', {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'x-amz-date': '20130524T000000Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    });
    const signed = parseSignedRequest(http, AT);
    expect(signed).toMatchObject({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', region: 'us-east-1', presigned: false });
    expect(requestSignature(http, signed, SECRET)).toBe(signed.signature);
    expect(requestSignature(http, signed, 'another secret')).not.toBe(signed.signature);
  });

  test.each([
    ['no Authorization at all', {}, 'AccessDenied'],
    ['another algorithm', { authorization: 'AWS AKIA:sig' }, 'InvalidRequest'],
    [
      'a credential for another service',
      {
        authorization:
          'AWS4-HMAC-SHA256 Credential=K/20130524/us-east-1/ec2/aws4_request,SignedHeaders=host,Signature=00',
        'x-amz-date': '20130524T000000Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      },
      'AuthorizationHeaderMalformed',
    ],
    [
      'a date an hour away',
      {
        authorization:
          'AWS4-HMAC-SHA256 Credential=K/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00',
        'x-amz-date': '20130524T010100Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      },
      'RequestTimeTooSkewed',
    ],
    [
      'a payload hash that is none of the modes',
      {
        authorization:
          'AWS4-HMAC-SHA256 Credential=K/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00',
        'x-amz-date': '20130524T000000Z',
        'x-amz-content-sha256': 'whatever',
      },
      'InvalidArgument',
    ],
  ])('%s is refused as %s', (_name, headers, code) => {
    expect(() => parseSignedRequest(facts('GET', '/', '', headers as Record<string, string>), AT)).toThrow(
      expect.objectContaining({ code }),
    );
  });

  test('presigned: expiry and bounds', () => {
    const query = (expires: string) =>
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=${expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=00`;
    expect(parseSignedRequest(facts('GET', '/b/k', query('86400'), {}), AT).presigned).toBe(true);
    expect(() => parseSignedRequest(facts('GET', '/b/k', query('30'), {}), AT)).toThrow(/Request has expired/);
    expect(() => parseSignedRequest(facts('GET', '/b/k', query('999999'), {}), AT)).toThrow(
      expect.objectContaining({ code: 'AuthorizationQueryParametersError' }),
    );
    expect(canonicalQuery(query('60'))).not.toContain('X-Amz-Signature');
    expect(canonicalQuery('b=2&a=1&a=0&c')).toBe('a=0&a=1&b=2&c=');
  });
});

describe('aws-chunked', () => {
  const http = facts('PUT', '/examplebucket/chunkObject.txt', '', {
    host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
    'content-length': '66824',
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  });
  const signed = parseSignedRequest(http, AT);
  const signing = { key: signingKey(SECRET, '20130524', 'us-east-1'), request: signed };
  const body = (sig1 = 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648') =>
    Buffer.concat([
      Buffer.from(`10000;chunk-signature=${sig1}\r\n`),
      Buffer.alloc(65536, 'a'),
      Buffer.from('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'),
      Buffer.alloc(1024, 'a'),
      Buffer.from('\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'),
    ]);

  async function decode(input: Buffer, withSigning = true, pieces = 1000): Promise<Buffer> {
    const out: Buffer[] = [];
    const parts: Buffer[] = [];
    for (let i = 0; i < input.length; i += pieces) parts.push(input.subarray(i, i + pieces));
    const decoder = new AwsChunkedDecoder(withSigning ? signing : undefined);
    decoder.on('data', (c: Buffer) => out.push(c));
    await pipeline(Readable.from(parts), decoder);
    return Buffer.concat(out);
  }

  test("Amazon's example: the seed signature verifies and each chunk's chained signature too", async () => {
    expect(requestSignature(http, signed, SECRET)).toBe(signed.signature);
    const data = await decode(body());
    expect(data.length).toBe(66560);
    expect(data.every((b) => b === 0x61)).toBe(true);
  });

  test('a chunk whose signature does not chain is SignatureDoesNotMatch', async () => {
    await expect(decode(body('0'.repeat(64)))).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  test('unsigned chunks with trailers (STREAMING-UNSIGNED-PAYLOAD-TRAILER) decode to their data', async () => {
    const input = Buffer.from('5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n');
    expect((await decode(input, false, 3)).toString()).toBe('hello world');
  });

  test.each([
    ['a size that is not hex', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a body cut short', '5\r\nhel'],
    ['data longer than its size', '2\r\nhello\r\n0\r\n\r\n'],
  ])('%s is refused', async (_name, text) => {
    await expect(decode(Buffer.from(text), false)).rejects.toBeInstanceOf(S3Error);
  });
});

describe('XML and listing', () => {
  test('answers escape what they carry; request bodies are read element by element', () => {
    expect(xmlDocument('R', { Key: 'a<b>&"c"' })).toContain('<Key>a&lt;b&gt;&amp;&quot;c&quot;</Key>');
    expect(
      parseCompleteBody(
        '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part><Part><ETag>&quot;d&quot;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>',
      ),
    ).toEqual([
      { partNumber: 1, etag: 'abc' },
      { partNumber: 2, etag: 'd' },
    ]);
    expect(parseCompleteBody('<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part>')).toBeUndefined();
    expect(parseDeleteBody('<Delete><Quiet>true</Quiet><Object><Key> a&amp;b </Key></Object></Delete>')).toEqual({
      keys: [' a&b '],
      quiet: true,
    });
    expect(parseDeleteBody('{"Delete": []}')).toBeUndefined();
  });

  test('list options: bounds, tokens, and the query keeps values as parameters', () => {
    expect(listOptions(new URLSearchParams('max-keys=5000')).maxKeys).toBe(1000);
    expect(() => listOptions(new URLSearchParams('max-keys=-1'))).toThrow(S3Error);
    expect(() => listOptions(new URLSearchParams('continuation-token=%%%'))).toThrow(S3Error);
    expect(() => listOptions(new URLSearchParams('prefix=a%00b'))).toThrow(S3Error);
    const plan = planS3List("b'; drop table x; --", listOptions(new URLSearchParams("prefix=50%_'&delimiter=/")));
    expect(plan.text).not.toContain('drop table');
    expect(plan.values.slice(0, 3)).toEqual(["b'; drop table x; --", "50\\%\\_'%", '/']);
  });
});
