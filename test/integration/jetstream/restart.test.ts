// A graceful restart (SIGTERM, then the same store directory) keeps streams, messages, KV
// values and a durable consumer's position: it resumes at the first unacked message and never
// redelivers what it acked.
import { afterEach, describe, expect, it } from 'vitest';
import { AckPolicy } from '@nats-io/jetstream';
import { tempDir } from '../../support/server.ts';
import type { RunningServer } from '../../support/server.ts';
import { jsMatrix } from './js_clients.ts';
import { JsConnectionPool, nanos, startJsServer } from './js_util.ts';

const MESSAGES = 100;
const ACKED_BEFORE_RESTART = 50;

// Each case has its own server and store: run them side by side to bound the file's wall time.
describe.concurrent('restart', () => {
  for (const { gen, workers } of jsMatrix()) {
    describe(`restart — ${gen.name}, workers: ${workers}`, () => {
      const pool = new JsConnectionPool(gen);
      let srv: RunningServer | undefined;
      afterEach(async () => {
        await pool.closeAll();
        await srv?.stop();
      });

      it('keeps every message, the KV values and the durable’s acks across a restart', async () => {
        const dir = tempDir('petrel-js-restart-');
        srv = await startJsServer({ workers, dir });
        let nc = await pool.connect({ servers: srv.url });
        let js = gen.js(nc);
        let jsm = await gen.jsm(nc);
        await jsm.streams.add({ name: 'KEEP', subjects: ['keep.*'] });
        for (let i = 0; i < MESSAGES; i++) {
          const ack = await js.publish(`keep.${i % 4}`, `m${i}`, { msgID: `id-${i}` });
          expect(ack.seq).toBe(i + 1);
        }
        await jsm.consumers.add('KEEP', { durable_name: 'reader', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000) });
        const c = await js.consumers.get('KEEP', 'reader');
        const before: number[] = [];
        for await (const m of await c.fetch({ max_messages: ACKED_BEFORE_RESTART, expires: 5000 })) {
          before.push(m.seq);
          await m.ackAck();
        }
        expect(before.length).toBe(ACKED_BEFORE_RESTART);
        const kv = await gen.kv(nc, 'settings', { history: 3 });
        await kv.put('mode', 'fast');
        await kv.put('mode', 'safe');
        await pool.closeAll();

        expect(await srv.stop()).toBe(0);
        srv = await startJsServer({ workers, dir });
        nc = await pool.connect({ servers: srv.url });
        js = gen.js(nc);
        jsm = await gen.jsm(nc);

        const si = await jsm.streams.info('KEEP');
        expect(si.state).toMatchObject({ messages: MESSAGES, first_seq: 1, last_seq: MESSAGES });
        expect((await jsm.streams.getMessage('KEEP', { seq: 1 }))!.string()).toBe('m0');
        expect((await jsm.streams.getMessage('KEEP', { last_by_subj: 'keep.3' }))!.string()).toBe(`m${MESSAGES - 1}`);
        // The dedup window survived too: a repeated id answers the original sequence.
        const dup = await js.publish('keep.0', 'again', { msgID: 'id-7' });
        expect(dup).toMatchObject({ duplicate: true, seq: 8 });

        const ci = await jsm.consumers.info('KEEP', 'reader');
        expect(ci.ack_floor.stream_seq).toBe(ACKED_BEFORE_RESTART);
        expect(ci.num_pending).toBe(MESSAGES - ACKED_BEFORE_RESTART);
        expect(ci.num_ack_pending).toBe(0);

        const after: number[] = [];
        const rc = await js.consumers.get('KEEP', 'reader');
        for await (const m of await rc.fetch({ max_messages: MESSAGES - ACKED_BEFORE_RESTART, expires: 5000 })) {
          expect(m.info.deliveryCount).toBe(1);
          after.push(m.seq);
          await m.ackAck();
        }
        expect(after).toEqual(Array.from({ length: MESSAGES - ACKED_BEFORE_RESTART }, (_, i) => ACKED_BEFORE_RESTART + 1 + i));
        expect(await rc.next({ expires: 1000 })).toBeNull();

        const kv2 = await gen.openKv(nc, 'settings');
        const e = await kv2.get('mode');
        expect(e!.string()).toBe('safe');
        let versions = 0;
        for await (const _ of await kv2.history({ key: 'mode' })) versions++;
        expect(versions).toBe(2);
      });
    });
  }
});
