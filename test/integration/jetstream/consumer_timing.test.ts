// Consumer behaviour where time is the feature, through the official clients: nak with and
// without delay, term, ack_wait redelivery held off by working(), max_deliver, and ephemeral
// consumers removed after inactive_threshold. Waits are bounded and assert lower bounds only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy } from '@nats-io/jetstream';
import type { RunningServer } from '../../support/server.ts';
import { connectWithStream, durable, publishAll } from './consumer_fixture.ts';
import { jsMatrix } from './js_clients.ts';
import { JsConnectionPool, nanos, pollUntil, SharedServers, startJsServer } from './js_util.ts';

const servers = new SharedServers();
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

        const delayMs = 400;
        const naked = Date.now();
        a2!.nak(delayMs);
        // While 'a' waits out its delay, 'b' comes first.
        const b = await c.next({ expires: 2000 });
        expect(b!.string()).toBe('b');
        b!.term();
        const a3 = await c.next({ expires: 3000 });
        expect(a3!.string()).toBe('a');
        expect(a3!.info.deliveryCount).toBe(3);
        // The delay is the feature: it was not redelivered early (slack for timer granularity).
        expect(Date.now() - naked).toBeGreaterThanOrEqual(delayMs - 50);
        await a3!.ackAck();

        // 'b' was terminated: nothing more comes.
        expect(await c.next({ expires: 1000 })).toBeNull();
        const info = await c.info();
        expect(info.num_ack_pending).toBe(0);
        expect(info.ack_floor.stream_seq).toBe(2);
        await jsm.streams.delete(stream);
      });

      it('redelivers after ack_wait, stops at max_deliver, and working() holds off redelivery', async () => {
        const { js, jsm, stream } = await setup();
        await publishAll(js, [[`${stream}.m`, 'slow']]);
        const ackWaitMs = 300;
        await durable(jsm, stream, { durable_name: 'wait', ack_wait: nanos(ackWaitMs), max_deliver: 3 });
        const c = await js.consumers.get(stream, 'wait');

        const d1 = await c.next({ expires: 2000 });
        expect(d1!.info.deliveryCount).toBe(1);
        const delivered = Date.now();
        // A pull waits while the message is kept in progress for twice ack_wait; it must get the
        // redelivery only one ack_wait after the last working().
        const redelivery = c.next({ expires: 5000 });
        let lastWorking = delivered;
        for (let i = 0; i < 4; i++) {
          await new Promise((r) => setTimeout(r, ackWaitMs / 2));
          d1!.working();
          lastWorking = Date.now();
        }
        const d2 = await redelivery;
        const arrived = Date.now();
        expect(d2!.string()).toBe('slow');
        expect(d2!.info.deliveryCount).toBe(2);
        expect(arrived - delivered).toBeGreaterThanOrEqual(2 * ackWaitMs);
        expect(arrived - lastWorking).toBeGreaterThanOrEqual(ackWaitMs - 50);

        // Unacked again: it comes back after ack_wait, until max_deliver.
        const d3 = await c.next({ expires: 3000 });
        expect(d3!.info.deliveryCount).toBe(3);
        expect(await c.next({ expires: 1500 })).toBeNull();
        const info = await c.info();
        expect(info.num_redelivered).toBeGreaterThanOrEqual(1);
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
