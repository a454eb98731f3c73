import { afterAll, describe, expect, it } from 'vitest';
import { hashSync } from 'bcryptjs';
import { createAccount, createUser, type KeyPair } from '@nats-io/nkeys';
import type { AuthOptions } from '../../../src/config/options.ts';
import {
  AUTHORIZATION_VIOLATION,
  Authenticator,
  type AuthResult,
  type ConnectAuth,
} from '../../../src/auth/authenticator.ts';
import { makeNonce, nonceBytes } from '../../../src/auth/nkeys.ts';
import { close } from '../../../src/auth/password.ts';

const AUTH_TIMEOUT_MS = 2_000;
const TEST_BCRYPT_COST = 4;

afterAll(async () => {
  await close();
});

function options(partial: Partial<AuthOptions>): AuthOptions {
  return { users: [], timeoutMs: AUTH_TIMEOUT_MS, ...partial };
}

async function ok(a: Authenticator, connect: ConnectAuth, nonce: Uint8Array | null = null): Promise<AuthResult> {
  const result = await a.check(connect, nonce);
  expect(result.ok).toBe(true);
  return result;
}

async function fails(a: Authenticator, connect: ConnectAuth, nonce: Uint8Array | null = null): Promise<void> {
  expect(await a.check(connect, nonce)).toEqual({ ok: false });
}

function signed(kp: KeyPair): { nonce: Uint8Array; sig: string } {
  const nonce = nonceBytes(makeNonce());
  return { nonce, sig: Buffer.from(kp.sign(nonce)).toString('base64url') };
}

