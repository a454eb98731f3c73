// Key-value buckets through the official clients' KV APIs (v2 `js.views.kv`, v3 `Kvm`): the
// stream conventions they rely on (`KV_<bucket>`, `$KV.<bucket>.<key>`, CAS through expected
// last subject sequence, delete/purge markers, rollups, per-subject history, max_age).
import { afterAll, describe, expect, it } from 'vitest';
import { KvWatchInclude } from '@nats-io/kv';
import type { KV, KvEntry, KvWatchEntry, KvWatchOptions } from '@nats-io/kv';
import type { RunningServer } from '../../support/server.ts';
import { jsMatrix } from './js_clients.ts';
import { onSharedJsServer, pollUntil, rejection, SharedServers, uniqueName, within } from './js_util.ts';

const servers = new SharedServers();
afterAll(() => servers.stopAll());

type WatchSummary = { key: string; value: string; op: string; revision: number };
const summary = (e: KvEntry | KvWatchEntry): WatchSummary => ({ key: e.key, value: e.string(), op: e.operation, revision: e.revision });

/** Starts a watch and returns a reader of its next `n` entries. */
async function watch(kv: KV, opts: KvWatchOptions) {
  const iter = await kv.watch(opts);
  const it = iter[Symbol.asyncIterator]();
  return {
    async next(n: number): Promise<WatchSummary[]> {
      const got: WatchSummary[] = [];
      while (got.length < n) {
        const r = await within(it.next(), `watch entry ${got.length + 1} of ${n}`);
        if (r.done) break;
        got.push(summary(r.value));
      }
      return got;
    },
    stop: () => iter.stop(),
  };
}

