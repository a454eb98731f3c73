// TLS with client verification through the official clients, and the ways a connection without
// the right credentials is refused.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { monitor, startServer, tempDir } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { RawClient } from '../support/raw.ts';
import { matrix } from './clients.ts';
import type { ConnectOpts } from './clients.ts';
import { makeTestPki, tlsBlock } from './tls_certs.ts';
import type { TestPki } from './tls_certs.ts';
import { collect, ConnectionPool, connectRefusal, SharedServers } from './util.ts';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki(tempDir('petrel-tls-'));
});
const sharedServers = new SharedServers();
afterAll(async () => {
  await sharedServers.stopAll();
  fs.rmSync(pki.dir, { recursive: true, force: true });
});

for (const { gen, workers } of matrix()) {
  describe(`tls — ${gen.name}, workers: ${workers}`, () => {
    let verifying: RunningServer;
    let tlsFirst: RunningServer;
    const pool = new ConnectionPool(gen);

    const rejection = (opts: ConnectOpts): Promise<unknown> =>
      connectRefusal(gen, opts, `connection with ${JSON.stringify(opts.tls)} was accepted`);

    beforeAll(async () => {
      [verifying, tlsFirst] = await Promise.all([
        sharedServers.get(`verify, workers ${workers}`, () =>
          startServer({ workers, config: tlsBlock(pki, 'verify: true') }),
        ),
        sharedServers.get(`handshake first, workers ${workers}`, () =>
          startServer({ workers, config: tlsBlock(pki, 'handshake_first: true') }),
        ),
      ]);
    });
    afterEach(() => pool.closeAll());
    afterAll(() => pool.closeAll());

    it('connects with the CA and a client certificate, and messages flow', async () => {
      const tls = { caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey };
      const a = await pool.connect({ servers: verifying.url, tls });
      const b = await pool.connect({ servers: verifying.url, tls });
      expect(a.info!.tls_required).toBe(true);
      expect(a.info!.tls_verify).toBe(true);
      const s = a.subscribe('secure.>');
      await a.flush();
      b.publish('secure.hello', 'over tls');
      const reply = a.subscribe('secure.svc', {
        callback: (_err, m) => {
          m.respond('encrypted answer');
        },
      });
      await a.flush();
      const [m] = await collect(s, 1);
      expect(m!.string()).toBe('over tls');
      expect((await b.request('secure.svc', '', { timeout: 5_000 })).string()).toBe('encrypted answer');
      expect(reply.isClosed()).toBe(false);

      const connz = await monitor(verifying, '/connz');
      const mine = (connz.connections as { cid: number; tls_version?: string }[]).find((c) => c.cid === a.info!.client_id);
      expect(mine?.tls_version).toBeTruthy();
    });

    it('refuses a client without a client certificate when verify is on', async () => {
      const err = await rejection({ servers: verifying.url, tls: { caFile: pki.caFile } });
      expect(err).toBeInstanceOf(Error);
    });

    // Regression: a hand-wrapped server TLSSocket does not enforce rejectUnauthorized by itself
    // (Node does that in tls.Server's connection listener), so this client once got its PONG.
    it('refuses a client certificate from an untrusted CA', async () => {
      const err = await rejection({
        servers: verifying.url,
        tls: { caFile: pki.caFile, certFile: pki.rogueClientCert, keyFile: pki.rogueClientKey },
      });
      expect(err).toBeInstanceOf(Error);
    });

    it('fails a client that does not trust the server CA', async () => {
      // The clients upgrade to TLS on their own when INFO says tls_required, so without the CA
      // the self-signed chain fails their verification.
      const err = await rejection({ servers: verifying.url, tls: { certFile: pki.clientCert, keyFile: pki.clientKey } });
      expect(String(err)).toMatch(/certificate/i);
    });

    it('does the TLS handshake before INFO with handshake_first', async () => {
      const nc = await pool.connect({ servers: tlsFirst.url, tls: { caFile: pki.caFile, handshakeFirst: true } });
      const s = nc.subscribe('first');
      nc.publish('first', 'handshake first');
      const [m] = await collect(s, 1);
      expect(m!.string()).toBe('handshake first');
    });
  });
}

describe.each([1, 2])('tls — plaintext client, workers: %i', (workers) => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await sharedServers.get(`verify, workers ${workers}`, () =>
      startServer({ workers, config: tlsBlock(pki, 'verify: true') }),
    );
  });

  it('announces tls_required and drops a client that speaks plaintext', async () => {
    const { c, info } = await RawClient.open(srv.port);
    expect(info.tls_required).toBe(true);
    c.send('CONNECT {"verbose":false}\r\nPING\r\n');
    await c.whenClosed();
    expect(c.pending).not.toMatch(/PONG/);
  });
});
