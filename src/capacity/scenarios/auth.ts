/**
 * `auth`: users signing in and staying signed in. Each virtual user signs in with a password, then
 * refreshes its session every turn, signing in afresh every tenth turn, as apps do on start-up.
 */
import { randomBytes } from 'node:crypto';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import { SignJWT } from 'jose';
import pg from 'pg';
import type { VirtualUser } from '../runner.js';
import { urlFor, type Target } from '../target.js';
import {
  isString,
  sharedField,
  type ClientTarget,
  type PreparedScenario,
  type Scenario,
  type ScenarioClients,
  type SharedSetup,
} from './scenario.js';

// The parameters Trellis hashes passwords with (src/auth/crypto.ts): the floor pays the same.
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const SCHEMA = `-- trellis bench auth: the floor's refresh tokens (Trellis's own live in auth.refresh_tokens).
create table if not exists public.bench_refresh_tokens (id bigint generated always as identity primary key, token text not null, revoked boolean not null default false);
revoke all on public.bench_refresh_tokens from anon, authenticated;
`;

interface Session {
  refresh_token: string;
}

export const authScenario: Scenario = {
  name: 'auth',
  description: 'sign in with a password, then refresh the session each turn, signing in afresh every tenth turn',
  users: 'signed-in users',
  schema: SCHEMA,
  serverEnv: {
    AUTH_RATE_LIMIT_SIGN_IN: '1000000',
    AUTH_RATE_LIMIT_TOKEN_PASSWORD: '1000000',
    AUTH_RATE_LIMIT_TOKEN_REFRESH: '1000000',
  },
  // Its users sign up through the admin API and sign in: the service_role key is enough.
  signsTokens: false,
  // A heavy user: a refresh every two seconds or so (apps refresh hourly), so the figure is conservative.
  thinkMs: 2000,
  prepare(target: Target): Promise<PreparedScenario> {
    return Promise.resolve({
      shared: { run: Math.floor(Math.random() * 0xffffffff).toString(16) },
      hasFloor: target.dbUrl !== undefined,
      hasPeer: false,
      floorDescription:
        'in each load generator: argon2id verification with the same parameters, an access token signed, token rows revoked and written with pg (no HTTP)',
      close: async () => undefined,
    });
  },
  async clients(target: ClientTarget, shared: SharedSetup): Promise<ScenarioClients> {
    const run = sharedField(shared, 'run', isString);
    const headers = { apikey: target.anonKey, 'content-type': 'application/json' };
    const post = async (
      base: string,
      path: string,
      body: unknown,
      extra: Record<string, string> = {},
    ): Promise<Session> => {
      const response = await fetch(`${base}/auth/v1${path}`, {
        method: 'POST',
        headers: { ...headers, ...extra },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.text()).slice(0, 200)}`);
      return (await response.json()) as Session;
    };

    const user = async (index: number): Promise<VirtualUser> => {
      const credentials = { email: `bench-${run}-${index}@example.com`, password: `bench password ${index}` };
      const base = urlFor(target, index);
      await post(
        base,
        '/admin/users',
        { ...credentials, email_confirm: true },
        { authorization: `Bearer ${target.serviceRoleKey}` },
      );
      let session: Session | undefined;
      let turns = 0;
      return {
        async turn(recorder) {
          if (!session || turns++ % 10 === 0) {
            await recorder.time(
              'sign in',
              async () => (session = await post(base, '/token?grant_type=password', credentials)),
            );
          } else {
            const current = session;
            const ok = await recorder.time(
              'refresh',
              async () =>
                (session = await post(base, '/token?grant_type=refresh_token', {
                  refresh_token: current.refresh_token,
                })),
            );
            if (!ok) session = undefined;
          }
        },
      };
    };

    const pool = target.dbUrl ? new pg.Pool({ connectionString: target.dbUrl, max: 5 }) : undefined;
    // Unknown behind --target with keys only: any secret costs the floor the same to sign with.
    const secret = new TextEncoder().encode(target.jwtSecret ?? randomBytes(32).toString('hex'));
    // The floor: the cost a sign-in cannot avoid (one argon2id verification with the same
    // parameters, one access token signed) and a refresh's least database work (revoke one token
    // row, write the next, in one transaction), in this process, without HTTP.
    const floorUser = pool
      ? async (index: number): Promise<VirtualUser> => {
          const stored = await hash(`bench password ${index}`, ARGON2);
          let tokenId: string | undefined;
          let turns = 0;
          const issue = async () => {
            await new SignJWT({ sub: String(index), role: 'authenticated' })
              .setProtectedHeader({ alg: 'HS256' })
              .setExpirationTime('1h')
              .sign(secret);
            const client = await pool.connect();
            try {
              await client.query('begin');
              if (tokenId)
                await client.query(
                  'update public.bench_refresh_tokens set revoked = true where id = $1 and not revoked',
                  [tokenId],
                );
              tokenId = (
                await client.query<{ id: string }>(
                  'insert into public.bench_refresh_tokens (token) values ($1) returning id',
                  [crypto.randomUUID()],
                )
              ).rows[0]?.id;
              await client.query('commit');
            } catch (err) {
              await client.query('rollback').catch(() => undefined);
              throw err;
            } finally {
              client.release();
            }
          };
          return {
            async turn(recorder) {
              if (!tokenId || turns++ % 10 === 0) {
                await recorder.time('sign in', async () => {
                  if (!(await verify(stored, `bench password ${index}`))) throw new Error('argon2 verification failed');
                  await issue();
                });
              } else {
                await recorder.time('refresh', issue);
              }
            },
          };
        }
      : undefined;

    return { user, floorUser, close: async () => pool?.end() };
  },
};
