// The worker's view of client authentication: the Authenticator from src/auth plus the pieces a
// connection needs around it (nonce, no_auth_user for clients that skip CONNECT, shutdown).

import { Authenticator } from '../auth/authenticator.ts';
import type { AuthResult, ConnectAuth } from '../auth/authenticator.ts';
import { compilePermissions } from '../auth/permissions.ts';
import { makeNonce } from '../auth/nkeys.ts';
import { close as closePasswordPool } from '../auth/password.ts';
import type { AuthOptions } from '../config/options.ts';

/** True when the options ask clients for credentials of any kind. */
export function authConfigured(auth: AuthOptions): boolean {
  return Boolean(auth.token || auth.user || auth.users.length > 0);
}

export class ClientAuth {
  private readonly authenticator: Authenticator;
  private readonly options: AuthOptions;
  readonly required: boolean;
  readonly needsNonce: boolean;
  readonly noAuthUser: string | undefined;

  constructor(options: AuthOptions) {
    this.options = options;
    this.authenticator = new Authenticator(options);
    this.required = this.authenticator.required;
    this.needsNonce = this.authenticator.needsNonce;
    this.noAuthUser = options.noAuthUser;
  }

  makeNonce(): Uint8Array {
    return Buffer.from(makeNonce(), 'latin1');
  }

  check(connect: Record<string, unknown>, nonce: Uint8Array | null, tls: { verified: boolean }): Promise<AuthResult> {
    return this.authenticator.check(connect as ConnectAuth, nonce, tls);
  }

  /** The identity a credential-less client gets under no_auth_user, or null when there is none. */
  noAuthUserResult(): Extract<AuthResult, { ok: true }> | null {
    const name = this.noAuthUser;
    if (!name) return null;
    const user = this.options.users.find((u) => u.user === name);
    if (!user) return null;
    return {
      ok: true,
      user: name,
      account: user.account,
      permissions: user.permissions ? compilePermissions(user.permissions) : undefined,
    };
  }

  close(): Promise<void> {
    return closePasswordPool();
  }
}
