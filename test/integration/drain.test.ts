// Drain: a subscription or a whole connection stops taking new interest but still processes
// what the server sent before the drain's round trip, then closes without an error.
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../support/server.ts';
import { matrix } from './clients.ts';
import { collect, onSharedServer, SharedServers, within } from './util.ts';

const IN_FLIGHT = 200;

const sharedServers = new SharedServers();
afterAll(() => sharedServers.stopAll());

for (const { gen, workers } of matrix()) {
  describe(`drain — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedServer(sharedServers, gen, workers, (s) => (srv = s));

    it('subscription drain delivers the messages in flight, then stops the subscription', async () => {
      const nc = await pool.connect({ servers: srv.url });
      const seen: number[] = [];
      const sub = nc.subscribe('work.items', { callback: (_err, m) => void seen.push(Number(m.string())) });
      // A second subscription on the same connection keeps working after the first drains.
      const other = nc.subscribe('work.items');
      await nc.flush();

      const pub = await pool.connect({ servers: srv.url });
      for (let i = 0; i < IN_FLIGHT; i++) pub.publish('work.items', String(i));
      // After this PONG the server has routed every message to the subscriber's connection.
      await pub.flush();

      await within(sub.drain(), 'subscription drain');
      expect(sub.isClosed()).toBe(true);
      expect(seen).toEqual(Array.from({ length: IN_FLIGHT }, (_, i) => i));

      pub.publish('work.items', 'after drain');
      await pub.flush();
      const rest = await collect(other, IN_FLIGHT + 1);
      expect(rest.at(-1)!.string()).toBe('after drain');
      await nc.flush();
      expect(seen).toHaveLength(IN_FLIGHT);
    });

    it('connection drain finishes every subscription and its own publishes, then closes cleanly', async () => {
      const nc = await pool.connect({ servers: srv.url });
      const counts = { a: 0, b: 0 };
      nc.subscribe('drain.a', { callback: () => void counts.a++ });
      nc.subscribe('drain.b', { callback: () => void counts.b++ });
      const iterated = nc.subscribe('drain.c');
      const iteratedAll = (async () => {
        let n = 0;
        for await (const _m of iterated) n++;
        return n; // the loop ends when the drained subscription closes
      })();
      await nc.flush();

      const observer = await pool.connect({ servers: srv.url });
      const observed = observer.subscribe('drain.out');
      await observer.flush();

      const pub = await pool.connect({ servers: srv.url });
      for (let i = 0; i < IN_FLIGHT; i++) {
        pub.publish('drain.a', '');
        pub.publish('drain.b', '');
        pub.publish('drain.c', '');
      }
      await pub.flush();

      // Messages the draining connection publishes before drain() still go out.
      for (let i = 0; i < 10; i++) nc.publish('drain.out', String(i));
      const closed = nc.closed();
      await within(nc.drain(), 'connection drain');
      expect(await within(closed, 'closed() after drain')).toBeUndefined();
      expect(nc.isClosed()).toBe(true);
      expect(counts).toEqual({ a: IN_FLIGHT, b: IN_FLIGHT });
      expect(await within(iteratedAll, 'iterator ends')).toBe(IN_FLIGHT);

      const out = await collect(observed, 10);
      expect(out.map((m) => m.string())).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    });

    it('a draining connection refuses new subscriptions', async () => {
      const nc = await pool.connect({ servers: srv.url });
      nc.subscribe('x');
      const draining = nc.drain();
      let err: unknown = null;
      try {
        nc.subscribe('y');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Error);
      expect(String(err)).toMatch(/drain/i);
      await within(draining, 'drain');
    });
  });
}
