/**
 * Advice on a row-level security policy's cost, as Supabase's performance advisor gives it: the
 * two forms that make PostgreSQL do per row what it could do once per statement. Pure: the
 * expressions come deparsed by pg_get_expr, and the functions the policy calls that cannot be
 * inlined (SECURITY DEFINER, or with their own SET) come from pg_depend.
 */

// auth.uid(), auth.jwt(), auth.role(), auth.email() and current_setting(...) as pg_get_expr prints them.
const PER_ROW_CALL = /\b(auth\.(?:uid|jwt|role|email)\(\)|current_setting\()/g;

/** Whether the call at `at` sits directly inside `( SELECT …`, which PostgreSQL evaluates once (an InitPlan). */
function wrapped(expression: string, at: number): boolean {
  return /\(\s*SELECT\s+$/i.test(expression.slice(Math.max(0, at - 16), at));
}

export function policyAdvice(using: string | null, check: string | null, slowFunctions: readonly string[]): string[] {
  const advice: string[] = [];
  const calls = new Set<string>();
  for (const expression of [using, check]) {
    if (expression === null) continue;
    for (const match of expression.matchAll(PER_ROW_CALL))
      if (!wrapped(expression, match.index))
        calls.add(match[1] === 'current_setting(' ? 'current_setting()' : match[1]!);
  }
  for (const call of [...calls].sort())
    advice.push(
      `${call} is evaluated for every row: write (select ${call === 'current_setting()' ? 'current_setting(…)' : call}) so PostgreSQL evaluates it once per statement`,
    );
  for (const fn of slowFunctions)
    advice.push(
      `${fn}() is SECURITY DEFINER or sets its own settings, so PostgreSQL cannot inline it and calls it for every row: test the row against one subquery instead (room_id in (select … where user_id = (select auth.uid())))`,
    );
  return advice;
}
