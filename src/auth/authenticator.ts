// Decides whether a client's CONNECT credentials let it in, and as whom, following the
// order of nats-server's processClientOrLeafAuthentication for configured (non-JWT) auth:
// 1. nkey users: the client's `nkey` (or the no_auth_user, when it sent no credentials at
//    all) must be configured; unless it is the no_auth_user, `sig` must be its signature
//    of the nonce;
// 2. otherwise users with passwords: the client's `user` (or the no_auth_user, when it sent
//    no user, password or token) must be configured, and its password must match;
// 3. otherwise a client that named no configured user falls to the single token, then the
//    single user/password. With a users list a named but unknown user fails at once.
// Nothing here logs, and results never carry a secret.

import type { KeyObject } from 'node:crypto';
import type { AuthOptions, UserEntry } from '../config/options.ts';
import { userPublicKey, verifyNonceSignature } from './nkeys.ts';
import { constantTimeEqual, isBcrypt, verifyPassword } from './password.ts';
import { CompiledPermissions, PermissionRules, type Clock } from './permissions.ts';

/** The only text a failed authentication ever produces (the `-ERR` is built by the connection). */
export const AUTHORIZATION_VIOLATION = 'Authorization Violation';

/** The credential fields of CONNECT, as the client sent them. */
export interface ConnectAuth {
  user?: string;
  pass?: string;
  auth_token?: string;
  nkey?: string;
  sig?: string;
}

export type AuthResult =
  | {
      ok: true;
      /** The user name, or the public nkey of an nkey user; absent for token and open auth. */
      user?: string;
      /** This connection's permissions; absent means everything is allowed. */
      permissions?: CompiledPermissions;
      /** Account name; absent means the global account. */
      account?: string;
    }
  | { ok: false };

interface ConfiguredUser {
  /** User name, or public nkey for nkey users. */
  id: string;
  password: string;
  /** Verification key of an nkey user; null when the configured nkey is not a valid user key. */
  key: KeyObject | null;
  rules: PermissionRules | null;
  account: string | undefined;
}

export interface AuthenticatorOptions {
  /** Clock for allow_responses expiry; milliseconds. */
  now?: Clock;
}

const FAILED: AuthResult = Object.freeze({ ok: false });
const FAILED_NOW: Promise<AuthResult> = Promise.resolve(FAILED);
const OPEN_NOW: Promise<AuthResult> = Promise.resolve(Object.freeze({ ok: true }) as AuthResult);

/** CONNECT fields reduced to strings; '' when absent, null when not a string at all. */
function field(value: unknown): string | null {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : null;
}

export class Authenticator {
  /** Whether clients must authenticate at all. */
  readonly required: boolean;
  /** Whether INFO must carry a nonce (nkey users are configured). */
  readonly needsNonce: boolean;
  /**
   * What INFO advertises as `auth_required`: nats-server reports false when a no_auth_user
   * lets clients in without credentials, though auth still runs.
   */
  readonly infoAuthRequired: boolean;

  readonly #token: string;
  readonly #user: string;
  readonly #password: string;
  readonly #noAuthUser: string;
  readonly #users = new Map<string, ConfiguredUser>();
  readonly #nkeys = new Map<string, ConfiguredUser>();
  readonly #now: Clock;

  constructor(auth: AuthOptions, options: AuthenticatorOptions = {}) {
    this.#token = auth.token ?? '';
    this.#user = auth.user ?? '';
    this.#password = auth.password ?? '';
    this.#noAuthUser = auth.noAuthUser ?? '';
    this.#now = options.now ?? Date.now;
    // Later entries replace earlier ones with the same name, as in nats-server's maps.
    for (const entry of auth.users) {
      if (entry.nkey !== undefined && entry.nkey !== '') this.#nkeys.set(entry.nkey, configured(entry, entry.nkey));
      else if (entry.user !== undefined) this.#users.set(entry.user, configured(entry, entry.user));
    }
    this.required = auth.users.length > 0 || this.#user !== '' || this.#token !== '';
    this.needsNonce = this.#nkeys.size > 0;
    this.infoAuthRequired = this.required && this.#noAuthUser === '';
  }

