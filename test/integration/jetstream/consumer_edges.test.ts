// Consumer edge cases through the official clients: max_ack_pending, ack_policy all and none,
// headers_only, fetch by bytes, by_start_time, consumer update/list/names, and ordered push
// consumers (flow control and heartbeats) carrying a larger volume.
import { afterAll, describe, expect, it } from 'vitest';
import * as v2 from 'nats';
import { AckPolicy, DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { ConsumerConfig, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { RunningServer } from '../../support/server.ts';
import { jsMatrix, jsV2 } from './js_clients.ts';
import type { JsGeneration } from './js_clients.ts';
import { nanos, onSharedJsServer, SharedServers, sleep, uniqueName, within } from './js_util.ts';

const servers = new SharedServers();
afterAll(() => servers.stopAll());

/** Reads `n` messages through an ordered push consumer: v2 `js.subscribe(ordered)`, v3 `getPushConsumer(stream)`. */
async function readOrderedPush(gen: JsGeneration, nc: NatsConnection, stream: string, subject: string, n: number): Promise<string[]> {
  const got: string[] = [];
  const done = Promise.withResolvers<void>();
  const onMsg = (m: JsMsg) => {
    got.push(m.string());
    if (got.length === n) done.resolve();
  };
  if (gen === jsV2) {
    const js = (nc as unknown as v2.NatsConnection).jetstream();
    const opts = v2.consumerOpts();
    opts.orderedConsumer();
    opts.callback((err, m) => {
      if (err) done.reject(err);
      else if (m) onMsg(m as unknown as JsMsg);
    });
    const sub = await js.subscribe(subject, opts);
    await within(done.promise, `ordered push (got ${got.length} of ${n})`, 15_000);
    sub.unsubscribe();
  } else {
    const c = await jetstream(nc).consumers.getPushConsumer(stream, { filter_subjects: subject });
    const iter = await c.consume({ callback: onMsg });
    await within(done.promise, `ordered push (got ${got.length} of ${n})`, 15_000);
    await iter.close();
  }
  return got;
}

for (const { gen, workers } of jsMatrix()) {
  describe(`consumer edges — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedJsServer(servers, gen, workers, (s) => (srv = s));

    const setup = async () => {
      const nc = await pool.connect({ servers: srv.url });
      const js: JetStreamClient = gen.js(nc);
      const jsm: JetStreamManager = await gen.jsm(nc);
      const stream = uniqueName('CE');
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      return { nc, js, jsm, stream };
    };
    const add = (jsm: JetStreamManager, stream: string, cfg: Partial<ConsumerConfig>) =>
      jsm.consumers.add(stream, { ack_policy: AckPolicy.Explicit, ...cfg });

    it('holds deliveries at max_ack_pending until acks free room', async () => {
      const { js, jsm, stream } = await setup();
      for (let i = 0; i < 5; i++) await js.publish(`${stream}.m`, String(i));
      await add(jsm, stream, { durable_name: 'map', max_ack_pending: 2, ack_wait: nanos(30_000) });
      const c = await js.consumers.get(stream, 'map');
      const first: JsMsg[] = [];
      for await (const m of await c.fetch({ max_messages: 5, expires: 1000 })) first.push(m);
      expect(first.map((m) => m.string())).toEqual(['0', '1']);
      await first[0]!.ackAck();
      const more = await c.next({ expires: 2000 });
      expect(more!.string()).toBe('2');
      const info = await c.info();
      expect(info.num_ack_pending).toBe(2);
      expect(info.num_pending).toBe(2);
      await jsm.streams.delete(stream);
    });

    it('acks everything up to a message with ack_policy all, and needs no acks with none', async () => {
      const { js, jsm, stream } = await setup();
      for (let i = 0; i < 4; i++) await js.publish(`${stream}.m`, String(i));
      await add(jsm, stream, { durable_name: 'all', ack_policy: AckPolicy.All, ack_wait: nanos(30_000) });
      await add(jsm, stream, { durable_name: 'none', ack_policy: AckPolicy.None });
      const all = await js.consumers.get(stream, 'all');
      const got: JsMsg[] = [];
      for await (const m of await all.fetch({ max_messages: 4, expires: 2000 })) got.push(m);
      await got[2]!.ackAck();
      let info = await all.info();
      expect(info.ack_floor.stream_seq).toBe(3);
      expect(info.num_ack_pending).toBe(1);
      await got[3]!.ackAck();
      info = await all.info();
      expect(info.num_ack_pending).toBe(0);

      const none = await js.consumers.get(stream, 'none');
      const seen: string[] = [];
      for await (const m of await none.fetch({ max_messages: 4, expires: 2000 })) seen.push(m.string());
      expect(seen).toEqual(['0', '1', '2', '3']);
      const ni = await none.info();
      expect(ni.num_ack_pending).toBe(0);
      expect(ni.ack_floor.stream_seq).toBe(4);
      await jsm.streams.delete(stream);
    });

    it('sends headers only with the size header when headers_only', async () => {
      const { js, jsm, stream } = await setup();
      await js.publish(`${stream}.big`, 'y'.repeat(1234));
      await add(jsm, stream, { durable_name: 'ho', headers_only: true });
      const m = await (await js.consumers.get(stream, 'ho')).next({ expires: 2000 });
      expect(m!.data.length).toBe(0);
      expect(m!.headers!.get('Nats-Msg-Size')).toBe('1234');
      await jsm.streams.delete(stream);
    });

    it('ends a fetch at max_bytes', async () => {
      const { js, jsm, stream } = await setup();
      for (let i = 0; i < 10; i++) await js.publish(`${stream}.b`, 'z'.repeat(500));
      await add(jsm, stream, { durable_name: 'bytes' });
      const c = await js.consumers.get(stream, 'bytes');
      let n = 0;
      // The server closes the request with 409 "Message Size Exceeds MaxBytes" when the next
      // message does not fit (as nats-server does); v3's fetch surfaces that as an error after
      // yielding what fitted, v2's ends quietly.
      try {
        for await (const m of await c.fetch({ max_bytes: 2000, expires: 2000 })) {
          n++;
          m.ack();
        }
      } catch (err) {
        expect(String((err as Error).message)).toMatch(/message size exceeds maxbytes/i);
      }
      // Each message counts its subject, reply, headers and payload: 500 bytes of data each
      // means fewer than four fit.
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(4);
      await jsm.streams.delete(stream);
    });

    it('starts at a time with by_start_time', async () => {
      const { js, jsm, stream } = await setup();
      await js.publish(`${stream}.t`, 'before');
      await sleep(20);
      const start = new Date();
      await sleep(20);
      await js.publish(`${stream}.t`, 'after');
      await add(jsm, stream, { durable_name: 'time', deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.toISOString() });
      const m = await (await js.consumers.get(stream, 'time')).next({ expires: 2000 });
      expect(m!.string()).toBe('after');
      await jsm.streams.delete(stream);
    });

    it('updates, lists and names consumers, and recreates a deleted durable from scratch', async () => {
      const { js, jsm, stream } = await setup();
      await js.publish(`${stream}.u`, 'x');
      await add(jsm, stream, { durable_name: 'c1', description: 'first' });
      await add(jsm, stream, { durable_name: 'c2' });
      await add(jsm, stream, { durable_name: 'c3' });
      const updated = await jsm.consumers.update(stream, 'c1', { description: 'second', max_ack_pending: 7 });
      expect(updated.config).toMatchObject({ description: 'second', max_ack_pending: 7 });
      const listed = await jsm.consumers.list(stream).next();
      expect(listed.map((c) => c.name).sort()).toEqual(['c1', 'c2', 'c3']);

      const c2 = await js.consumers.get(stream, 'c2');
      const m = await c2.next({ expires: 2000 });
      await m!.ackAck();
      expect(await jsm.consumers.delete(stream, 'c2')).toBe(true);
      await add(jsm, stream, { durable_name: 'c2' });
      expect((await jsm.consumers.info(stream, 'c2')).num_pending).toBe(1);
      await jsm.streams.delete(stream);
    });

    it('answers bad consumer configs with nats-server’s errors and creates nothing', async () => {
      const { nc, jsm, stream } = await setup();
      const create = async (subject: string, body: unknown): Promise<number | undefined> => {
        const r = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body));
        return r.json<{ error?: { err_code: number } }>().error?.err_code;
      };
      const named = (name: string, config: Record<string, unknown>) =>
        create(`$JS.API.CONSUMER.CREATE.${stream}.${name}`, { stream_name: stream, config: { name, ack_policy: 'explicit', ...config } });
      expect(await named('wild', { deliver_subject: 'push.*' })).toBe(10079);
      expect(await named('policy', { deliver_policy: 'by_start_sequence' })).toBe(10094);
      expect(await named('hb', { idle_heartbeat: nanos(1000) })).toBe(10088);
      expect(await named('maxw', { deliver_subject: `${stream}_deliver`, max_waiting: 5 })).toBe(10080);
      expect(await named('neg', { max_waiting: -1 })).toBe(10087);
      expect(
        await create(`$JS.API.CONSUMER.DURABLE.CREATE.${stream}.one`, { stream_name: stream, config: { durable_name: 'other', ack_policy: 'explicit' } }),
      ).toBe(10017);
      expect(await create(`$JS.API.CONSUMER.CREATE.${stream}.json`, '{"config":')).toBe(10025);
      const wq = uniqueName('WQ');
      await jsm.streams.add({ name: wq, subjects: [`${wq}.>`], retention: 'workqueue' as never });
      expect(await create(`$JS.API.CONSUMER.CREATE.${wq}.none`, { stream_name: wq, config: { name: 'none', ack_policy: 'none' } })).toBe(10084);
      expect(await jsm.consumers.list(stream).next()).toEqual([]);
      expect(await jsm.consumers.list(wq).next()).toEqual([]);
      await jsm.streams.delete(wq);
      await jsm.streams.delete(stream);
    });

    it('carries a larger volume through an ordered push consumer (flow control, heartbeats)', async () => {
      const { nc, js, jsm, stream } = await setup();
      const count = 1500;
      const body = 'p'.repeat(2048);
      const pubs: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) pubs.push(js.publish(`${stream}.v`, `${i}:${body}`));
      await Promise.all(pubs);
      const got = await readOrderedPush(gen, nc, stream, `${stream}.v`, count);
      expect(got.map((s) => Number(s.slice(0, s.indexOf(':'))))).toEqual(Array.from({ length: count }, (_, i) => i));
      await jsm.streams.delete(stream);
    });
  });
}
