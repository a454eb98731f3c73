// Authentication and permissions as the official clients see them: token, user/password, bcrypt,
// nkey, rejected credentials, and publish/subscribe permission violations reported asynchronously.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { createUser } from '@nats-io/nkeys';
import type { KeyPair } from '@nats-io/nkeys';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { GENERATIONS, WORKER_COUNTS, matrix } from './clients.ts';
import type { ConnectOpts, PermissionEvent } from './clients.ts';
import { collect, ConnectionPool, connectRefusal, SharedServers, within } from './util.ts';

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
      user: responder, password: "responder"
      permissions: {
        subscribe: { allow: ["svc.>"] }
        publish: { deny: [">"] }
        allow_responses: true
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

const nkeyUser = createUser();
const stranger = createUser();
const sharedServers = new SharedServers();
afterAll(() => sharedServers.stopAll());

for (const { gen, workers } of matrix()) {
  describe(`auth — ${gen.name}, workers: ${workers}`, () => {
    let tokenSrv: RunningServer;
    let usersSrv: RunningServer;
    const pool = new ConnectionPool(gen);

    /** Connects and returns the rejection, or fails the test if the connection was accepted. */
    const rejection = (opts: ConnectOpts): Promise<unknown> =>
      connectRefusal(gen, opts, `connection with ${JSON.stringify({ ...opts, authenticator: undefined })} was accepted`);

    beforeAll(async () => {
      [tokenSrv, usersSrv] = await Promise.all([
        sharedServers.get(`token, workers ${workers}`, () =>
          startServer({ workers, config: `authorization { token: "${TOKEN}" }` }),
        ),
        sharedServers.get(`users, workers ${workers}`, () => {
          const hash = bcrypt.hashSync('through the looking glass', BCRYPT_TEST_COST);
          return startServer({ workers, config: usersConfig(hash, nkeyUser) });
        }),
      ]);
    });
    afterEach(() => pool.closeAll());
    afterAll(() => pool.closeAll());

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

    it('lets allow_responses answer one reply per request without publish rights', async () => {
      const svc = await pool.connect({ servers: usersSrv.url, user: 'responder', pass: 'responder' });
      const violations: PermissionEvent[] = [];
      const firstViolation = gen.nextPermissionError(svc).then((v) => violations.push(v));
      svc.subscribe('svc.answer', {
        callback: (_err, m) => {
          m.respond('the answer');
          m.respond('a second answer exceeds the default of one response');
        },
      });
      await svc.flush();
      const client = await pool.connect({ servers: usersSrv.url, user: 'alice', pass: 'wonderland' });
      const reply = await client.request('svc.answer', '', { timeout: 5_000 });
      expect(reply.string()).toBe('the answer');
      await within(firstViolation, 'second response refused');
      expect(violations[0]!.operation).toBe('publish');
      expect(violations[0]!.subject).toMatch(/^_INBOX\./);

      const next = gen.nextPermissionError(svc);
      svc.publish('svc.unsolicited', 'x');
      expect(await within(next, 'plain publish refused')).toEqual({ operation: 'publish', subject: 'svc.unsolicited' });
    });
  });
}

const ACCOUNTS_CONFIG = `
accounts {
  A: { users: [ { user: a1, password: "a1" }, { user: a2, password: "a2" } ] }
  B: { users: [ { user: b1, password: "b1" } ] }
}
no_auth_user: a2
`;

for (const { gen, workers } of matrix()) {
  describe(`accounts — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = new ConnectionPool(gen);
    beforeAll(async () => {
      srv = await sharedServers.get(`accounts, workers ${workers}`, () => startServer({ workers, config: ACCOUNTS_CONFIG }));
    });
    afterEach(() => pool.closeAll());
    afterAll(() => pool.closeAll());

    it('keeps each account’s subjects to itself, with no_auth_user joining its account', async () => {
      const a1 = await pool.connect({ servers: srv.url, user: 'a1', pass: 'a1' });
      const b1 = await pool.connect({ servers: srv.url, user: 'b1', pass: 'b1' });
      const anon = await pool.connect({ servers: srv.url });
      const inA = a1.subscribe('shared.name');
      const inB = b1.subscribe('shared.name');
      await Promise.all([a1.flush(), b1.flush()]);

      anon.publish('shared.name', 'from A (no_auth_user)');
      await anon.flush();
      const [m] = await collect(inA, 1);
      expect(m!.string()).toBe('from A (no_auth_user)');

      b1.publish('shared.name', 'from B');
      await b1.flush();
      const [mb] = await collect(inB, 1);
      expect(mb!.string()).toBe('from B');

      // Both publishers' PONGs covered their deliveries; these round trips bring any stray in.
      await Promise.all([a1.flush(), b1.flush()]);
      expect(inA.getReceived(), 'account A saw a message from account B').toBe(1);
      expect(inB.getReceived(), 'account B saw a message from account A').toBe(1);
    });
  });
}

// A reload changes the server for good, so each worker count gets one server and both client
// generations go through the same reload side by side.
for (const workers of WORKER_COUNTS) {
  describe(`auth reload — workers: ${workers}`, () => {
    let srv: RunningServer;
    const pools = GENERATIONS.map((gen) => new ConnectionPool(gen));
    const users = (entries: string) => `authorization { users: [ ${entries} ] }`;

    beforeAll(async () => {
      srv = await startServer({
        workers,
        config: users('{ user: keep, password: "same" }, { user: gone, password: "bye" }, { user: moved, password: "old" }'),
      });
    });
    afterAll(async () => {
      await Promise.all(pools.map((p) => p.closeAll()));
      await srv?.stop();
    });

    it('closes connections whose credentials a reload removed, keeps the others, and accepts the new ones', async () => {
      const before = await Promise.all(
        pools.map(async (pool) => {
          const keep = await pool.connect({ servers: srv.url, user: 'keep', pass: 'same' });
          const gone = await pool.connect({ servers: srv.url, user: 'gone', pass: 'bye', reconnect: false });
          const moved = await pool.connect({ servers: srv.url, user: 'moved', pass: 'old', reconnect: false });
          return { keep, goneClosed: gone.closed(), movedClosed: moved.closed() };
        }),
      );

      const conf = fs.readFileSync(srv.configFile, 'utf8');
      const start = conf.indexOf('authorization {');
      fs.writeFileSync(
        srv.configFile,
        conf.slice(0, start) + users('{ user: keep, password: "same" }, { user: moved, password: "new" }') + '\n',
      );
      srv.signal('SIGHUP');

      for (const [i, gen] of GENERATIONS.entries()) {
        const { keep, goneClosed, movedClosed } = before[i]!;
        const [goneErr, movedErr] = await within(Promise.all([goneClosed, movedClosed]), `${gen.name}: reload closes stale users`);
        expect(gen.isAuthorization(goneErr), `${gen.name}: authorization error expected, got ${String(goneErr)}`).toBe(true);
        expect(gen.isAuthorization(movedErr), `${gen.name}: authorization error expected, got ${String(movedErr)}`).toBe(true);

        // Sockets reach a worker after the reload message sent before them, so the new rules hold.
        const fresh = await pools[i]!.connect({ servers: srv.url, user: 'moved', pass: 'new' });
        const s = keep.subscribe('after.reload');
        await keep.flush();
        fresh.publish('after.reload', 'still friends');
        const [m] = await collect(s, 1);
        expect(m!.string()).toBe('still friends');
        expect(keep.isClosed()).toBe(false);

        let oldErr: unknown = null;
        try {
          const stale = await gen.connect({ servers: srv.url, user: 'moved', pass: 'old', reconnect: false });
          await stale.close();
        } catch (e) {
          oldErr = e;
        }
        expect(gen.isAuthorization(oldErr), `${gen.name}: authorization error expected, got ${String(oldErr)}`).toBe(true);
      }
    });
  });
}
