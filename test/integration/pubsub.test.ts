// Publish/subscribe and queue groups through the official clients.
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../support/server.ts';
import { matrix } from './clients.ts';
import { collect, deferred, onSharedServer, SharedServers, within } from './util.ts';

const sharedServers = new SharedServers();
afterAll(() => sharedServers.stopAll());

for (const { gen, workers } of matrix()) {
  describe(`pub/sub — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedServer(sharedServers, gen, workers, (s) => (srv = s));

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

    it('stops at an auto-unsubscribe limit on the server side', async () => {
      const nc = await pool.connect({ servers: srv.url });
      const capped = nc.subscribe('capped', { max: 3 });
      await nc.flush();
      const before = nc.stats().inMsgs;
      const pub = await pool.connect({ servers: srv.url });
      for (let i = 0; i < 10; i++) pub.publish('capped', String(i));
      await pub.flush();
      const got = await collect(capped, 3);
      expect(got.map((m) => m.string())).toEqual(['0', '1', '2']);
      // The publisher's PONG covered every delivery; this round trip brings any extra MSG in.
      await nc.flush();
      // inMsgs counts MSGs on the wire, including ones the client drops for a closed subscription.
      expect(nc.stats().inMsgs - before).toBe(3);
      expect(capped.isClosed()).toBe(true);
    });

    it('carries UTF-8 subjects and payloads unchanged', async () => {
      const sub = await pool.connect({ servers: srv.url });
      const s = sub.subscribe('grüße.*.>');
      await sub.flush();
      const pub = await pool.connect({ servers: srv.url });
      pub.publish('grüße.café.日本.✓', 'naïve – ünïcödé ✓');
      await pub.flush();
      const [m] = await collect(s, 1);
      expect(m!.subject).toBe('grüße.café.日本.✓');
      expect(m!.string()).toBe('naïve – ünïcödé ✓');
    });

    it('fans out to many subscribers on many connections', async () => {
      const subscribers = 12;
      const conns = await Promise.all(Array.from({ length: subscribers }, () => pool.connect({ servers: srv.url })));
      const subs = conns.map((nc, i) => nc.subscribe(i % 2 === 0 ? 'fan.out' : 'fan.*'));
      await Promise.all(conns.map((nc) => nc.flush()));
      const pub = await pool.connect({ servers: srv.url });
      for (let i = 0; i < 50; i++) pub.publish('fan.out', String(i));
      await pub.flush();
      const all = await Promise.all(subs.map((s) => collect(s, 50)));
      const expected = Array.from({ length: 50 }, (_, i) => String(i));
      for (const msgs of all) expect(msgs.map((m) => m.string())).toEqual(expected);
    });

    it('keeps serving a queue group after a member leaves', async () => {
      const a = await pool.connect({ servers: srv.url });
      const b = await pool.connect({ servers: srv.url });
      const leaving = a.subscribe('jobs', { queue: 'g' });
      const staying = b.subscribe('jobs', { queue: 'g' });
      await Promise.all([a.flush(), b.flush()]);
      leaving.unsubscribe();
      await a.flush();
      const pub = await pool.connect({ servers: srv.url });
      for (let i = 0; i < 20; i++) pub.publish('jobs', String(i));
      await pub.flush();
      const got = await collect(staying, 20);
      expect(got.map((m) => m.string())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    });

    it('spreads a queue group over members on every connection (and so every worker)', async () => {
      const members = await Promise.all([0, 1, 2, 3].map(() => pool.connect({ servers: srv.url })));
      const counts = [0, 0, 0, 0];
      let total = 0;
      const all = deferred();
      const messages = 400;
      members.forEach((nc, i) => {
        nc.subscribe('spread', {
          queue: 'g',
          callback: () => {
            counts[i]!++;
            if (++total === messages) all.resolve();
          },
        });
      });
      await Promise.all(members.map((nc) => nc.flush()));
      const pub = await pool.connect({ servers: srv.url });
      for (let i = 0; i < messages; i++) pub.publish('spread', '');
      await pub.flush();
      await within(all.promise, 'every message reaches the group');
      await Promise.all(members.map((nc) => nc.flush()));
      expect(counts.reduce((a, b) => a + b)).toBe(messages);
      // Members are picked at random: one left out of 400 picks has odds of (3/4)^400.
      for (const c of counts) expect(c).toBeGreaterThan(0);
    });
  });
}
