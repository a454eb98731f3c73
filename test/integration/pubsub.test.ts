// Publish/subscribe and queue groups through the official clients.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { matrix } from './clients.ts';
import { collect, ConnectionPool, deferred, within } from './util.ts';

for (const { gen, workers } of matrix()) {
  describe(`pub/sub — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = new ConnectionPool(gen);

    beforeAll(async () => {
      srv = await startServer({ workers });
    });
    afterEach(() => pool.closeAll());
    afterAll(async () => {
      await pool.closeAll();
      await srv?.stop();
    });

    it('delivers to a full wildcard and a literal subscription with subject and payload intact', async () => {
      const sub = await pool.connect({ servers: srv.url });
      const wide = sub.subscribe('orders.>');
      const exact = sub.subscribe('orders.us.created');
      const other = sub.subscribe('orders.eu.*');
      await sub.flush();

      const pub = await pool.connect({ servers: srv.url });
      const payload = new Uint8Array([0, 1, 2, 0x0d, 0x0a, 255, 0x4d, 0x53, 0x47]);
      pub.publish('orders.us.created', payload);
      pub.publish('orders.eu.created', 'eu');
      await pub.flush();

      const [wideMsgs, exactMsgs, otherMsgs] = await Promise.all([
        collect(wide, 2),
        collect(exact, 1),
        collect(other, 1),
      ]);
      expect(wideMsgs.map((m) => m.subject)).toEqual(['orders.us.created', 'orders.eu.created']);
      expect(Array.from(wideMsgs[0]!.data)).toEqual(Array.from(payload));
      expect(wideMsgs[1]!.string()).toBe('eu');
      expect(exactMsgs[0]!.subject).toBe('orders.us.created');
      expect(Array.from(exactMsgs[0]!.data)).toEqual(Array.from(payload));
      expect(otherMsgs[0]!.subject).toBe('orders.eu.created');
      // The literal subscription got nothing from orders.eu: its next message would be a second one.
      expect(exact.getReceived()).toBe(1);
    });

    it('keeps one publisher’s messages in order', async () => {
      const sub = await pool.connect({ servers: srv.url });
      const s = sub.subscribe('seq.>');
      await sub.flush();
      const pub = await pool.connect({ servers: srv.url });
      const count = 500;
      for (let i = 0; i < count; i++) pub.publish(`seq.${i % 3}`, String(i));
      await pub.flush();
      const got = await collect(s, count);
      expect(got.map((m) => Number(m.string()))).toEqual(Array.from({ length: count }, (_, i) => i));
    });

    it('gives each task to exactly one queue worker and every task to a plain subscriber', async () => {
      const tasks = 10;
      const workerConns = await Promise.all([0, 1, 2].map(() => pool.connect({ servers: srv.url })));
      const byWorker: string[][] = [[], [], []];
      let queueTotal = 0;
      const allQueued = deferred();
      workerConns.forEach((nc, i) => {
        nc.subscribe('tasks', {
          queue: 'workers',
          callback: (err, m) => {
            if (err) return allQueued.reject(err);
            byWorker[i]!.push(m.string());
            if (++queueTotal === tasks) allQueued.resolve();
          },
        });
      });
      const monitorConn = await pool.connect({ servers: srv.url });
      const monitorSub = monitorConn.subscribe('tasks');
      await Promise.all([...workerConns, monitorConn].map((nc) => nc.flush()));

      const pub = await pool.connect({ servers: srv.url });
      for (let i = 0; i < tasks; i++) pub.publish('tasks', `task-${i}`);
      await pub.flush();

      const monitored = await collect(monitorSub, tasks);
      await within(allQueued.promise, 'all tasks reach the queue group');
      // Round-trip every worker connection so a duplicate delivery would have arrived by now.
      await Promise.all(workerConns.map((nc) => nc.flush()));

      const expected = Array.from({ length: tasks }, (_, i) => `task-${i}`);
      expect(monitored.map((m) => m.string())).toEqual(expected);
      const delivered = byWorker.flat();
      expect(delivered).toHaveLength(tasks);
      expect([...delivered].sort()).toEqual([...expected].sort());
    });
  });
}
