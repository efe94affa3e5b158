import { describe, expect, test } from 'vitest';
import { policyAdvice } from '../../src/studio/policy-advice.js';

describe('policyAdvice', () => {
  test.each([
    ['(owner = auth.uid())', ['auth.uid()']],
    ["((auth.jwt() ->> 'role'::text) = 'admin'::text)", ['auth.jwt()']],
    ["(tenant = current_setting('app.tenant'::text))", ['current_setting()']],
    ['(owner = ( SELECT auth.uid() AS uid))', []],
    ["(tenant = ( SELECT current_setting('app.tenant'::text) AS current_setting))", []],
    ['((owner = auth.uid()) OR (editor = auth.uid()))', ['auth.uid()']],
    ['(owner = ( SELECT auth.uid() AS uid)) OR (editor = auth.uid())', ['auth.uid()']],
    ['true', []],
  ])('%s', (using, calls) => {
    const advice = policyAdvice(using, null, []);
    expect(advice).toHaveLength(calls.length);
    calls.forEach((call, i) => expect(advice[i]).toContain(`${call} is evaluated for every row`));
  });

  test('with check counts too; each call is named once; slow functions follow', () => {
    const advice = policyAdvice('(owner = auth.uid())', '(author = auth.uid())', ['public.is_member']);
    expect(advice).toEqual([
      expect.stringMatching(/^auth\.uid\(\) is evaluated for every row: write \(select auth\.uid\(\)\)/),
      expect.stringMatching(/^public\.is_member\(\) is SECURITY DEFINER/),
    ]);
  });

  test('no expressions, no advice', () => expect(policyAdvice(null, null, [])).toEqual([]));
});
