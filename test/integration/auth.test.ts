// Authentication and permissions as the official clients see them: token, user/password, bcrypt,
// nkey, rejected credentials, and publish/subscribe permission violations reported asynchronously.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { createUser } from '@nats-io/nkeys';
import type { KeyPair } from '@nats-io/nkeys';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { matrix } from './clients.ts';
import type { ConnectOpts } from './clients.ts';
import { ConnectionPool, collect, within } from './util.ts';

/** The lowest cost bcrypt allows: the test checks verification, not hashing strength. */
const BCRYPT_TEST_COST = 4;
const TOKEN = 's3cret-token';

function usersConfig(bcryptHash: string, nkeyUser: KeyPair): string {
  return `
authorization {
  users: [
    { user: alice, password: "wonderland" }
    { user: bob, password: "${bcryptHash}" }
    { nkey: ${nkeyUser.getPublicKey()} }
    {
      user: restricted, password: "limits"
      permissions: {
        publish: { deny: ["secret.>"] }
        subscribe: { deny: ["admin.>"] }
      }
    }
    {
      user: narrow, password: "narrow"
      permissions: {
        publish: { allow: ["svc.>"] }
        subscribe: { allow: ["_INBOX.>", "svc.>"] }
      }
    }
  ]
}
`;
}

for (const { gen, workers } of matrix()) {
  describe(`auth — ${gen.name}, workers: ${workers}`, () => {
    let tokenSrv: RunningServer;
    let usersSrv: RunningServer;
    const nkeyUser = createUser();
    const stranger = createUser();
    const pool = new ConnectionPool(gen);

    /** Connects and returns the rejection, or fails the test if the connection was accepted. */
    async function rejection(opts: ConnectOpts): Promise<unknown> {
      try {
        const nc = await gen.connect({ ...opts, reconnect: false });
        await nc.close();
      } catch (err) {
        return err;
      }
      throw new Error(`connection with ${JSON.stringify({ ...opts, authenticator: undefined })} was accepted`);
    }

    beforeAll(async () => {
      const hash = bcrypt.hashSync('through the looking glass', BCRYPT_TEST_COST);
      [tokenSrv, usersSrv] = await Promise.all([
        startServer({ workers, config: `authorization { token: "${TOKEN}" }` }),
        startServer({ workers, config: usersConfig(hash, nkeyUser) }),
      ]);
    });
    afterEach(() => pool.closeAll());
    afterAll(async () => {
      await pool.closeAll();
      await Promise.all([tokenSrv?.stop(), usersSrv?.stop()]);
    });

    it('accepts the right token and rejects a wrong or missing one', async () => {
      const nc = await pool.connect({ servers: tokenSrv.url, token: TOKEN });
      expect(nc.info!.auth_required).toBe(true);
      await nc.flush();
      const wrong = await rejection({ servers: tokenSrv.url, token: 'nope' });
      expect(gen.isAuthorization(wrong), `authorization error expected, got ${String(wrong)}`).toBe(true);
      const missing = await rejection({ servers: tokenSrv.url });
      expect(gen.isAuthorization(missing), `authorization error expected, got ${String(missing)}`).toBe(true);
    });

    it('accepts a plain password user and a bcrypt user, and rejects a wrong password', async () => {
      const alice = await pool.connect({ servers: usersSrv.url, user: 'alice', pass: 'wonderland' });
      const bob = await pool.connect({ servers: usersSrv.url, user: 'bob', pass: 'through the looking glass' });
      const s = bob.subscribe('hello');
      await bob.flush();
      alice.publish('hello', 'from alice');
      const [m] = await collect(s, 1);
      expect(m!.string()).toBe('from alice');

      const wrong = await rejection({ servers: usersSrv.url, user: 'alice', pass: 'wrong' });
      expect(gen.isAuthorization(wrong), `authorization error expected, got ${String(wrong)}`).toBe(true);
      const wrongBcrypt = await rejection({ servers: usersSrv.url, user: 'bob', pass: 'wonderland' });
      expect(gen.isAuthorization(wrongBcrypt), `authorization error expected, got ${String(wrongBcrypt)}`).toBe(true);
      const unknown = await rejection({ servers: usersSrv.url, user: 'mallory', pass: 'wonderland' });
      expect(gen.isAuthorization(unknown), `authorization error expected, got ${String(unknown)}`).toBe(true);
    });

    it('accepts an nkey user signing the nonce, and rejects an unknown nkey', async () => {
      const nc = await pool.connect({ servers: usersSrv.url, authenticator: gen.nkeyAuthenticator(nkeyUser.getSeed()) });
      expect(nc.info!.nonce).toBeTruthy();
      const s = nc.subscribe('nk');
      nc.publish('nk', 'signed');
      const [m] = await collect(s, 1);
      expect(m!.string()).toBe('signed');

      const err = await rejection({ servers: usersSrv.url, authenticator: gen.nkeyAuthenticator(stranger.getSeed()) });
      expect(gen.isAuthorization(err), `authorization error expected, got ${String(err)}`).toBe(true);
    });

    it('reports a denied publish asynchronously and never delivers it', async () => {
      const admin = await pool.connect({ servers: usersSrv.url, user: 'alice', pass: 'wonderland' });
      const secrets = admin.subscribe('secret.>');
      const publics = admin.subscribe('public.>');
      await admin.flush();

      const nc = await pool.connect({ servers: usersSrv.url, user: 'restricted', pass: 'limits' });
      const violation = gen.nextPermissionError(nc);
      nc.publish('secret.plans', 'classified');
      nc.publish('public.news', 'hello world');
      await nc.flush();

      expect(await within(violation, 'permission error status')).toEqual({ operation: 'publish', subject: 'secret.plans' });
      const [m] = await collect(publics, 1);
      expect(m!.string()).toBe('hello world');
      // One publisher's messages stay in order: a leaked secret would already be here.
      expect(secrets.getReceived()).toBe(0);
      expect(nc.isClosed()).toBe(false);
    });

    it('reports a denied subscription and keeps the connection open', async () => {
      const nc = await pool.connect({ servers: usersSrv.url, user: 'restricted', pass: 'limits' });
      const violation = gen.nextPermissionError(nc);
      const denied = nc.subscribe('admin.>');
      await nc.flush();
      expect(await within(violation, 'permission error status')).toEqual({ operation: 'subscription', subject: 'admin.>' });

      const admin = await pool.connect({ servers: usersSrv.url, user: 'alice', pass: 'wonderland' });
      admin.publish('admin.reset', 'x');
      await admin.flush();
      const ok = nc.subscribe('fine');
      nc.publish('fine', 'still works');
      const [m] = await collect(ok, 1);
      expect(m!.string()).toBe('still works');
      expect(denied.getReceived()).toBe(0);
    });

    it('lets an allow-listed user make requests on its subjects and refuses the rest', async () => {
      const svc = await pool.connect({ servers: usersSrv.url, user: 'alice', pass: 'wonderland' });
      svc.subscribe('svc.time', {
        callback: (_err, m) => {
          m.respond('noon');
        },
      });
      await svc.flush();
      const nc = await pool.connect({ servers: usersSrv.url, user: 'narrow', pass: 'narrow' });
      const reply = await nc.request('svc.time', '', { timeout: 5_000 });
      expect(reply.string()).toBe('noon');

      const violation = gen.nextPermissionError(nc);
      nc.publish('elsewhere', 'x');
      expect(await within(violation, 'permission error status')).toEqual({ operation: 'publish', subject: 'elsewhere' });
    });
  });
}
