// Reconnect: the server is killed and restarted on the same port; the clients reconnect on their
// own and re-send their subscriptions, which must work again afterwards. A restart is costly, so
// each worker count restarts one server and clients of both generations ride through it together.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, tempDir } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { GENERATIONS, WORKER_COUNTS } from './clients.ts';
import { ConnectionPool, collect, freePort, within } from './util.ts';

/** Resolves on the first status event of `type` reported after this call. */
function nextStatus(nc: NatsConnection, type: string): Promise<void> {
  const it = nc.status();
  return (async () => {
    for await (const s of it) {
      if ((s as { type: string }).type === type) return;
    }
    throw new Error(`status stream ended before ${type}`);
  })();
}

const RECONNECT_BOUND_MS = 15_000;

interface Rider {
  nc: NatsConnection;
  plain: Subscription;
  queued: Subscription;
  served: Subscription;
  disconnected: Promise<void>;
  reconnected: Promise<void>;
}

for (const workers of WORKER_COUNTS) {
  describe(`reconnect — workers: ${workers}`, () => {
    const pools = GENERATIONS.map((gen) => new ConnectionPool(gen));
    const servers: RunningServer[] = [];
    const dirs: string[] = [];

    afterEach(async () => {
      await Promise.all(pools.map((p) => p.closeAll()));
      await Promise.all(servers.splice(0).map((s) => s.stop()));
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    });

    it('resubscribes after the server restarts on the same port', async () => {
      const port = await freePort();
      const dir = tempDir();
      dirs.push(dir);
      const first = await startServer({ workers, port, dir });
      servers.push(first);
      const opts = { servers: first.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 };

      const riders: Rider[] = [];
      for (const [i, pool] of pools.entries()) {
        const nc = await pool.connect(opts);
        const rider: Rider = {
          nc,
          plain: nc.subscribe(`survives.restart.${i}`),
          queued: nc.subscribe(`survives.queue.${i}`, { queue: 'q' }),
          served: nc.subscribe(`svc.after.${i}`, {
            callback: (_err, m) => {
              m.respond(`back:${m.string()}`);
            },
          }),
          disconnected: nextStatus(nc, 'disconnect'),
          reconnected: nextStatus(nc, 'reconnect'),
        };
        await nc.flush();
        riders.push(rider);
      }

      await first.kill();
      // Nothing is published while disconnected: both clients reset their outbound buffer on
      // every dial attempt, so what survives depends on reconnect timing, not on the server.
      for (const [i, r] of riders.entries()) {
        await within(r.disconnected, `${GENERATIONS[i]!.name} notices the disconnect`, RECONNECT_BOUND_MS);
      }

      const second = await startServer({ workers, port, dir });
      servers.push(second);
      expect(second.port).toBe(port);

      for (const [i, r] of riders.entries()) {
        const name = GENERATIONS[i]!.name;
        await within(r.reconnected, `${name} reconnects`, RECONNECT_BOUND_MS);
        // The clients queue their SUBs right after the handshake's PONG and report the
        // reconnect without waiting for an answer; one more round trip makes them live.
        await r.nc.flush();
        expect(r.nc.isClosed()).toBe(false);

        const pub = await pools[i]!.connect({ servers: second.url });
        pub.publish(`survives.restart.${i}`, 'hello again');
        pub.publish(`survives.queue.${i}`, 'queued again');
        await pub.flush();
        const [m] = await collect(r.plain, 1, `${name}: plain subscription`);
        expect(m!.string()).toBe('hello again');
        expect(m!.subject).toBe(`survives.restart.${i}`);
        const [q] = await collect(r.queued, 1, `${name}: queue subscription`);
        expect(q!.string()).toBe('queued again');

        const reply = await pub.request(`svc.after.${i}`, 'ping', { timeout: 5_000 });
        expect(reply.string()).toBe('back:ping');
        expect(r.served.isClosed()).toBe(false);

        // The reconnected client publishes too.
        const watch = pub.subscribe(`from.reconnected.${i}`);
        await pub.flush();
        r.nc.publish(`from.reconnected.${i}`, 'still here');
        await r.nc.flush();
        const [w] = await collect(watch, 1, `${name}: publish after reconnect`);
        expect(w!.string()).toBe('still here');
      }
    });
  });
}
