/** The one classification of database outages (src/db/outage.ts), by table. */
import { describe, expect, test } from 'vitest';
import { DatabaseOutage, classifyOutage } from '../../src/db/index.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('classifyOutage', () => {
  test.each([
    [
      '57014 statement timeout',
      withCode('57014', 'canceling statement due to statement timeout'),
      'timeout',
      'server',
      '57014',
    ],
    [
      '57P01 admin shutdown',
      withCode('57P01', 'terminating connection due to administrator command'),
      'unavailable',
      'server',
      '57P01',
    ],
    [
      '57P03 cannot connect now',
      withCode('57P03', 'the database system is starting up'),
      'unavailable',
      'server',
      '57P03',
    ],
    [
      '53300 too many connections',
      withCode('53300', 'sorry, too many clients already'),
      'unavailable',
      'server',
      '53300',
    ],
    ['08006 connection failure', withCode('08006'), 'unavailable', 'server', '08006'],
    [
      'ECONNREFUSED',
      withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      'unavailable',
      'connect',
      undefined,
    ],
    ['ECONNRESET', withCode('ECONNRESET', 'read ECONNRESET'), 'unavailable', 'connection', undefined],
    ['refused on every address', new AggregateError([withCode('ECONNREFUSED')]), 'unavailable', 'connect', undefined],
    ['the pool queue timeout', new Error('timeout exceeded when trying to connect'), 'timeout', 'pool_wait', undefined],
    [
      'the connect timeout',
      new Error('Connection terminated due to connection timeout'),
      'timeout',
      'connect',
      undefined,
    ],
    ['the query deadline', new Error('Query read timeout'), 'timeout', 'deadline', undefined],
    ['a lost connection', new Error('Connection terminated unexpectedly'), 'unavailable', 'connection', undefined],
    [
      'a broken client',
      new Error('Client has encountered a connection error and is not queryable'),
      'unavailable',
      'connection',
      undefined,
    ],
  ])('%s is an outage', (_name, err, kind, stage, sqlstate) => {
    const outage = classifyOutage(err);
    expect(outage).toBeInstanceOf(DatabaseOutage);
    expect({ kind: outage?.kind, stage: outage?.stage, sqlstate: outage?.sqlstate }).toEqual({ kind, stage, sqlstate });
  });

  test.each([
    ['a unique violation', withCode('23505', 'duplicate key value')],
    ['an RLS refusal', withCode('42501', 'permission denied')],
    ['53400 configuration limit (the request exceeded it)', withCode('53400', 'temp file limit exceeded')],
    ['57P04 database dropped', withCode('57P04')],
    ['a bug', new TypeError('x is not a function')],
    ['a string', 'connection refused'],
  ])('%s is not an outage', (_name, err) => {
    expect(classifyOutage(err)).toBeUndefined();
  });

  test("an outage's code is never a SQLSTATE, so the modules' PostgreSQL mappers leave it alone", () => {
    for (const err of [withCode('57014'), new Error('Query read timeout')])
      expect(classifyOutage(err)?.code).not.toMatch(/^[0-9A-Z]{5}$/);
  });
});
