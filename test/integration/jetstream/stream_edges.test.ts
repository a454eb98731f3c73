// Stream edge cases through the official clients: idempotent and conflicting creates, invalid
// updates, errors for missing things, headers kept through the store, per-subject limits,
// max_bytes, rollups, deny_delete / deny_purge, sealed streams, mirrors and sources.
import { afterAll, describe, expect, it } from 'vitest';
import { DiscardPolicy, StorageType } from '@nats-io/jetstream';
import type { JetStreamClient, StreamUpdateConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { RunningServer } from '../../support/server.ts';
import { natsV2, natsV3 } from '../clients.ts';
import { jsMatrix, jsV2 } from './js_clients.ts';
import { onSharedJsServer, pollUntil, rejection, SharedServers, uniqueName } from './js_util.ts';

type UpdateConfig = Partial<StreamUpdateConfig>;

const servers = new SharedServers();
afterAll(() => servers.stopAll());

const ERR = {
  CONSUMER_NOT_FOUND: 10014,
  NO_MESSAGE_FOUND: 10037,
  STREAM_INVALID_CONFIG: 10052,
  STREAM_NAME_IN_USE: 10058,
  STREAM_NOT_FOUND: 10059,
} as const;

for (const { gen, workers } of jsMatrix()) {
  describe(`stream edges — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedJsServer(servers, gen, workers, (s) => (srv = s));
    const headers = gen === jsV2 ? natsV2.headers : natsV3.headers;

    const setup = async () => {
      const nc: NatsConnection = await pool.connect({ servers: srv.url });
      return { nc, js: gen.js(nc) as JetStreamClient, jsm: await gen.jsm(nc) };
    };

    it('creates idempotently, refuses a conflicting create and a storage change', async () => {
      const { jsm } = await setup();
      const name = uniqueName('IDEM');
      const cfg = { name, subjects: [`${name}.>`], max_msgs: 10 };
      await jsm.streams.add(cfg);
      const again = await jsm.streams.add(cfg);
      expect(again.config.max_msgs).toBe(10);
      const conflict = await rejection(() => jsm.streams.add({ ...cfg, max_msgs: 20 }));
      expect(gen.errCode(conflict)).toBe(ERR.STREAM_NAME_IN_USE);
      // The clients' update type leaves storage out on purpose; send it anyway to see the server refuse.
      const storage = await rejection(() => jsm.streams.update(name, { ...cfg, storage: StorageType.Memory } as UpdateConfig));
      expect(gen.errCode(storage)).toBe(ERR.STREAM_INVALID_CONFIG);
      expect((await jsm.streams.info(name)).config.storage).toBe(StorageType.File);
      await jsm.streams.delete(name);
    });

    it('answers not-found errors for missing streams, consumers and messages', async () => {
      const { jsm } = await setup();
      const name = uniqueName('MISSING');
      expect(gen.errCode(await rejection(() => jsm.streams.delete(name)))).toBe(ERR.STREAM_NOT_FOUND);
      expect(gen.errCode(await rejection(() => jsm.streams.purge(name)))).toBe(ERR.STREAM_NOT_FOUND);
      expect(gen.errCode(await rejection(() => jsm.consumers.add(name, { durable_name: 'd' })))).toBe(ERR.STREAM_NOT_FOUND);
      await jsm.streams.add({ name, subjects: [`${name}.>`] });
      expect(gen.errCode(await rejection(() => jsm.consumers.info(name, 'nope')))).toBe(ERR.CONSUMER_NOT_FOUND);
      expect(gen.errCode(await rejection(() => jsm.consumers.delete(name, 'nope')))).toBe(ERR.CONSUMER_NOT_FOUND);
      const none = await jsm.streams.getMessage(name, { last_by_subj: `${name}.x` }).then(
        (m) => m,
        (e) => e,
      );
      if (none instanceof Error) expect(gen.errCode(none)).toBe(ERR.NO_MESSAGE_FOUND);
      else expect(none).toBeNull();
      await jsm.streams.delete(name);
    });

    it('keeps message headers through the store, message get and a consumer', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('HDRS');
      await jsm.streams.add({ name, subjects: [`${name}.>`] });
      const h = headers();
      h.set('X-Trace', 'abc');
      h.append('X-Multi', '1');
      h.append('X-Multi', '2');
      await js.publish(`${name}.h`, 'with headers', { headers: h });
      const sm = await jsm.streams.getMessage(name, { seq: 1 });
      expect(sm!.header.get('X-Trace')).toBe('abc');
      expect(sm!.header.values('X-Multi')).toEqual(['1', '2']);
      await jsm.consumers.add(name, { durable_name: 'h', ack_policy: 'explicit' as never });
      const m = await (await js.consumers.get(name, 'h')).next({ expires: 2000 });
      expect(m!.headers!.get('X-Trace')).toBe('abc');
      expect(m!.string()).toBe('with headers');
      await jsm.streams.delete(name);
    });

    it('enforces max_msgs_per_subject (old and new per subject) and max_bytes', async () => {
      const { js, jsm } = await setup();
      const per = uniqueName('PER');
      await jsm.streams.add({ name: per, subjects: [`${per}.*`], max_msgs_per_subject: 2 });
      for (let i = 0; i < 3; i++) await js.publish(`${per}.a`, `a${i}`);
      await js.publish(`${per}.b`, 'b0');
      const info = await jsm.streams.info(per, { subjects_filter: '>' });
      expect(info.state.messages).toBe(3);
      expect(info.state.subjects).toEqual({ [`${per}.a`]: 2, [`${per}.b`]: 1 });
      await jsm.streams.delete(per);

      const perNew = uniqueName('PERNEW');
      await jsm.streams.add({
        name: perNew,
        subjects: [`${perNew}.*`],
        max_msgs_per_subject: 1,
        discard: DiscardPolicy.New,
        discard_new_per_subject: true,
      });
      await js.publish(`${perNew}.a`, 'first');
      await rejection(() => js.publish(`${perNew}.a`, 'second'));
      await js.publish(`${perNew}.b`, 'other subject is fine');
      expect((await jsm.streams.info(perNew)).state.messages).toBe(2);
      await jsm.streams.delete(perNew);

      const bytes = uniqueName('BYTES');
      await jsm.streams.add({ name: bytes, subjects: [bytes], max_bytes: 1000 });
      for (let i = 0; i < 20; i++) await js.publish(bytes, 'x'.repeat(100));
      const bi = await jsm.streams.info(bytes);
      expect(bi.state.bytes).toBeLessThanOrEqual(1000);
      expect(bi.state.last_seq).toBe(20);
      expect(bi.state.messages).toBeLessThan(10);
      await jsm.streams.delete(bytes);
    });

    it('rolls a subject up with Nats-Rollup: sub, and the whole stream with all', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('ROLL');
      await jsm.streams.add({ name, subjects: [`${name}.*`], allow_rollup_hdrs: true });
      await js.publish(`${name}.a`, '1');
      await js.publish(`${name}.a`, '2');
      await js.publish(`${name}.b`, '3');
      const sub = headers();
      sub.set('Nats-Rollup', 'sub');
      await js.publish(`${name}.a`, 'a-rolled', { headers: sub });
      let info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(2);
      const all = headers();
      all.set('Nats-Rollup', 'all');
      await js.publish(`${name}.b`, 'everything', { headers: all });
      info = await jsm.streams.info(name);
      expect(info.state.messages).toBe(1);
      expect((await jsm.streams.getMessage(name, { seq: info.state.last_seq }))!.string()).toBe('everything');
      await jsm.streams.delete(name);

      const denied = uniqueName('NOROLL');
      await jsm.streams.add({ name: denied, subjects: [denied] });
      await rejection(() => js.publish(denied, 'x', { headers: sub }));
      expect((await jsm.streams.info(denied)).state.messages).toBe(0);
      await jsm.streams.delete(denied);
    });

    it('refuses deletes and purges when denied, and everything once sealed', async () => {
      const { js, jsm } = await setup();
      const name = uniqueName('DENY');
      await jsm.streams.add({ name, subjects: [name], deny_delete: true, deny_purge: true });
      await js.publish(name, 'keep me');
      await rejection(() => jsm.streams.deleteMessage(name, 1));
      await rejection(() => jsm.streams.purge(name));
      expect((await jsm.streams.info(name)).state.messages).toBe(1);

      await jsm.streams.update(name, { subjects: [name], deny_delete: true, deny_purge: true, sealed: true } as UpdateConfig);
      await rejection(() => js.publish(name, 'no more'));
      expect((await jsm.streams.info(name)).state.messages).toBe(1);
      await jsm.streams.delete(name);
    });

    it('mirrors a stream and sources two streams into one', async () => {
      const { js, jsm } = await setup();
      const origin = uniqueName('ORIGIN');
      const other = uniqueName('OTHER');
      const mirror = uniqueName('MIRROR');
      const agg = uniqueName('AGG');
      await jsm.streams.add({ name: origin, subjects: [`${origin}.*`] });
      await jsm.streams.add({ name: other, subjects: [`${other}.*`] });
      for (let i = 0; i < 5; i++) await js.publish(`${origin}.x`, `o${i}`);
      for (let i = 0; i < 3; i++) await js.publish(`${other}.y`, `t${i}`);
      await jsm.streams.add({ name: mirror, mirror: { name: origin } });
      await jsm.streams.add({ name: agg, sources: [{ name: origin, filter_subject: `${origin}.x` }, { name: other }] });
      await pollUntil(async () => (await jsm.streams.info(mirror)).state.messages === 5, 'mirror caught up');
      await pollUntil(async () => (await jsm.streams.info(agg)).state.messages === 8, 'sources caught up');
      // A mirror keeps the origin's sequences; it refuses direct publishes.
      expect((await jsm.streams.getMessage(mirror, { seq: 3 }))!.string()).toBe('o2');
      await js.publish(`${origin}.x`, 'late');
      await pollUntil(async () => (await jsm.streams.info(mirror)).state.last_seq === 6, 'mirror got the late one');
      for (const n of [agg, mirror, other, origin]) await jsm.streams.delete(n);
    });
  });
}
