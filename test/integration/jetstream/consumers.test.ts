// Consumers through the official clients: durable pull (next/fetch/consume) with acks, push
// with deliver subject and group, ordered consumers, consumer info counters, multi-filter and
// deliver policies. Time-driven behaviour (naks with delay, ack_wait, inactive_threshold) is in
// consumer_timing.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { RunningServer } from '../../support/server.ts';
import { connectWithStream, durable, publishAll } from './consumer_fixture.ts';
import { jsMatrix } from './js_clients.ts';
import { nanos, onSharedJsServer, pollUntil, SharedServers, within } from './js_util.ts';

const servers = new SharedServers();
afterAll(() => servers.stopAll());

/** Fetches up to `max` messages (ending early only when `expiresMs` passes), acking each with ackAck. */
async function fetchAll(js: JetStreamClient, stream: string, durable: string, max: number, expiresMs = 2000): Promise<JsMsg[]> {
  const c = await js.consumers.get(stream, durable);
  const got: JsMsg[] = [];
  for await (const m of await c.fetch({ max_messages: max, expires: expiresMs })) {
    got.push(m);
    await m.ackAck();
  }
  return got;
}

for (const { gen, workers } of jsMatrix()) {
  describe(`consumers — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedJsServer(servers, gen, workers, (s) => (srv = s));

    const setup = (subjects?: (name: string) => string[]) => connectWithStream(gen, pool, srv.url, subjects);

    it('reads a durable pull consumer with next, fetch and consume, every message once, in order', async () => {
      const { js, jsm, stream } = await setup();
      for (let i = 1; i <= 10; i++) await js.publish(`${stream}.m`, String(i));
      await durable(jsm, stream, { durable_name: 'pull' });
      const c = await js.consumers.get(stream, 'pull');

      const first = await c.next({ expires: 2000 });
      expect(first!.string()).toBe('1');
      expect(first!.seq).toBe(1);
      expect(first!.info.streamSequence).toBe(1);
      first!.ack();

      const fetched: string[] = [];
      for await (const m of await c.fetch({ max_messages: 3, expires: 2000 })) {
        fetched.push(m.string());
        await m.ackAck();
      }
      expect(fetched).toEqual(['2', '3', '4']);

      const consumed: string[] = [];
      const messages = await c.consume({ max_messages: 4 });
      for await (const m of messages) {
        consumed.push(m.string());
        await m.ackAck();
        if (consumed.length === 6) break;
      }
      expect(consumed).toEqual(['5', '6', '7', '8', '9', '10']);

      const info = await c.info();
      expect(info.delivered.stream_seq).toBe(10);
      expect(info.ack_floor.stream_seq).toBe(10);
      expect(info.num_pending).toBe(0);
      expect(info.num_ack_pending).toBe(0);
      await jsm.streams.delete(stream);
    });

    it('reports num_pending, num_ack_pending, delivered and ack_floor', async () => {
      const { js, jsm, stream } = await setup();
      for (let i = 1; i <= 5; i++) await js.publish(`${stream}.m`, String(i));
      await durable(jsm, stream, { durable_name: 'counts', ack_wait: nanos(30_000) });
      const c = await js.consumers.get(stream, 'counts');
      let info = await c.info();
      expect(info.num_pending).toBe(5);
      expect(info.num_ack_pending).toBe(0);

      const held: JsMsg[] = [];
      for await (const m of await c.fetch({ max_messages: 3, expires: 2000 })) held.push(m);
      expect(held.length).toBe(3);
      info = await c.info();
      expect(info.num_pending).toBe(2);
      expect(info.num_ack_pending).toBe(3);
      expect(info.delivered).toMatchObject({ consumer_seq: 3, stream_seq: 3 });
      expect(info.ack_floor).toMatchObject({ consumer_seq: 0, stream_seq: 0 });

      await held[0]!.ackAck();
      await held[2]!.ackAck();
      info = await c.info();
      expect(info.num_ack_pending).toBe(1);
      expect(info.ack_floor).toMatchObject({ consumer_seq: 1, stream_seq: 1 });
      await held[1]!.ackAck();
      info = await c.info();
      expect(info.ack_floor).toMatchObject({ consumer_seq: 3, stream_seq: 3 });
      expect(info.num_ack_pending).toBe(0);
      await jsm.streams.delete(stream);
    });

    it('pushes to a deliver subject, in order, through the client’s push API', async () => {
      const { nc, js, jsm, stream } = await setup();
      const count = 20;
      for (let i = 0; i < count; i++) await js.publish(`${stream}.p`, String(i));
      await durable(jsm, stream, { durable_name: 'push', deliver_subject: `_INBOX.${stream}.push` });
      const got: string[] = [];
      const all = Promise.withResolvers<void>();
      const h = await gen.consumePush(nc, stream, 'push', undefined, (m) => {
        got.push(m.string());
        m.ack();
        if (got.length === count) all.resolve();
      });
      await within(all.promise, `push delivery (got ${got.length})`);
      await h.stop();
      expect(got).toEqual(Array.from({ length: count }, (_, i) => String(i)));
      await pollUntil(async () => (await jsm.consumers.info(stream, 'push')).num_ack_pending === 0, 'acks applied');
      await jsm.streams.delete(stream);
    });

    it('spreads a push consumer’s deliver group over its members, each message once', async () => {
      const { js, jsm, stream } = await setup();
      const deliver = `_INBOX.${stream}.group`;
      await durable(jsm, stream, { durable_name: 'grp', deliver_subject: deliver, deliver_group: 'workers' });
      const members = await Promise.all([0, 1].map(() => pool.connect({ servers: srv.url })));
      const byMember: string[][] = [[], []];
      const count = 40;
      let total = 0;
      const all = Promise.withResolvers<void>();
      const handles = await Promise.all(
        members.map((m, i) =>
          gen.consumePush(m, stream, 'grp', 'workers', (msg) => {
            byMember[i]!.push(msg.string());
            msg.ack();
            if (++total === count) all.resolve();
          }),
        ),
      );
      await Promise.all(members.map((m) => m.flush()));
      for (let i = 0; i < count; i++) await js.publish(`${stream}.g`, String(i));
      await within(all.promise, `group delivery (got ${total})`);
      await Promise.all(handles.map((h) => h.stop()));
      const merged = byMember.flat().map(Number).sort((a, b) => a - b);
      expect(merged).toEqual(Array.from({ length: count }, (_, i) => i));
      await jsm.streams.delete(stream);
    });

    it('reads everything in order through an ordered consumer', async () => {
      const { js, jsm, stream } = await setup();
      const count = 25;
      for (let i = 0; i < count; i++) await js.publish(`${stream}.${i % 3}`, String(i));
      const c = await js.consumers.get(stream);
      const got: string[] = [];
      const messages = await c.consume();
      for await (const m of messages) {
        got.push(m.string());
        if (got.length === count) break;
      }
      expect(got).toEqual(Array.from({ length: count }, (_, i) => String(i)));
      // And with a filter, through fetch.
      // One filter as a string (v3 `filter_subjects`, v2 `filterSubjects`) works before 2.10 too.
      const one = `${stream}.1`;
      const filtered = await js.consumers.get(stream, { filter_subjects: one, ...{ filterSubjects: one } });
      const fetched: number[] = [];
      for await (const m of await filtered.fetch({ max_messages: 8, expires: 2000 })) fetched.push(Number(m.string()));
      expect(fetched).toEqual(Array.from({ length: count }, (_, i) => i).filter((i) => i % 3 === 1));
      await jsm.streams.delete(stream);
    });

    it('delivers only the subjects of filter_subjects', async () => {
      const { js, jsm, stream } = await setup();
      await publishAll(js, [
        [`${stream}.a`, 'a1'],
        [`${stream}.b`, 'b1'],
        [`${stream}.c`, 'c1'],
        [`${stream}.a`, 'a2'],
      ]);
      await durable(jsm, stream, { durable_name: 'multi', filter_subjects: [`${stream}.a`, `${stream}.c`] });
      const got = await fetchAll(js, stream, 'multi', 3);
      expect(got.map((m) => m.string())).toEqual(['a1', 'c1', 'a2']);
      expect((await jsm.consumers.info(stream, 'multi')).num_pending).toBe(0);
      await jsm.streams.delete(stream);
    });

    it('serves filter_subjects created through the raw API (past the clients’ version gate)', async () => {
      const { nc, js, jsm, stream } = await setup();
      await publishAll(js, [
        [`${stream}.a`, 'a1'],
        [`${stream}.b`, 'b1'],
        [`${stream}.c`, 'c1'],
        [`${stream}.a`, 'a2'],
      ]);
      const config = { durable_name: 'rawmulti', ack_policy: 'explicit', filter_subjects: [`${stream}.a`, `${stream}.c`] };
      const res = await nc.request(`$JS.API.CONSUMER.CREATE.${stream}.rawmulti`, JSON.stringify({ stream_name: stream, config }));
      const body = res.json<{ error?: unknown; config?: { filter_subjects?: string[] } }>();
      expect(body.error).toBeUndefined();
      expect(body.config?.filter_subjects).toEqual([`${stream}.a`, `${stream}.c`]);
      const got = await fetchAll(js, stream, 'rawmulti', 3);
      expect(got.map((m) => m.string())).toEqual(['a1', 'c1', 'a2']);
      await jsm.streams.delete(stream);
    });

    it('starts where the deliver policy says: last, new, by_start_sequence, last_per_subject', async () => {
      const { js, jsm, stream } = await setup();
      await publishAll(js, [
        [`${stream}.a`, '1'],
        [`${stream}.b`, '2'],
        [`${stream}.a`, '3'],
        [`${stream}.b`, '4'],
        [`${stream}.c`, '5'],
      ]);
      await durable(jsm, stream, { durable_name: 'last', deliver_policy: DeliverPolicy.Last });
      await durable(jsm, stream, { durable_name: 'new', deliver_policy: DeliverPolicy.New });
      await durable(jsm, stream, { durable_name: 'start', deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 3 });
      await durable(jsm, stream, { durable_name: 'lps', deliver_policy: DeliverPolicy.LastPerSubject, filter_subject: `${stream}.>` });

      // Each fetch asks for exactly what should come; num_pending 0 afterwards shows nothing more would.
      expect((await fetchAll(js, stream, 'last', 1)).map((m) => m.string())).toEqual(['5']);
      expect((await fetchAll(js, stream, 'start', 3)).map((m) => m.string())).toEqual(['3', '4', '5']);
      expect((await fetchAll(js, stream, 'lps', 3)).map((m) => m.string())).toEqual(['3', '4', '5']);
      for (const d of ['last', 'start', 'lps', 'new']) expect((await jsm.consumers.info(stream, d)).num_pending).toBe(0);
      await js.publish(`${stream}.a`, '6');
      expect((await fetchAll(js, stream, 'new', 1)).map((m) => m.string())).toEqual(['6']);
      expect((await fetchAll(js, stream, 'last', 1)).map((m) => m.string())).toEqual(['6']);
      await jsm.streams.delete(stream);
    });
  });
}
