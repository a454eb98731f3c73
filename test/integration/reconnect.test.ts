// Reconnect: the server is killed and restarted on the same port; the clients reconnect on their
// own and re-send their subscriptions, which must work again once the reconnect is reported.
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, tempDir } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import type { NatsConnection } from '@nats-io/nats-core';
import { matrix } from './clients.ts';
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

for (const { gen, workers } of matrix()) {
  describe(`reconnect — ${gen.name}, workers: ${workers}`, () => {
    const pool = new ConnectionPool(gen);
    const servers: RunningServer[] = [];

    afterEach(async () => {
      await pool.closeAll();
      await Promise.all(servers.splice(0).map((s) => s.stop()));
    });

    it('resubscribes after the server restarts on the same port', async () => {
      const port = await freePort();
      const dir = tempDir();
      const first = await startServer({ workers, port, dir });
      servers.push(first);
      const opts = { servers: first.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 };

      const nc = await pool.connect(opts);
      const plain = nc.subscribe('survives.restart');
      const queued = nc.subscribe('survives.queue', { queue: 'q' });
      const served = nc.subscribe('svc.after', {
        callback: (_err, m) => {
          m.respond(`back:${m.string()}`);
        },
      });
      await nc.flush();

      const disconnected = nextStatus(nc, 'disconnect');
      const reconnected = nextStatus(nc, 'reconnect');
      await first.kill();
      await within(disconnected, 'client notices the disconnect', RECONNECT_BOUND_MS);

      const second = await startServer({ workers, port, dir });
      servers.push(second);
      expect(second.port).toBe(port);
      await within(reconnected, 'client reconnects', RECONNECT_BOUND_MS);
      // The clients queue their SUBs right after the handshake's PONG and report the reconnect
      // without waiting for an answer; one more round trip makes them live server-wide.
      await nc.flush();
      expect(nc.isClosed()).toBe(false);
      expect(nc.info!.server_id).toBeDefined();

      const pub = await pool.connect({ servers: second.url });
      pub.publish('survives.restart', 'hello again');
      pub.publish('survives.queue', 'queued again');
      await pub.flush();
      const [m] = await collect(plain, 1);
      expect(m!.string()).toBe('hello again');
      expect(m!.subject).toBe('survives.restart');
      const [q] = await collect(queued, 1);
      expect(q!.string()).toBe('queued again');

      const reply = await pub.request('svc.after', 'ping', { timeout: 5_000 });
      expect(reply.string()).toBe('back:ping');
      expect(served.isClosed()).toBe(false);

      // The reconnected client publishes too.
      const watch = pub.subscribe('from.reconnected');
      await pub.flush();
      nc.publish('from.reconnected', 'still here');
      await nc.flush();
      const [w] = await collect(watch, 1);
      expect(w!.string()).toBe('still here');
    });
  });
}
