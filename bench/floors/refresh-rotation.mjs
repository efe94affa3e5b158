// The refresh floor's rotation, shared by the HTTP floor (refresh-floor.mjs) and bench/auth.ts's
// statement-only figure.
// What a grant must do to the database: lock the token and its session, revoke the token, touch the
// session, insert the child, and read the user, its identities and factors and the session's methods.
export const ROTATION = `
  with cur as (
    select rt.id as token_id, rt.session_id, s.user_id
    from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id
    where rt.token = $1 and not rt.revoked for update of rt, s
  ), revoked as (
    update auth.refresh_tokens set revoked = true, sealed = null, updated_at = now() where id = (select token_id from cur)
  ), touched as (
    update auth.sessions set refreshed_at = now(), updated_at = now() where id = (select session_id from cur)
  ), child as (
    insert into auth.refresh_tokens (instance_id, token, user_id, parent, session_id, sealed)
    select '00000000-0000-0000-0000-000000000000', $2, user_id::text, $1, session_id, $3 from cur
  )
  select u.*, cur.session_id,
    (select json_agg(a) from auth.mfa_amr_claims a where a.session_id = cur.session_id) as amr,
    (select json_agg(i) from auth.identities i where i.user_id = u.id) as identities,
    (select json_agg(f) from auth.mfa_factors f where f.user_id = u.id) as factors
  from cur join auth.users u on u.id = cur.user_id`;
