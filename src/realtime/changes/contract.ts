/**
 * The seam between the realtime socket (channels, joins, frames) and the change feed (the WAL
 * consumer, filters and authorisation of postgres_changes). The socket side only ever sees these
 * types; the change side never sees a socket.
 */
import type { JwtClaims } from '../../platform/tokens.js';

export type ChangeEvent = 'INSERT' | 'UPDATE' | 'DELETE';

/**
 * One subscription as realtime-js sends it in `phx_join` (`config.postgres_changes[i]`), e.g.
 * `{ event: 'INSERT', schema: 'public', table: 'messages', filter: 'room_id=eq.7' }`.
 */
export interface ChangeSubscriptionRequest {
  readonly event: ChangeEvent | '*';
  readonly schema: string;
  readonly table?: string;
  readonly filter?: string;
}

/**
 * The `data` of a `postgres_changes` message, in the shape realtime-js reads (Supabase's
 * Realtime sends exactly these keys): `type`, `record` and `old_record` are renamed by the
 * client to `eventType`, `new` and `old`.
 */
export interface ChangeData {
  readonly schema: string;
  readonly table: string;
  readonly commit_timestamp: string;
  readonly type: ChangeEvent;
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  readonly record: Readonly<Record<string, unknown>>;
  readonly old_record: Readonly<Record<string, unknown>>;
  readonly errors: readonly string[] | null;
}

/** A channel that joined with postgres_changes: its caller, what it asked for, where changes go. */
export interface ChangeSubscriber {
  /** The verified claims of the channel's access token; replaced on `access_token` refresh. */
  claims: JwtClaims;
  /** One id per request, in order; the join reply echoes them and messages name them. */
  readonly subscriptions: readonly (ChangeSubscriptionRequest & { readonly id: number })[];
  /** Called with the ids of this subscriber's subscriptions that match a change it may see. */
  deliver(ids: readonly number[], data: ChangeData): void;
}

export type ChangeSubscribeResult =
  | { readonly ok: true; readonly unsubscribe: () => void }
  /** A request that names no published table, a bad filter, a feed that cannot run: the join is refused with `message`. */
  | { readonly ok: false; readonly message: string };

export interface ChangeHub {
  /** Validates the requests (table exists and is in `supabase_realtime`, filter parses) and registers. */
  subscribe(subscriber: ChangeSubscriber): Promise<ChangeSubscribeResult>;
  /** Undefined when changes flow; otherwise why they cannot (for /ready and docs), e.g. wal_level is not logical. */
  problem(): string | undefined;
  close(): Promise<void>;
}
