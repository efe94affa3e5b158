/**
 * The messages between the server and a function's worker (worker-host.ts), one invocation told
 * apart from another by its id. Bodies cross as chunks, so a streamed response (Server-Sent
 * Events) reaches the client as the function writes it.
 */

/** What the worker is started with (workerData). */
export interface WorkerBoot {
  readonly name: string;
  /** The function's bundle (an ES module file the loader wrote). */
  readonly bundlePath: string;
}

export type ToWorker =
  | {
      readonly t: 'req';
      readonly id: number;
      readonly method: string;
      readonly url: string;
      readonly headers: readonly (readonly [string, string])[];
      readonly hasBody: boolean;
      readonly remote: { readonly hostname: string; readonly port: number };
    }
  | { readonly t: 'body'; readonly id: number; readonly chunk: Uint8Array }
  | { readonly t: 'body-end'; readonly id: number }
  /** The server's client has taken `taken` response bytes in all (flow.ts). */
  | { readonly t: 'more'; readonly id: number; readonly taken: number }
  /** The client left, or a limit ended the call: the request's signal aborts, the body is dropped. */
  | { readonly t: 'cancel'; readonly id: number };

export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'boot-error'; readonly message: string }
  | {
      readonly t: 'head';
      readonly id: number;
      readonly status: number;
      readonly headers: readonly (readonly [string, string])[];
      readonly hasBody: boolean;
    }
  /** A response whose body was complete at once: head and body in one message. */
  | {
      readonly t: 'whole';
      readonly id: number;
      readonly status: number;
      readonly headers: readonly (readonly [string, string])[];
      readonly body: Uint8Array | null;
    }
  | { readonly t: 'chunk'; readonly id: number; readonly chunk: Uint8Array }
  | { readonly t: 'end'; readonly id: number }
  /** The function has taken `taken` request body bytes in all (flow.ts). */
  | { readonly t: 'body-more'; readonly id: number; readonly taken: number }
  /** The handler threw, or answered something that is not a Response. */
  | { readonly t: 'fail'; readonly id: number; readonly kind: 'threw' | 'not-response'; readonly message: string };
