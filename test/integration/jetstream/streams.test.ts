// Streams through the official clients: the stream API, publish acks and their expectations,
// limits, retention through real consumers, direct get, and bad input answered with errors.
import { afterAll, describe, expect, it } from 'vitest';
import { AckPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { RunningServer } from '../../support/server.ts';
import { jsMatrix } from './js_clients.ts';
import { onSharedJsServer, rejection, SharedServers, uniqueName } from './js_util.ts';

const servers = new SharedServers();
afterAll(() => servers.stopAll());

const ERR = {
  NO_MESSAGE_FOUND: 10037,
  MESSAGE_EXCEEDS_MAXIMUM: 10054,
  STREAM_MISMATCH: 10056,
  STREAM_NOT_FOUND: 10059,
  STREAM_NOT_MATCH: 10060,
  SUBJECTS_OVERLAP: 10065,
  WRONG_LAST_MSG_ID: 10070,
  WRONG_LAST_SEQUENCE: 10071,
  REPLICAS_NOT_SUPPORTED: 10074,
  STORE_FAILED: 10077,
  INVALID_JSON: 10025,
  WQ_MULTIPLE_UNFILTERED: 10099,
} as const;

for (const { gen, workers } of jsMatrix()) {
  describe(`streams — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    let nc: NatsConnection;
    const pool = onSharedJsServer(servers, gen, workers, (s) => (srv = s));

    const setup = async () => {
      nc = await pool.connect({ servers: srv.url });
      return { js: gen.js(nc), jsm: await gen.jsm(nc) };
    };

    it('adds, reads, updates, lists, names and deletes a stream', async () => {
      const { jsm } = await setup();
      const name = uniqueName('CRUD');
      const created = await jsm.streams.add({ name, subjects: [`${name}.>`], storage: StorageType.File });
      expect(created.config.name).toBe(name);
      expect(created.config.subjects).toEqual([`${name}.>`]);
      expect(created.state.messages).toBe(0);

      const info = await jsm.streams.info(name);
      expect(info.config.retention).toBe(RetentionPolicy.Limits);

      const updated = await jsm.streams.update(name, { max_msgs: 10, subjects: [`${name}.>`, `${name}x`] });
      expect(updated.config.max_msgs).toBe(10);
      expect((await jsm.streams.info(name)).config.subjects).toEqual([`${name}.>`, `${name}x`]);

      const listed = await jsm.streams.list().next();
      expect(listed.map((s) => s.config.name)).toContain(name);
      const names = await jsm.streams.names().next();
      expect(names).toContain(name);

      expect(await jsm.streams.delete(name)).toBe(true);
      const err = await rejection(() => jsm.streams.info(name));
      expect(gen.errCode(err)).toBe(ERR.STREAM_NOT_FOUND);
      expect(await jsm.streams.names().next()).not.toContain(name);
    });

    it('acks publishes with increasing sequences and purges by filter, keep and seq', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('PURGE');
      await jsm.streams.add({ name, subjects: [`${name}.*`] });
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const ack = await js.publish(`${name}.${i % 2 === 0 ? 'even' : 'odd'}`, String(i));
        expect(ack.stream).toBe(name);
        expect(ack.duplicate).toBe(false);
        seqs.push(ack.seq);
      }
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

      const byFilter = await jsm.streams.purge(name, { filter: `${name}.odd` });
      expect(byFilter).toMatchObject({ success: true, purged: 5 });
      let info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(5);

      const keep = await jsm.streams.purge(name, { keep: 3 });
      expect(keep.purged).toBe(2);
      info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(3);
      expect(info.state.first_seq).toBe(5);

      const bySeq = await jsm.streams.purge(name, { seq: 9 });
      expect(bySeq.purged).toBe(2);
      info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(1);
      expect(info.state.first_seq).toBe(9);

      const all = await jsm.streams.purge(name);
      expect(all.purged).toBe(1);
      info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(0);
      expect(info.state.last_seq).toBe(10);
      await jsm.streams.delete(name);
    });

    it('gets messages by sequence and last by subject, and deletes one', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('GET');
      await jsm.streams.add({ name, subjects: [`${name}.*`] });
      await js.publish(`${name}.a`, 'a1');
      await js.publish(`${name}.b`, 'b1');
      await js.publish(`${name}.a`, 'a2');

      const bySeq = await jsm.streams.getMessage(name, { seq: 2 });
      expect(bySeq!.subject).toBe(`${name}.b`);
      expect(bySeq!.seq).toBe(2);
      expect(bySeq!.string()).toBe('b1');

      const last = await jsm.streams.getMessage(name, { last_by_subj: `${name}.a` });
      expect(last!.seq).toBe(3);
      expect(last!.string()).toBe('a2');

      expect(await jsm.streams.deleteMessage(name, 1)).toBe(true);
      const info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(2);
      expect(info.state.first_seq).toBe(2);
      // v2 resolves a missing message to an error; v3 to null.
      const missing = await jsm.streams.getMessage(name, { seq: 1 }).then(
        (m) => m,
        (e) => e,
      );
      if (missing instanceof Error) expect(gen.errCode(missing)).toBe(ERR.NO_MESSAGE_FOUND);
      else expect(missing).toBeNull();
      await jsm.streams.delete(name);
    });

    it('deduplicates by Nats-Msg-Id, answering the original sequence', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('DEDUP');
      await jsm.streams.add({ name, subjects: [name] });
      const first = await js.publish(name, 'one', { msgID: 'id-1' });
      expect(first).toMatchObject({ seq: 1, duplicate: false });
      await js.publish(name, 'two', { msgID: 'id-2' });
      const again = await js.publish(name, 'one again', { msgID: 'id-1' });
      expect(again.duplicate).toBe(true);
      expect(again.seq).toBe(1);
      const info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(2);
      expect((await jsm.streams.getMessage(name, { seq: 1 }))!.string()).toBe('one');
      await jsm.streams.delete(name);
    });

    it('refuses publishes whose expectations do not hold, with the client’s error codes', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('EXPECT');
      await jsm.streams.add({ name, subjects: [`${name}.*`] });
      await js.publish(`${name}.a`, '1', { msgID: 'm1' });
      await js.publish(`${name}.b`, '2', { msgID: 'm2' });

      const wrongSeq = await rejection(() => js.publish(`${name}.a`, 'x', { expect: { lastSequence: 1 } }));
      expect(gen.errCode(wrongSeq)).toBe(ERR.WRONG_LAST_SEQUENCE);
      const wrongId = await rejection(() => js.publish(`${name}.a`, 'x', { expect: { lastMsgID: 'm1' } }));
      expect(gen.errCode(wrongId)).toBe(ERR.WRONG_LAST_MSG_ID);
      const wrongSubj = await rejection(() => js.publish(`${name}.a`, 'x', { expect: { lastSubjectSequence: 2 } }));
      expect(gen.errCode(wrongSubj)).toBe(ERR.WRONG_LAST_SEQUENCE);
      const wrongStream = await rejection(() => js.publish(`${name}.a`, 'x', { expect: { streamName: 'OTHER' } }));
      expect(gen.errCode(wrongStream)).toBe(ERR.STREAM_NOT_MATCH);
      expect((await jsm.streams.info(name)).state.messages).toBe(2);

      const ok = await js.publish(`${name}.a`, '3', {
        expect: { lastSequence: 2, lastMsgID: 'm2', lastSubjectSequence: 1, streamName: name },
      });
      expect(ok.seq).toBe(3);
      // Expecting "no message on this subject yet" is lastSubjectSequence 0.
      const fresh = await js.publish(`${name}.c`, '4', { expect: { lastSubjectSequence: 0 } });
      expect(fresh.seq).toBe(4);
      await jsm.streams.delete(name);
    });

    it('refuses with discard new at max_msgs and refuses messages over max_msg_size', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('LIMITS');
      await jsm.streams.add({ name, subjects: [name], max_msgs: 2, discard: DiscardPolicy.New, max_msg_size: 16 });
      await js.publish(name, 'a');
      await js.publish(name, 'b');
      const full = await rejection(() => js.publish(name, 'c'));
      expect(gen.errCode(full)).toBe(ERR.STORE_FAILED);
      expect(gen.errDescription(full)).toMatch(/maximum messages exceeded/);

      const big = await rejection(() => js.publish(name, 'x'.repeat(64)));
      expect(gen.errCode(big)).toBe(ERR.MESSAGE_EXCEEDS_MAXIMUM);
      const info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(2);
      expect(info.state.last_seq).toBe(2);
      await jsm.streams.delete(name);
    });

    it('drops the oldest with discard old at max_msgs', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('OLD');
      await jsm.streams.add({ name, subjects: [name], max_msgs: 3 });
      for (let i = 1; i <= 5; i++) await js.publish(name, String(i));
      const info = await jsm.streams.info(name);
      expect(info.state).toMatchObject({ messages: 3, first_seq: 3, last_seq: 5 });
      await jsm.streams.delete(name);
    });

    it('removes workqueue messages once a consumer acks them, and refuses a second unfiltered consumer', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('WQ');
      await jsm.streams.add({ name, subjects: [`${name}.*`], retention: RetentionPolicy.Workqueue });
      await jsm.consumers.add(name, { durable_name: 'worker', ack_policy: AckPolicy.Explicit });
      const second = await rejection(() => jsm.consumers.add(name, { durable_name: 'other', ack_policy: AckPolicy.Explicit }));
      expect(gen.errCode(second)).toBe(ERR.WQ_MULTIPLE_UNFILTERED);

      for (let i = 0; i < 3; i++) await js.publish(`${name}.job`, `job ${i}`);
      expect((await jsm.streams.info(name)).state.messages).toBe(3);
      const c = await js.consumers.get(name, 'worker');
      const iter = await c.fetch({ max_messages: 3, expires: 2000 });
      const got: string[] = [];
      for await (const m of iter) {
        got.push(m.string());
        await m.ackAck();
      }
      expect(got).toEqual(['job 0', 'job 1', 'job 2']);
      const info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(0);
      expect(info.state.last_seq).toBe(3);
      await jsm.streams.delete(name);
    });

    it('keeps interest messages until every consumer acked them', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('INTEREST');
      await jsm.streams.add({ name, subjects: [name], retention: RetentionPolicy.Interest });
      // No consumer yet: nobody is interested, so the message is acked but not kept.
      const early = await js.publish(name, 'nobody');
      expect(early.seq).toBe(1);
      expect((await jsm.streams.info(name)).state.messages).toBe(0);

      await jsm.consumers.add(name, { durable_name: 'a', ack_policy: AckPolicy.Explicit });
      await jsm.consumers.add(name, { durable_name: 'b', ack_policy: AckPolicy.Explicit });
      await js.publish(name, 'x');
      await js.publish(name, 'y');
      expect((await jsm.streams.info(name)).state.messages).toBe(2);

      const drain = async (durable: string) => {
        const c = await js.consumers.get(name, durable);
        const iter = await c.fetch({ max_messages: 2, expires: 2000 });
        const got: string[] = [];
        for await (const m of iter) {
          got.push(m.string());
          await m.ackAck();
        }
        return got;
      };
      expect(await drain('a')).toEqual(['x', 'y']);
      expect((await jsm.streams.info(name)).state.messages).toBe(2);
      expect(await drain('b')).toEqual(['x', 'y']);
      expect((await jsm.streams.info(name)).state.messages).toBe(0);
      await jsm.streams.delete(name);
    });

    it('serves direct get by sequence and last by subject when allow_direct', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('DIRECT');
      await jsm.streams.add({ name, subjects: [`${name}.*`], allow_direct: true });
      await js.publish(`${name}.a`, 'first');
      await js.publish(`${name}.b`, 'second');
      await js.publish(`${name}.a`, 'third');
      const bySeq = await jsm.direct.getMessage(name, { seq: 2 });
      expect(bySeq!.subject).toBe(`${name}.b`);
      expect(bySeq!.seq).toBe(2);
      expect(bySeq!.string()).toBe('second');
      const last = await jsm.direct.getMessage(name, { last_by_subj: `${name}.a` });
      expect(last!.seq).toBe(3);
      expect(last!.string()).toBe('third');
      const next = await jsm.direct.getMessage(name, { seq: 2, next_by_subj: `${name}.a` });
      expect(next!.seq).toBe(3);
      await jsm.streams.delete(name);
    });

    it('answers bad stream configs with errors and creates nothing', async () => {
      const { jsm } = await setup();
      const before = new Set(await jsm.streams.names().next());
      const base = uniqueName('BAD');

      // A single server has no replicas to give (a cluster run, PETREL_JS_CLUSTER, does).
      if (!process.env['PETREL_JS_CLUSTER']) {
        const replicas = await rejection(() => jsm.streams.add({ name: `${base}_R3`, subjects: [`${base}.r3`], num_replicas: 3 }));
        expect(gen.errCode(replicas)).toBe(ERR.REPLICAS_NOT_SUPPORTED);
      }

      await jsm.streams.add({ name: `${base}_A`, subjects: [`${base}.a.>`] });
      const overlap = await rejection(() => jsm.streams.add({ name: `${base}_B`, subjects: [`${base}.a.x`] }));
      expect(gen.errCode(overlap)).toBe(ERR.SUBJECTS_OVERLAP);

      // Illegal names never reach the wire: the clients validate them.
      await rejection(() => jsm.streams.add({ name: `${base}.dotted`, subjects: [`${base}.d`] }));
      await rejection(() => jsm.streams.add({ name: `${base}*`, subjects: [`${base}.s`] }));

      // The server's own checks, with a raw request: mismatched name and malformed JSON.
      const mismatch = await nc.request(`$JS.API.STREAM.CREATE.${base}_C`, JSON.stringify({ name: `${base}_D`, subjects: [`${base}.c`] }));
      expect(mismatch.json<{ error: { err_code: number } }>().error.err_code).toBe(ERR.STREAM_MISMATCH);
      const badJson = await nc.request(`$JS.API.STREAM.CREATE.${base}_E`, '{"name":');
      expect(badJson.json<{ error: { err_code: number } }>().error.err_code).toBe(ERR.INVALID_JSON);
      const badName = await nc.request(`$JS.API.STREAM.CREATE.${base}_F`, JSON.stringify({ name: `${base} F`, subjects: [`${base}.f`] }));
      expect(badName.json<{ error?: { code: number } }>().error?.code).toBe(400);

      const after = (await jsm.streams.names().next()).filter((n) => !before.has(n));
      expect(after).toEqual([`${base}_A`]);
      await jsm.streams.delete(`${base}_A`);
    });
  });
}