describe('Authenticator', () => {
  it('exports the one error text', () => {
    expect(AUTHORIZATION_VIOLATION).toBe('Authorization Violation');
  });

  it('lets everyone in when nothing is configured', async () => {
    const a = new Authenticator(options({}));
    expect(a.required).toBe(false);
    expect(a.needsNonce).toBe(false);
    expect(await a.check({}, null)).toEqual({ ok: true });
    expect(await a.check({ user: 'x', pass: 'y' }, null)).toEqual({ ok: true });
  });

  describe('token', () => {
    const a = new Authenticator(options({ token: 's3cr3t' }));

    it('accepts the token', async () => {
      expect(a.required).toBe(true);
      expect(a.infoAuthRequired).toBe(true);
      expect(await ok(a, { auth_token: 's3cr3t' })).toEqual({ ok: true });
    });

    it('refuses a wrong, missing or misplaced token', async () => {
      await fails(a, { auth_token: 's3cr3' });
      await fails(a, {});
      await fails(a, { pass: 's3cr3t' });
      await fails(a, { user: 's3cr3t' });
    });

    it('accepts a bcrypt-stored token', async () => {
      const b = new Authenticator(options({ token: hashSync('tok', TEST_BCRYPT_COST) }));
      await ok(b, { auth_token: 'tok' });
      await fails(b, { auth_token: 'tok2' });
    });

    it('wins over a single user/password configured beside it', async () => {
      const b = new Authenticator(options({ token: 'tok', user: 'u', password: 'p' }));
      await ok(b, { auth_token: 'tok' });
      await fails(b, { user: 'u', pass: 'p' });
    });
  });

  describe('single user/password', () => {
    const a = new Authenticator(options({ user: 'alice', password: 'pw' }));

    it('accepts the user and reports its name', async () => {
      expect(await ok(a, { user: 'alice', pass: 'pw' })).toEqual({ ok: true, user: 'alice' });
    });

    it('refuses a wrong user or password', async () => {
      await fails(a, { user: 'alice', pass: 'pW' });
      await fails(a, { user: 'bob', pass: 'pw' });
      await fails(a, { pass: 'pw' });
      await fails(a, {});
    });
  });

  describe('users list', () => {
    const bcryptHash = hashSync('hashed-pw', TEST_BCRYPT_COST);
    const a = new Authenticator(
      options({
        users: [
          { user: 'alice', password: 'apw', account: 'A' },
          {
            user: 'bob',
            password: bcryptHash,
            permissions: { publish: { allow: ['bob.>'] }, subscribe: { deny: ['secret'] } },
          },
        ],
      }),
    );

    it('accepts a plain-password user with its account', async () => {
      const r = await ok(a, { user: 'alice', pass: 'apw' });
      expect(r).toEqual({ ok: true, user: 'alice', account: 'A' });
    });

    it('accepts a bcrypt-password user and hands out its permissions', async () => {
      const r = await ok(a, { user: 'bob', pass: 'hashed-pw' });
      if (!r.ok) throw new Error('unreachable');
      expect(r.user).toBe('bob');
      expect(r.account).toBeUndefined();
      expect(r.permissions!.canPublish('bob.x')).toBe(true);
      expect(r.permissions!.canPublish('alice.x')).toBe(false);
      expect(r.permissions!.canSubscribe('secret', null)).toBe(false);
    });

    it('gives every connection its own permission state', async () => {
      const r1 = await ok(a, { user: 'bob', pass: 'hashed-pw' });
      const r2 = await ok(a, { user: 'bob', pass: 'hashed-pw' });
      if (!r1.ok || !r2.ok) throw new Error('unreachable');
      expect(r1.permissions).not.toBe(r2.permissions);
    });

    it('refuses a wrong password, plain or bcrypt, and unknown users', async () => {
      await fails(a, { user: 'alice', pass: 'nope' });
      await fails(a, { user: 'bob', pass: 'nope' });
      await fails(a, { user: 'bob', pass: bcryptHash });
      await fails(a, { user: 'carol', pass: 'apw' });
      await fails(a, {});
      await fails(a, { auth_token: 'apw' });
    });

    it('refuses CONNECT fields that are not strings', async () => {
      await fails(a, { user: 42 as unknown as string, pass: 'apw' });
      await fails(a, { user: 'alice', pass: ['apw'] as unknown as string });
    });

    it('fails a named unknown user even when a token is also configured', async () => {
      const b = new Authenticator(options({ token: 'tok', users: [{ user: 'alice', password: 'apw' }] }));
      await fails(b, { user: 'zed', auth_token: 'tok' });
      await ok(b, { auth_token: 'tok' });
      await ok(b, { user: 'alice', pass: 'apw' });
    });
  });

  describe('plain checks settle at once', () => {
    it('resolves before any other queued work when no bcrypt is involved', async () => {
      const a = new Authenticator(options({ users: [{ user: 'alice', password: 'apw' }] }));
      const seen: string[] = [];
      void a.check({ user: 'alice', pass: 'apw' }, null).then(() => seen.push('check'));
      void a.check({ user: 'alice', pass: 'bad' }, null).then(() => seen.push('fail'));
      await Promise.resolve();
      expect(seen).toEqual(['check', 'fail']);
    });
  });

  describe('nkey users', () => {
    const alice = createUser();
    const bob = createUser();
    const a = new Authenticator(
      options({
        users: [
          { nkey: alice.getPublicKey(), permissions: { publish: { allow: ['alice.>'] } } },
          { nkey: bob.getPublicKey(), account: 'B' },
          { user: 'carol', password: 'cpw' },
        ],
      }),
    );

    it('asks for a nonce', () => {
      expect(a.needsNonce).toBe(true);
      expect(a.required).toBe(true);
    });

    it('accepts a valid signature of the nonce', async () => {
      const { nonce, sig } = signed(alice);
      const r = await ok(a, { nkey: alice.getPublicKey(), sig }, nonce);
      if (!r.ok) throw new Error('unreachable');
      expect(r.user).toBe(alice.getPublicKey());
      expect(r.permissions!.canPublish('alice.x')).toBe(true);
      expect(r.permissions!.canPublish('bob.x')).toBe(false);
      const { nonce: n2, sig: s2 } = signed(bob);
      expect(await ok(a, { nkey: bob.getPublicKey(), sig: s2 }, n2)).toEqual({
        ok: true,
        user: bob.getPublicKey(),
        account: 'B',
      });
    });

    it('accepts standard base64 signatures', async () => {
      const nonce = nonceBytes(makeNonce());
      const sig = Buffer.from(alice.sign(nonce)).toString('base64');
      await ok(a, { nkey: alice.getPublicKey(), sig }, nonce);
    });

    it('refuses a bad, missing or misattributed signature', async () => {
      const { nonce, sig } = signed(alice);
      await fails(a, { nkey: alice.getPublicKey(), sig }, nonceBytes(makeNonce()));
      await fails(a, { nkey: bob.getPublicKey(), sig }, nonce);
      await fails(a, { nkey: alice.getPublicKey() }, nonce);
      await fails(a, { nkey: alice.getPublicKey(), sig }, null);
      await fails(a, { nkey: alice.getPublicKey(), sig: 'not base64!' }, nonce);
    });

    it('refuses an nkey that is not configured', async () => {
      const stranger = createUser();
      const { nonce, sig } = signed(stranger);
      await fails(a, { nkey: stranger.getPublicKey(), sig }, nonce);
    });

    it('refuses a configured nkey with a bad checksum or a non-user prefix', async () => {
      const good = createUser();
      const pub = good.getPublicKey();
      const corrupted = pub.slice(0, 10) + (pub[10] === 'A' ? 'B' : 'A') + pub.slice(11);
      const account = createAccount();
      const b = new Authenticator(options({ users: [{ nkey: corrupted }, { nkey: account.getPublicKey() }] }));
      const { nonce, sig } = signed(good);
      await fails(b, { nkey: corrupted, sig }, nonce);
      const { nonce: n2, sig: s2 } = signed(account);
      await fails(b, { nkey: account.getPublicKey(), sig: s2 }, n2);
    });

    it('still authenticates password users beside nkey users', async () => {
      await ok(a, { user: 'carol', pass: 'cpw' }, nonceBytes(makeNonce()));
      await fails(a, { user: 'carol', pass: 'bad' }, nonceBytes(makeNonce()));
    });
  });

  describe('no_auth_user', () => {
    it('connects a client without credentials as that user', async () => {
      const a = new Authenticator(
        options({
          noAuthUser: 'guest',
          users: [
            { user: 'guest', password: hashSync('unused', TEST_BCRYPT_COST), permissions: { publish: { allow: ['public.>'] } } },
            { user: 'admin', password: 'apw' },
          ],
        }),
      );
      expect(a.required).toBe(true);
      expect(a.infoAuthRequired).toBe(false);
      const r = await ok(a, {});
      if (!r.ok) throw new Error('unreachable');
      expect(r.user).toBe('guest');
      expect(r.permissions!.canPublish('public.x')).toBe(true);
      expect(r.permissions!.canPublish('admin.x')).toBe(false);
      expect(await ok(a, { user: 'admin', pass: 'apw' })).toEqual({ ok: true, user: 'admin' });
    });

    it('does not apply when the client sent credentials', async () => {
      const a = new Authenticator(
        options({ noAuthUser: 'guest', users: [{ user: 'guest', password: 'g' }, { user: 'admin', password: 'apw' }] }),
      );
      await fails(a, { user: 'admin', pass: 'wrong' });
      await fails(a, { pass: 'apw' });
      await fails(a, { auth_token: 'apw' });
    });

    it('can be an nkey user, needing no signature', async () => {
      const guest = createUser();
      const a = new Authenticator(options({ noAuthUser: guest.getPublicKey(), users: [{ nkey: guest.getPublicKey() }] }));
      expect(await ok(a, {}, nonceBytes(makeNonce()))).toEqual({ ok: true, user: guest.getPublicKey() });
    });
  });

  it('never puts a secret into a result', async () => {
    const a = new Authenticator(options({ users: [{ user: 'alice', password: 'very-secret' }] }));
    const good = await a.check({ user: 'alice', pass: 'very-secret' }, null);
    const bad = await a.check({ user: 'alice', pass: 'very-secreT' }, null);
    expect(JSON.stringify(good)).not.toContain('very-secret');
    expect(JSON.stringify(bad)).not.toContain('very-secre');
  });
});
