// What else a restart must keep: removals (deleted messages, purges, deleted streams and
// consumers stay gone), config updates, a consumer's delivered-but-unacked messages (redelivered,
// counted as a second delivery), KV delete markers, objects. SIGKILL here, not SIGTERM: each of
// these was answered before the kill, so it must already be on disk.
import { afterEach, describe, expect, it } from 'vitest';
import { AckPolicy } from '@nats-io/jetstream';
import { tempDir } from '../../support/server.ts';
import type { RunningServer } from '../../support/server.ts';
import { jsMatrix } from './js_clients.ts';
import { JsConnectionPool, nanos, rejection, startJsServer } from './js_util.ts';

// Each case has its own server and store: run them side by side to bound the file's wall time.
describe.concurrent('restart keeps state', () => {
  for (const { gen, workers } of jsMatrix()) {
    describe(`${gen.name}, workers: ${workers}`, () => {
      const pool = new JsConnectionPool(gen);
      let srv: RunningServer | undefined;
      afterEach(async () => {
        await pool.closeAll();
        await srv?.stop();
      });

      it('keeps removals, updates, unacked deliveries, KV markers and objects across a SIGKILL', async () => {
        const dir = tempDir('petrel-js-state-');
        srv = await startJsServer({ workers, dir });
        let nc = await pool.connect({ servers: srv.url });
        let js = gen.js(nc);
        let jsm = await gen.jsm(nc);

        await jsm.streams.add({ name: 'ST', subjects: ['st.*'] });
        for (let i = 1; i <= 10; i++) await js.publish(`st.${i % 2 ? 'odd' : 'even'}`, `m${i}`);
        expect(await jsm.streams.deleteMessage('ST', 3)).toBe(true);
        await jsm.streams.purge('ST', { filter: 'st.even', keep: 1 });
        await jsm.streams.update('ST', { subjects: ['st.*'], max_msgs: 100, description: 'updated' });
        await jsm.streams.add({ name: 'GONE', subjects: ['gone'] });
        await jsm.streams.delete('GONE');

        await jsm.consumers.add('ST', { durable_name: 'held', ack_policy: AckPolicy.Explicit, ack_wait: nanos(500) });
        await jsm.consumers.add('ST', { durable_name: 'dropped', ack_policy: AckPolicy.Explicit });
        await jsm.consumers.delete('ST', 'dropped');
        const held = await js.consumers.get('ST', 'held');
        const first = await held.next({ expires: 2000 });
        expect(first!.seq).toBe(1);
        // Delivered, never acked: after the restart it must come back as a redelivery.

        const kv = await gen.kv(nc, 'state', { history: 5 });
        await kv.put('kept', 'yes');
        await kv.put('removed', 'soon');
        await kv.delete('removed');
        await kv.put('wiped', '1');
        await kv.purge('wiped');
        const os = await gen.os(nc, 'files');
        const blob = new Uint8Array(300 * 1024).map((_, i) => (i * 31) & 0xff);
        const put = await os.putBlob({ name: 'blob', options: { max_chunk_size: 64 * 1024 } }, blob);
        const expected = (await jsm.streams.info('ST')).state;
        await pool.closeAll();

        await srv.kill();
        srv = await startJsServer({ workers, dir });
        nc = await pool.connect({ servers: srv.url });
        js = gen.js(nc);
        jsm = await gen.jsm(nc);

        const si = await jsm.streams.info('ST');
        expect(si.config).toMatchObject({ max_msgs: 100, description: 'updated' });
        expect(si.state).toMatchObject({ messages: expected.messages, first_seq: expected.first_seq, last_seq: 10 });
        expect(si.state.messages).toBe(5);
        const deleted = await jsm.streams.getMessage('ST', { seq: 3 }).then(
          (m) => m,
          () => null,
        );
        expect(deleted).toBeNull();
        expect((await jsm.streams.getMessage('ST', { last_by_subj: 'st.even' }))!.string()).toBe('m10');
        expect(await jsm.streams.names().next()).not.toContain('GONE');
        expect(gen.errCode(await rejection(() => jsm.consumers.info('ST', 'dropped')))).toBe(10014);

        // The unacked one comes back once ack_wait runs out after the restart (new ones may come
        // first, as in nats-server, whose pending timer restarts with the consumer).
        const deliveries = new Map<number, number>();
        const heldAgain = await js.consumers.get('ST', 'held');
        for await (const m of await heldAgain.fetch({ max_messages: 5, expires: 5000 })) {
          deliveries.set(m.seq, m.info.deliveryCount);
          await m.ackAck();
        }
        expect([...deliveries.entries()].sort((a, b) => a[0] - b[0])).toEqual([
          [1, 2],
          [5, 1],
          [7, 1],
          [9, 1],
          [10, 1],
        ]);

        const kv2 = await gen.openKv(nc, 'state');
        expect((await kv2.get('kept'))!.string()).toBe('yes');
        const removed = await kv2.get('removed');
        if (removed !== null) expect(removed.operation).toBe('DEL');
        const keys: string[] = [];
        for await (const k of await kv2.keys()) keys.push(k);
        expect(keys).toEqual(['kept']);

        const os2 = await gen.os(nc, 'files');
        const info = await os2.info('blob');
        expect(info).toMatchObject({ size: blob.length, digest: put.digest, chunks: 5 });
        const back = await os2.getBlob('blob');
        expect(Buffer.compare(Buffer.from(back!), Buffer.from(blob))).toBe(0);
      });
    });
  }
});