for (const { gen, workers } of jsMatrix()) {
  describe(`kv — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedJsServer(servers, gen, workers, (s) => (srv = s));

    const bucket = async (opts: Parameters<typeof gen.kv>[2] = {}) => {
      const nc = await pool.connect({ servers: srv.url });
      const name = uniqueName('kv');
      const kv = await gen.kv(nc, name, opts);
      return { nc, kv, name, jsm: await gen.jsm(nc) };
    };

    it('creates a bucket as a KV_ stream and puts, gets, creates and updates with CAS', async () => {
      const { kv, name, jsm } = await bucket({ history: 5 });
      const si = await jsm.streams.info(`KV_${name}`);
      expect(si.config.subjects).toEqual([`$KV.${name}.>`]);
      expect(si.config.max_msgs_per_subject).toBe(5);
      expect(si.config.allow_rollup_hdrs).toBe(true);

      const r1 = await kv.put('color', 'red');
      const e1 = await kv.get('color');
      expect(e1).toMatchObject({ key: 'color', revision: r1, operation: 'PUT', bucket: name });
      expect(e1!.string()).toBe('red');

      const created = await kv.create('shape', 'circle');
      expect(created).toBe(r1 + 1);
      await rejection(() => kv.create('shape', 'square'));
      expect((await kv.get('shape'))!.string()).toBe('circle');

      const r3 = await kv.update('color', 'green', r1);
      expect(r3).toBe(created + 1);
      const stale = await rejection(() => kv.update('color', 'blue', r1));
      expect(gen.errCode(stale)).toBe(10071);
      expect((await kv.get('color'))!.string()).toBe('green');
      expect(await kv.get('missing')).toBeNull();
      // Get at a revision.
      expect((await kv.get('color', { revision: r1 }))!.string()).toBe('red');
      await kv.destroy();
    });

    it('writes delete and purge markers; create works again after a delete', async () => {
      const { kv } = await bucket({ history: 10 });
      await kv.put('k', 'v1');
      await kv.put('k', 'v2');
      await kv.delete('k');
      const deleted = await kv.get('k');
      // The clients report a deleted key as null or as its DEL marker, depending on generation.
      if (deleted !== null) expect(deleted.operation).toBe('DEL');
      let hist = await collectHistory(kv, 'k');
      expect(hist.map((e) => e.op)).toEqual(['PUT', 'PUT', 'DEL']);

      const rev = await kv.create('k', 'again');
      expect((await kv.get('k'))).toMatchObject({ revision: rev, operation: 'PUT' });

      await kv.purge('k');
      hist = await collectHistory(kv, 'k');
      // A purge rolls the subject up: only the marker is left.
      expect(hist.map((e) => e.op)).toEqual(['PURGE']);
      await kv.destroy();
    });

    it('keeps history up to the bucket’s limit and lists keys without deleted ones', async () => {
      const { kv } = await bucket({ history: 3 });
      for (let i = 1; i <= 5; i++) await kv.put('h', `v${i}`);
      const hist = await collectHistory(kv, 'h');
      expect(hist.map((e) => e.value)).toEqual(['v3', 'v4', 'v5']);

      await kv.put('a', '1');
      await kv.put('b.c', '2');
      await kv.put('b.d', '3');
      await kv.delete('a');
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      expect(keys.sort()).toEqual(['b.c', 'b.d', 'h']);
      const filtered: string[] = [];
      for await (const k of await kv.keys('b.*')) filtered.push(k);
      expect(filtered.sort()).toEqual(['b.c', 'b.d']);
      await kv.destroy();
    });

    it('watches last values, then updates, within a key wildcard', async () => {
      const { kv } = await bucket({ history: 5 });
      await kv.put('w.a', '1');
      await kv.put('w.b', '2');
      await kv.put('x.c', '3');
      await kv.put('w.a', '4');
      const w = await watch(kv, { key: 'w.*' });
      expect((await w.next(2)).map((e) => [e.key, e.value])).toEqual([
        ['w.b', '2'],
        ['w.a', '4'],
      ]);
      await kv.put('x.c', 'ignored');
      await kv.put('w.b', '5');
      await kv.delete('w.a');
      expect((await w.next(2)).map((e) => [e.key, e.value, e.op])).toEqual([
        ['w.b', '5', 'PUT'],
        ['w.a', '', 'DEL'],
      ]);
      await w.stop();
      await kv.destroy();
    });

    it('watches with include history, ignore deletes and updates only', async () => {
      const { kv } = await bucket({ history: 5 });
      await kv.put('k1', 'a');
      await kv.put('k1', 'b');
      await kv.put('k2', 'c');

      const all = await watch(kv, { include: KvWatchInclude.AllHistory });
      expect((await all.next(3)).map((e) => e.value)).toEqual(['a', 'b', 'c']);
      await all.stop();

      const noDeletes = await watch(kv, { ignoreDeletes: true });
      expect((await noDeletes.next(2)).map((e) => e.value)).toEqual(['b', 'c']);
      await kv.delete('k1');
      await kv.put('k3', 'd');
      // The delete in between was skipped.
      expect((await noDeletes.next(1)).map((e) => [e.key, e.value])).toEqual([['k3', 'd']]);
      await noDeletes.stop();

      const updates = await watch(kv, { include: KvWatchInclude.UpdatesOnly });
      await kv.put('k2', 'e');
      expect((await updates.next(1)).map((e) => [e.key, e.value])).toEqual([['k2', 'e']]);
      await updates.stop();
      await kv.destroy();
    });

    it('expires values after the bucket ttl', async () => {
      const ttlMs = 1000;
      const { kv, name, jsm } = await bucket({ ttl: ttlMs });
      expect((await jsm.streams.info(`KV_${name}`)).config.max_age).toBe(ttlMs * 1_000_000);
      await kv.put('short', 'lived');
      expect((await kv.get('short'))!.string()).toBe('lived');
      // Time is the feature: bounded poll until the value ages out.
      await pollUntil(async () => (await kv.get('short')) === null, 'value aged out', 5000, 100);
      expect((await jsm.streams.info(`KV_${name}`)).state.messages).toBe(0);
      await kv.destroy();
    });

    it('reports status and reopens an existing bucket', async () => {
      const { nc, kv, name, jsm } = await bucket({ history: 4, ttl: 60_000 });
      await kv.put('a', '1');
      await kv.put('b', '2');
      await kv.put('a', '3');
      const st = await kv.status();
      expect(st.bucket).toBe(name);
      expect(st.values).toBe(3);
      expect(st.history).toBe(4);
      expect(st.ttl).toBe(60_000);
      const again = await gen.openKv(nc, name);
      expect((await again.get('a'))!.string()).toBe('3');
      expect(await kv.destroy()).toBe(true);
      expect(gen.errCode(await rejection(() => jsm.streams.info(`KV_${name}`)))).toBe(10059);
    });
  });
}

async function collectHistory(kv: KV, key: string): Promise<WatchSummary[]> {
  const out: WatchSummary[] = [];
  for await (const e of await kv.history({ key })) out.push(summary(e));
  return out;
}
