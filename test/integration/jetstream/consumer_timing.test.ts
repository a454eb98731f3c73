// Consumer behaviour where time is the feature, through the official clients: nak with and
// without delay, term, ack_wait redelivery held off by working(), max_deliver, and ephemeral
// consumers removed after inactive_threshold. The server runs on its own clock, so these tests
// never race it: they assert lower bounds only (a slow test machine makes things later, never
// earlier), order their steps so no outcome depends on how fast the test runs, and where a
// proof needs the test to act in time (working() before ack_wait runs out) they confirm it did
// and otherwise retry with a longer ack_wait.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import type { RunningServer } from '../../support/server.ts';
import { connectWithStream, durable, publishAll } from './consumer_fixture.ts';
import { jsMatrix } from './js_clients.ts';
import { EVENT_BOUND_MS, JsConnectionPool, nanos, pollUntil, SharedServers, startJsServer } from './js_util.ts';

const servers = new SharedServers();

/** The message's ack subject (both client generations keep it as `reply`, outside the JsMsg type). */
function ackSubject(m: JsMsg): string {
  const reply = (m as unknown as { reply?: unknown }).reply;
  if (typeof reply !== 'string' || !reply.startsWith('$JS.ACK.')) throw new Error('the client no longer exposes the ack subject');
  return reply;
}
afterAll(() => servers.stopAll());

// The tests wait on the server's clocks, not on each other: run them side by side (each has its
// own stream and connection) so the file's wall time is the longest wait, not their sum.
describe.concurrent('consumer timing', () => {
  for (const { gen, workers } of jsMatrix()) {
    describe(`consumer timing — ${gen.name}, workers: ${workers}`, () => {
      let srv: RunningServer;
      const pool = new JsConnectionPool(gen);

      beforeAll(async () => {
        srv = await servers.get(`workers ${workers}`, () => startJsServer({ workers }));
      });
      // Tests run concurrently: connections close when the whole block is done.
      afterAll(() => pool.closeAll());

      const setup = (subjects?: (name: string) => string[]) => connectWithStream(gen, pool, srv.url, subjects);

      it('redelivers a nak at once, a delayed nak after its delay, and never a termed message', async () => {
        const { js, jsm, stream } = await setup();
        await publishAll(js, [[`${stream}.m`, 'a'], [`${stream}.m`, 'b']]);
        await durable(jsm, stream, { durable_name: 'naks', ack_wait: nanos(30_000) });
        const c = await js.consumers.get(stream, 'naks');

        const a1 = await c.next({ expires: 2000 });
        expect(a1!.string()).toBe('a');
        expect(a1!.redelivered).toBe(false);
        a1!.nak();
        const a2 = await c.next({ expires: 2000 });
        expect(a2!.string()).toBe('a');
        expect(a2!.redelivered).toBe(true);
        expect(a2!.info.deliveryCount).toBe(2);

        // 'b' is delivered while 'a' is pending (nothing is due: ack_wait is 30 s), then 'a' is
        // naked with a delay: it must not come back before the delay, and 'b' (termed) never.
        const b = await c.next({ expires: 2000 });
        expect(b!.string()).toBe('b');
        const delayMs = 400;
        const naked = performance.now();
        a2!.nak(delayMs);
        b!.term();
        const a3 = await c.next({ expires: 3000 });
        expect(a3!.string()).toBe('a');
        expect(a3!.info.deliveryCount).toBe(3);
        // The delay is the feature: it was not redelivered early (slack for timer granularity).
        expect(performance.now() - naked).toBeGreaterThanOrEqual(delayMs - 50);
        await a3!.ackAck();

        // 'b' was terminated: nothing more comes.
        expect(await c.next({ expires: 1000 })).toBeNull();
        const info = await c.info();
        expect(info.num_ack_pending).toBe(0);
        expect(info.ack_floor.stream_seq).toBe(2);
        await jsm.streams.delete(stream);
      });

      it('redelivers after ack_wait, stops at max_deliver, and working() holds off redelivery', async () => {
        const { nc, js, jsm, stream } = await setup();
        await publishAll(js, [[`${stream}.m`, 'slow']]);
        // working() every half ack_wait, three times: the redelivery must wait one ack_wait after
        // the last. That proves something only if each working() reached the server before the
        // previous deadline: a +WPI sent as a request is answered once the server processed it
        // (and the working() before it), which tells. A starved machine retries with a doubled
        // ack_wait instead of failing or passing by luck.
        for (let attempt = 0, ackWaitMs = 300; ; attempt++, ackWaitMs *= 2) {
          const name = `wait${attempt}`;
          await durable(jsm, stream, { durable_name: name, ack_wait: nanos(ackWaitMs), max_deliver: 3 });
          const c = await js.consumers.get(stream, name);
          const pulled = performance.now();
          const d1 = await c.next({ expires: 2000 });
          expect(d1!.info.deliveryCount).toBe(1);
          const redelivery = c.next({ expires: 20 * ackWaitMs });
          let lastSent = pulled;
          let inTime = true;
          for (let i = 0; i < 3 && inTime; i++) {
            await new Promise((r) => setTimeout(r, ackWaitMs / 2));
            const sent = performance.now();
            d1!.working();
            await nc.request(ackSubject(d1!), '+WPI', { timeout: EVENT_BOUND_MS });
            inTime = performance.now() < lastSent + ackWaitMs;
            lastSent = sent;
          }
          const d2 = await redelivery;
          const arrived = performance.now();
          if (!inTime) {
            expect(attempt, 'the test never kept up with ack_wait').toBeLessThan(4);
            await jsm.consumers.delete(stream, name);
            continue;
          }
          expect(d2!.string()).toBe('slow');
          expect(d2!.info.deliveryCount).toBe(2);
          // held off by the working() calls: one ack_wait after the last, 2.5 after the delivery
          expect(arrived - lastSent).toBeGreaterThanOrEqual(ackWaitMs - 50);
          expect(arrived - pulled).toBeGreaterThanOrEqual(2 * ackWaitMs);

          // Unacked again: it comes back after ack_wait, until max_deliver.
          const d3 = await c.next({ expires: 20 * ackWaitMs });
          expect(d3!.info.deliveryCount).toBe(3);
          expect(await c.next({ expires: Math.max(1500, 3 * ackWaitMs) })).toBeNull();
          const info = await c.info();
          expect(info.num_redelivered).toBeGreaterThanOrEqual(1);
          break;
        }
        await jsm.streams.delete(stream);
      });

      it('creates an ephemeral consumer that disappears after inactive_threshold', async () => {
        const { js, jsm, stream } = await setup();
        await publishAll(js, [[`${stream}.e`, 'x']]);
        const ci = await jsm.consumers.add(stream, { ack_policy: AckPolicy.Explicit, inactive_threshold: nanos(500) });
        expect(ci.name).toBeTruthy();
        expect(ci.config.durable_name).toBeUndefined();
        const c = await js.consumers.get(stream, ci.name);
        const m = await c.next({ expires: 2000 });
        expect(m!.string()).toBe('x');
        await m!.ackAck();
        await pollUntil(async () => !(await jsm.consumers.list(stream).next()).some((x) => x.name === ci.name), 'ephemeral removed');
        await jsm.streams.delete(stream);
      });
    });
  }
});
