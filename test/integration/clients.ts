// The two official JavaScript client generations behind one small face, so every integration
// case runs against both: `nats` (v2) and `@nats-io/transport-node` + `@nats-io/nats-core` (v3).
// Each generation reports errors its own way (v2: NatsError codes, v3: error classes); the
// classifiers below look for exactly what that generation's sources produce.

import * as v2 from 'nats';
import * as v3 from '@nats-io/transport-node';
import * as core from '@nats-io/nats-core';
import type { Authenticator, MsgHdrs, NatsConnection } from '@nats-io/nats-core';

/** Options used by these tests; both generations accept the same names. */
export interface ConnectOpts {
  servers: string | string[];
  name?: string;
  token?: string;
  user?: string;
  pass?: string;
  authenticator?: Authenticator;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; handshakeFirst?: boolean } | null;
  /** Sends `echo: false` in CONNECT (the clients' name for it). */
  noEcho?: boolean;
  pedantic?: boolean;
  verbose?: boolean;
  maxReconnectAttempts?: number;
  reconnectTimeWait?: number;
  reconnect?: boolean;
  timeout?: number;
}

/** What a permission violation looks like once decoded from the async status stream. */
export interface PermissionEvent {
  operation: string;
  subject: string;
}

export interface ClientGeneration {
  name: string;
  /**
   * Connects. The connection is typed as the v3 `NatsConnection`; v2's is structurally the same
   * for every call these tests make (publish/subscribe/request/flush/drain/close/info/status).
   */
  connect(opts: ConnectOpts): Promise<NatsConnection>;
  headers(code?: number, description?: string): MsgHdrs;
  nkeyAuthenticator(seed: Uint8Array): Authenticator;
  isNoResponders(err: unknown): boolean;
  isTimeout(err: unknown): boolean;
  isAuthorization(err: unknown): boolean;
  isMaxPayload(err: unknown): boolean;
  /** Resolves with the first permission violation reported through `nc.status()`. */
  nextPermissionError(nc: NatsConnection): Promise<PermissionEvent>;
  /**
   * Resolves with the first protocol error (`-ERR` that is neither auth nor permissions) reported
   * through `nc.status()`: its text in v3; v2's status carries only the code, so there it is null.
   */
  nextProtocolError(nc: NatsConnection): Promise<string | null>;
}

function codeOf(err: unknown): string | undefined {
  return err instanceof v2.NatsError ? err.code : undefined;
}

export const natsV2: ClientGeneration = {
  name: 'nats v2',
  connect: async (opts) => (await v2.connect(opts as v2.ConnectionOptions)) as unknown as NatsConnection,
  headers: (code, description) => v2.headers(code, description) as unknown as MsgHdrs,
  nkeyAuthenticator: (seed) => v2.nkeyAuthenticator(seed) as unknown as Authenticator,
  isNoResponders: (err) => codeOf(err) === v2.ErrorCode.NoResponders,
  isTimeout: (err) => codeOf(err) === v2.ErrorCode.Timeout,
  isAuthorization: (err) => codeOf(err) === v2.ErrorCode.AuthorizationViolation,
  isMaxPayload: (err) => codeOf(err) === v2.ErrorCode.MaxPayloadExceeded,
  async nextPermissionError(nc) {
    const v2nc = nc as unknown as v2.NatsConnection;
    for await (const s of v2nc.status()) {
      if (s.type === v2.Events.Error && s.data === v2.ErrorCode.PermissionsViolation) {
        const ctx = s.permissionContext;
        if (ctx) return { operation: ctx.operation, subject: ctx.subject };
      }
    }
    throw new Error('status stream ended without a permissions violation');
  },
  async nextProtocolError(nc) {
    const v2nc = nc as unknown as v2.NatsConnection;
    for await (const s of v2nc.status()) {
      if (s.type === v2.Events.Error && s.data === v2.ErrorCode.ProtocolError) return null;
    }
    throw new Error('status stream ended without a protocol error');
  },
};

function isNoRespondersV3(err: unknown): boolean {
  if (err instanceof core.errors.NoRespondersError) return true;
  // request() wraps it: RequestError with the NoRespondersError as its cause.
  return err instanceof core.errors.RequestError && err.isNoResponders();
}

function isTimeoutV3(err: unknown): boolean {
  if (err instanceof core.errors.TimeoutError) return true;
  return err instanceof core.errors.RequestError && err.cause instanceof core.errors.TimeoutError;
}

export const natsV3: ClientGeneration = {
  name: '@nats-io v3',
  connect: (opts) => v3.connect(opts),
  headers: (code, description) => core.headers(code, description),
  nkeyAuthenticator: (seed) => core.nkeyAuthenticator(seed),
  isNoResponders: isNoRespondersV3,
  isTimeout: isTimeoutV3,
  isAuthorization: (err) => err instanceof core.errors.AuthorizationError,
  isMaxPayload: (err) => err instanceof core.errors.InvalidArgumentError && /max_payload/.test(err.message),
  async nextPermissionError(nc) {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof core.errors.PermissionViolationError) {
        return { operation: s.error.operation, subject: s.error.subject };
      }
    }
    throw new Error('status stream ended without a permissions violation');
  },
  async nextProtocolError(nc) {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof core.errors.ProtocolError) return s.error.message;
    }
    throw new Error('status stream ended without a protocol error');
  },
};

export const GENERATIONS: readonly ClientGeneration[] = [natsV2, natsV3];
export const WORKER_COUNTS: readonly number[] = [1, 2];

/** Every (generation, workers) pair, for `describe` loops. */
export function matrix(): { gen: ClientGeneration; workers: number }[] {
  return GENERATIONS.flatMap((gen) => WORKER_COUNTS.map((workers) => ({ gen, workers })));
}
