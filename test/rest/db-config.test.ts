import { describe, expect, test } from 'vitest';
import { applyDbSettings, transactionEnd, withTx, type RestSettings } from '../../src/rest/db-config.js';

const base: RestSettings = {
  maxRows: 1000,
  aggregatesEnabled: false,
  planEnabled: false,
  txEnd: 'commit-allow-override',
};

describe('in-database settings over the environment', () => {
  test.each([
    [{}, base, []],
    [
      { db_plan_enabled: 'true', db_aggregates_enabled: 'on' },
      { ...base, planEnabled: true, aggregatesEnabled: true },
      [],
    ],
    [{ db_plan_enabled: 'FALSE' }, base, []],
    [{ db_max_rows: '25' }, { ...base, maxRows: 25 }, []],
    [{ db_tx_end: 'rollback' }, { ...base, txEnd: 'rollback' }, []],
    [{ db_max_rows: '0' }, base, ['pgrst.db_max_rows=0']],
    [{ db_max_rows: '1e3' }, base, ['pgrst.db_max_rows=1e3']],
    [{ db_plan_enabled: 'maybe' }, base, ['pgrst.db_plan_enabled=maybe']],
    [{ db_tx_end: 'sometimes' }, base, ['pgrst.db_tx_end=sometimes']],
  ] as const)('%o', (raw, settings, ignored) => {
    expect(applyDbSettings(base, raw)).toEqual({ settings: { ...settings, postgisSchema: undefined }, ignored });
  });
});

describe('db-tx-end and Prefer: tx=', () => {
  test.each([
    ['commit', undefined, false, undefined],
    ['commit', 'rollback', false, undefined],
    ['commit-allow-override', 'rollback', true, 'rollback'],
    ['commit-allow-override', 'commit', false, 'commit'],
    ['rollback', undefined, true, undefined],
    ['rollback', 'commit', true, undefined],
    ['rollback-allow-override', 'commit', false, 'commit'],
    ['rollback-allow-override', undefined, true, undefined],
  ] as const)('%s with tx=%s: rollback %s, applied %s', (txEnd, preferred, rollback, applied) => {
    expect(transactionEnd(txEnd, preferred)).toEqual({ rollback, applied });
  });

  test('a dropped tx preference leaves the others', () => {
    expect(
      withTx<{ count?: 'exact'; tx?: 'commit' | 'rollback' }>({ count: 'exact', tx: 'rollback' }, undefined),
    ).toEqual({ count: 'exact' });
    expect(withTx({ count: 'exact', tx: 'rollback' } as const, 'rollback')).toEqual({ count: 'exact', tx: 'rollback' });
  });
});