  /**
   * Checks CONNECT credentials. `nonce` is the bytes of the nonce sent in INFO (null when
   * none was sent). Resolves at once unless a bcrypt hash must be compared; never rejects.
   * `tls` is accepted for TLS-mapped users, which the options do not configure yet.
   */
  check(connect: ConnectAuth, nonce: Uint8Array | null, _tls?: { verified: boolean }): Promise<AuthResult> {
    if (!this.required) return OPEN_NOW;
    const user = field(connect.user);
    const pass = field(connect.pass);
    const token = field(connect.auth_token);
    const nkey = field(connect.nkey);
    const sig = field(connect.sig);
    if (user === null || pass === null || token === null || nkey === null || sig === null) return FAILED_NOW;
    const noAuth = this.#noAuthUser;

    if (this.#nkeys.size > 0) {
      let id = nkey;
      if (noAuth !== '' && user === '' && pass === '' && token === '' && nkey === '' && this.#nkeys.has(noAuth)) {
        id = noAuth;
      }
      if (id !== '') {
        const nkeyUser = this.#nkeys.get(id);
        if (nkeyUser === undefined) return FAILED_NOW;
        // The no_auth_user needs no signature, even when named explicitly (as nats-server).
        if (id !== noAuth) {
          if (sig === '' || nonce === null || nkeyUser.key === null) return FAILED_NOW;
          if (!verifyNonceSignature(nkeyUser.key, nonce, sig)) return FAILED_NOW;
        }
        return Promise.resolve(this.#success(nkeyUser));
      }
    }

    if (this.#users.size > 0) {
      if (noAuth !== '' && user === '' && pass === '' && token === '') {
        const fallback = this.#users.get(noAuth);
        // nats-server copies the stored password into the client's and compares; taking the
        // no_auth_user directly is the same outcome and also works for bcrypt-stored ones.
        if (fallback !== undefined) return Promise.resolve(this.#success(fallback));
      }
      if (user !== '') {
        const known = this.#users.get(user);
        if (known === undefined) return FAILED_NOW;
        return this.#afterPassword(pass, known.password, known);
      }
    }

    if (this.#token !== '') return this.#afterPassword(token, this.#token, null);
    if (this.#user !== '') {
      if (user !== this.#user) return FAILED_NOW;
      return this.#afterPassword(pass, this.#password, null, this.#user);
    }
    return FAILED_NOW;
  }

  /** Settled at once for plain secrets; only a bcrypt comparison makes the caller wait. */
  #afterPassword(given: string, stored: string, who: ConfiguredUser | null, name?: string): Promise<AuthResult> {
    const outcome = (ok: boolean): AuthResult => {
      if (!ok) return FAILED;
      if (who !== null) return this.#success(who);
      return name === undefined ? { ok: true } : { ok: true, user: name };
    };
    if (!isBcrypt(stored)) return Promise.resolve(outcome(constantTimeEqual(given, stored)));
    return verifyPassword(given, stored).then(outcome);
  }

  #success(who: ConfiguredUser): AuthResult {
    const result: AuthResult = { ok: true, user: who.id };
    if (who.rules !== null) result.permissions = new CompiledPermissions(who.rules, this.#now);
    if (who.account !== undefined) result.account = who.account;
    return result;
  }
}

function configured(entry: UserEntry, id: string): ConfiguredUser {
  return {
    id,
    password: entry.password ?? '',
    key: entry.nkey !== undefined && entry.nkey !== '' ? userPublicKey(entry.nkey) : null,
    rules: entry.permissions !== undefined ? new PermissionRules(entry.permissions) : null,
    account: entry.account,
  };
}
