// What the clients learn from the server's INFO, and the CONNECT options echo and no_responders.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monitor, startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { GENERATIONS, WORKER_COUNTS, matrix } from './clients.ts';
import { collect, ConnectionPool, onSharedServer, SharedServers, within } from './util.ts';

const sharedServers = new SharedServers();
afterAll(() => sharedServers.stopAll());

for (const { gen, workers } of matrix()) {
  describe(`connection — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedServer(sharedServers, gen, workers, (s) => (srv = s), () =>
      startServer({ workers, config: 'server_name: petrel-it' }),
    );

    it('exposes the server INFO fields', async () => {
      const nc = await pool.connect({ servers: srv.url });
      const info = nc.info;
      expect(info).toBeDefined();
      expect(info!.server_id).toMatch(/^N[A-Z2-7]{55}$/);
      expect(info!.server_name).toBe('petrel-it');
      expect(info!.version).toMatch(/^2\.\d+\.\d+/);
      expect(info!.proto).toBe(1);
      expect(info!.headers).toBe(true);
      expect(info!.max_payload).toBe(1024 * 1024);
      expect(info!.port).toBe(srv.port);
      expect(typeof info!.client_id).toBe('number');
      expect(nc.getServer()).toBe(`127.0.0.1:${srv.port}`);
      // Two connections get distinct client ids.
      const other = await pool.connect({ servers: srv.url });
      expect(other.info!.client_id).not.toBe(info!.client_id);
      expect(other.info!.server_id).toBe(info!.server_id);
    });

    it('measures a round trip (PING/PONG) and counts traffic', async () => {
      const nc = await pool.connect({ servers: srv.url });
      const rtt = await nc.rtt();
      expect(rtt).toBeGreaterThanOrEqual(0);
      const s = nc.subscribe('stats');
      nc.publish('stats', 'abc');
      await collect(s, 1);
      const stats = nc.stats();
      expect(stats.outMsgs).toBe(1);
      expect(stats.inMsgs).toBe(1);
      expect(stats.outBytes).toBe(3);
      expect(stats.inBytes).toBe(3);
    });

    it('with noEcho (CONNECT echo: false) does not deliver a connection its own messages', async () => {
      const quiet = await pool.connect({ servers: srv.url, noEcho: true });
      const qs = quiet.subscribe('chat');
      await quiet.flush();
      const loud = await pool.connect({ servers: srv.url });
      const ls = loud.subscribe('chat');
      await loud.flush();

      quiet.publish('chat', 'from quiet');
      // After this round trip an echoed copy would already sit ahead of anything published later.
      await quiet.flush();
      loud.publish('chat', 'from loud');
      await loud.flush();

      const [first] = await collect(qs, 1);
      expect(first!.string()).toBe('from loud');
      const seenByLoud = await collect(ls, 2);
      expect(seenByLoud.map((m) => m.string())).toEqual(['from quiet', 'from loud']);
    });

    it('sends no_responders, so a request to nothing is answered with a 503 status', async () => {
      const nc = await pool.connect({ servers: srv.url });
      // A plain subscription on an inbox sees the server's no-responders status message itself.
      const inbox = `_INBOX.manual.${gen.name.replace(/\W/g, '')}`;
      const s = nc.subscribe(inbox);
      nc.publish('no.such.service', 'x', { reply: inbox });
      const [status] = await collect(s, 1);
      expect(status!.headers?.code).toBe(503);
      expect(status!.data.length).toBe(0);
      expect(status!.subject).toBe(inbox);
    });

    it('shows up in /connz with the client name and language', async () => {
      const nc = await pool.connect({ servers: srv.url, name: 'it-client' });
      await nc.flush();
      const connz = await monitor(srv, '/connz');
      const mine = (connz.connections as { cid: number; name?: string; lang?: string }[]).find(
        (c) => c.cid === nc.info!.client_id,
      );
      expect(mine, JSON.stringify(connz)).toBeDefined();
      expect(mine!.name).toBe('it-client');
      expect(mine!.lang).toMatch(/nats\.js|javascript/);
    });

    it('in pedantic mode reports an invalid publish subject and keeps the connection', async () => {
      const nc = await pool.connect({ servers: srv.url, pedantic: true, verbose: true });
      const reported = gen.nextProtocolError(nc);
      nc.publish('not.*.valid', 'x');
      const text = await within(reported, 'protocol error status');
      if (text !== null) expect(text).toMatch(/invalid publish subject/i);
      const s = nc.subscribe('valid.subject');
      nc.publish('valid.subject', 'fine');
      const [m] = await collect(s, 1);
      expect(m!.string()).toBe('fine');
      expect(nc.isClosed()).toBe(false);
    });

    it('reports connections and message counts across workers in /varz', async () => {
      const before = await monitor(srv, '/varz');
      const a = await pool.connect({ servers: srv.url });
      const b = await pool.connect({ servers: srv.url });
      const s = a.subscribe('counted');
      await a.flush();
      for (let i = 0; i < 5; i++) b.publish('counted', '12345');
      await b.flush();
      await collect(s, 5);
      const after = await monitor(srv, '/varz');
      // total_connections only grows; `connections` may still count a client closed just before.
      expect(after.total_connections - before.total_connections).toBe(2);
      expect(after.connections).toBeGreaterThanOrEqual(2);
      const connz = await monitor(srv, '/connz');
      const cids = (connz.connections as { cid: number }[]).map((c) => c.cid);
      expect(cids).toEqual(expect.arrayContaining([a.info!.client_id, b.info!.client_id]));
      expect(after.in_msgs - before.in_msgs).toBe(5);
      expect(after.out_msgs - before.out_msgs).toBe(5);
      expect(after.in_bytes - before.in_bytes).toBe(25);
      expect(after.out_bytes - before.out_bytes).toBe(25);
    });
  });
}

// Lame duck ends the server, so each worker count gets one and both generations watch it.
for (const workers of WORKER_COUNTS) {
  describe(`lame duck — workers: ${workers}`, () => {
    let srv: RunningServer;
    const pools = GENERATIONS.map((gen) => new ConnectionPool(gen));
    beforeAll(async () => {
      srv = await startServer({ workers });
    });
    afterAll(async () => {
      await Promise.all(pools.map((p) => p.closeAll()));
      await srv?.stop();
    });

    it('tells connected clients through an ldm status and refuses new connections', async () => {
      const conns = await Promise.all(pools.map((pool) => pool.connect({ servers: srv.url, reconnect: false })));
      const told = conns.map((nc) =>
        (async () => {
          for await (const st of nc.status()) if ((st as { type: string }).type === 'ldm') return;
        })(),
      );
      srv.signal('SIGUSR2');
      for (const [i, gen] of GENERATIONS.entries()) {
        await within(told[i]!, `${gen.name}: ldm status`);
        let refused: unknown = null;
        try {
          const late = await gen.connect({ servers: srv.url, reconnect: false });
          await late.close();
        } catch (e) {
          refused = e;
        }
        expect(refused, `${gen.name}: new connection refused`).toBeInstanceOf(Error);
        // Existing connections keep working until the server closes them.
        const nc = conns[i]!;
        const s = nc.subscribe('still.open');
        nc.publish('still.open', 'yes');
        const [m] = await collect(s, 1);
        expect(m!.string()).toBe('yes');
      }
    });
  });
}
