// A three-node JetStream cluster as processes, through the official clients: the meta group
// forms and every node reports it, R3 streams take publishes through any node and keep the
// same messages on every replica, KV and object store with replicas: 3, R1 streams, replica
// count updates, the operations API (stepdowns, peer remove), direct gets served by a follower
// and the monitoring endpoints.

import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { JsCluster, jsApi, onJsCluster, API_TIMEOUT_MS, jsmOf } from '../../support/js_cluster.ts';
import { eventually } from '../../support/cluster.ts';
import { monitor } from '../../support/server.ts';

let c: JsCluster;
const cluster = onJsCluster({ size: 3, links: 'direct' }, (started) => (c = started));
const client = (i: number): Promise<NatsConnection> => cluster.client([`127.0.0.1:${c.node(i).port}`]);

describe('a JetStream cluster of three', () => {
  it('forms one meta group that every node reports, and answers $JS.API.INFO on every node', async () => {
    const leader = await c.metaLeader();
    const docs = await Promise.all([0, 1, 2].map((i) => monitor(c.node(i), '/jsz')));
    for (const d of docs) expect(d.meta_cluster).toMatchObject({ name: 'c1', leader, cluster_size: 3 });
    const onLeader = docs.find((d) => d.meta_cluster.replicas !== undefined)!;
    expect(onLeader.meta_cluster.replicas).toHaveLength(2);
    expect(onLeader.meta_cluster.replicas[0]).toEqual(expect.objectContaining({ name: expect.stringMatching(/^n[123]$/), peer: expect.any(String), active: expect.any(Number) }));
    await eventually('the meta leader reports its peers current', async () => {
      const m = (await Promise.all([0, 1, 2].map((i) => monitor(c.node(i), '/jsz')))).find((d) => d.meta_cluster.replicas !== undefined)?.meta_cluster;
      return m?.replicas.every((r: { current: boolean }) => r.current) || undefined;
    });
    for (const i of [0, 1, 2]) {
      const info = await jsApi(await client(i), '$JS.API.INFO');
      expect(info['type']).toBe('io.nats.jetstream.api.v1.account_info_response');
      expect(info['error']).toBeUndefined();
    }
    for (const i of [0, 1, 2]) {
      const h = await fetch(`http://127.0.0.1:${c.node(i).httpPort}/healthz?js-enabled-only=true`);
      expect(h.status).toBe(200);
    }
  });

  it('replicates an R3 stream: publishes through any node are acked once, in order, and every replica holds them', async () => {
    const nc = await client(0);
    const jsm = await jsmOf(nc);
    const si = await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], num_replicas: 3 });
    expect(si.config.num_replicas).toBe(3);
    expect(si.cluster?.name).toBe('c1');
    expect(si.cluster?.leader).toMatch(/^n[123]$/);
    const leader = await c.streamLeader('ORDERS');
    const follower = (leader + 1) % 3;
    const acks: number[] = [];
    for (const i of [leader, follower, (leader + 2) % 3]) {
      const js = jetstream(await client(i));
      for (let k = 0; k < 20; k++) acks.push((await js.publish(`orders.${i}`, `m-${i}-${k}`)).seq);
    }
    expect(acks).toEqual(Array.from({ length: 60 }, (_, k) => k + 1));
    const dup = await jetstream(await client(follower)).publish('orders.x', 'once', { msgID: 'only-once' });
    const again = await jetstream(await client(leader)).publish('orders.x', 'once', { msgID: 'only-once' });
    expect(again).toMatchObject({ seq: dup.seq, duplicate: true });
    const info = await jsm.streams.info('ORDERS');
    expect(info.state.messages).toBe(61);
    expect(info.cluster?.replicas?.map((r) => r.name).sort()).toEqual(['n1', 'n2', 'n3'].filter((n) => n !== info.cluster?.leader));
    await eventually('every replica holds the same 61 messages', async () => {
      const copies = await Promise.all([0, 1, 2].map((i) => c.replica(i, 'ORDERS')));
      return copies.every((x) => x.length === 61 && JSON.stringify(x) === JSON.stringify(copies[0])) || undefined;
    });
  });

  it('refuses more replicas than JetStream nodes with nats-server\'s error', async () => {
    const r = await jsApi(await client(1), '$JS.API.STREAM.CREATE.TOO_MANY', { name: 'TOO_MANY', subjects: ['toomany'], num_replicas: 5 });
    expect(r['error']).toMatchObject({ code: 400, err_code: 10005, description: 'no suitable peers for placement' });
  });

  it('runs KV with replicas: 3 through any node, with compare-and-set decided by the leader', async () => {
    const kv = await new Kvm(await client(1)).create('CFG', { replicas: 3, history: 5 });
    // KV reads are direct gets that any replica answers (as nats-server's): a follower's copy may lag a moment.
    const settled = (b: typeof kv, what: string, ok: (e: Awaited<ReturnType<typeof kv.get>>) => boolean) =>
      eventually(`the replica read shows ${what}`, async () => ok(await b.get('a')) || undefined);
    const r1 = await kv.put('a', 'one');
    const other = await new Kvm(await client(2)).open('CFG');
    await settled(other, 'the put', (e) => e?.string() === 'one');
    const r2 = await other.update('a', 'two', r1);
    await expect(kv.update('a', 'three', r1)).rejects.toThrow(/wrong last sequence/);
    await settled(kv, 'the winning update', (e) => e?.revision === r2 && e.string() === 'two');
    await expect(kv.create('a', 'x')).rejects.toThrow();
    await kv.delete('a');
    await settled(kv, 'the delete', (e) => e?.operation === 'DEL');
    const st = await (await jetstreamManager(await client(0), { timeout: API_TIMEOUT_MS })).streams.info('KV_CFG');
    expect(st.config.num_replicas).toBe(3);
  });

  it('stores and reads an object store bucket with replicas: 3', async () => {
    const os = await new Objm(await client(2)).create('FILES', { replicas: 3 });
    const payload = new Uint8Array(300_000).map((_, i) => i % 251);
    await os.putBlob({ name: 'blob' }, payload);
    const back = await (await new Objm(await client(0)).open('FILES')).getBlob('blob');
    expect(back).toEqual(payload);
  });

  it('serves an R1 stream on the cluster, and changes its replica count up and down', async () => {
    const nc = await client(2);
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'ONE', subjects: ['one.>'] });
    const js = jetstream(await client(0));
    for (let k = 0; k < 5; k++) await js.publish('one.a', `v${k}`);
    const up = await jsm.streams.update('ONE', { subjects: ['one.>'], num_replicas: 3 });
    expect(up.config.num_replicas).toBe(3);
    await eventually('three replicas of ONE with every message', async () => {
      const copies = await Promise.all([0, 1, 2].map((i) => c.replica(i, 'ONE').catch(() => [])));
      return copies.every((x) => x.length === 5) || undefined;
    });
    expect((await js.publish('one.a', 'v5')).seq).toBe(6);
    const down = await jsm.streams.update('ONE', { subjects: ['one.>'], num_replicas: 1 });
    expect(down.config.num_replicas).toBe(1);
    await eventually('one replica of ONE left', async () => {
      const have = await Promise.all([0, 1, 2].map((i) => monitor(c.node(i), '/replicaz?stream=ONE&limit=1')));
      return have.filter((r) => r.error === undefined).length === 1 || undefined;
    });
    expect((await js.publish('one.a', 'v6')).seq).toBe(7);
  });

  it('steps down a stream leader and the meta leader on request', async () => {
    const nc = await client(0);
    const jsm: JetStreamManager = await jsmOf(nc);
    await jsm.streams.add({ name: 'MOVE', subjects: ['move'], num_replicas: 3 });
    const before = (await jsm.streams.info('MOVE')).cluster!.leader;
    const r = await jsApi(nc, '$JS.API.STREAM.LEADER.STEPDOWN.MOVE');
    expect(r).toMatchObject({ type: 'io.nats.jetstream.api.v1.stream_leader_stepdown_response', success: true });
    const after = await eventually('a new MOVE leader', async () => {
      const l = (await jsm.streams.info('MOVE')).cluster?.leader;
      return l !== undefined && l !== before ? l : undefined;
    });
    expect(after).not.toBe(before);
    const metaBefore = await c.metaLeader();
    expect(await jsApi(nc, '$JS.API.META.LEADER.STEPDOWN')).toMatchObject({ success: true });
    await eventually('a new meta leader', async () => ((await c.metaLeader()) !== metaBefore ? true : undefined));
    expect((await jsApi(nc, '$JS.API.STREAM.PEER.REMOVE.MOVE', {}))['error']).toMatchObject({ err_code: 10003 });
    expect((await jsApi(nc, '$JS.API.SERVER.REMOVE', { peer: 'nobody' }))['error']).toMatchObject({ err_code: 10044 });
  });

  it('mirrors and sources between replicated streams, wherever their leaders run', async () => {
    const jsm = await jetstreamManager(await client(0), { timeout: API_TIMEOUT_MS });
    await jsm.streams.add({ name: 'ORIGIN', subjects: ['origin.>'], num_replicas: 3 });
    await jsm.streams.add({ name: 'COPY', mirror: { name: 'ORIGIN' }, num_replicas: 3 });
    await jsm.streams.add({ name: 'GATHER', subjects: ['gather'], sources: [{ name: 'ORIGIN', filter_subject: 'origin.b' }], num_replicas: 1 });
    const js = jetstream(await client(1));
    for (let k = 0; k < 10; k++) await js.publish(k % 2 ? 'origin.b' : 'origin.a', `o${k}`);
    await eventually('the mirror holds every origin message', async () => ((await jsm.streams.info('COPY')).state.messages === 10 ? true : undefined));
    await eventually('the source took the filtered ones', async () => ((await jsm.streams.info('GATHER')).state.messages === 5 ? true : undefined));
    const m = await jsm.streams.getMessage('COPY', { seq: 4 });
    expect(m?.subject).toBe('origin.b');
    expect(m?.string()).toBe('o3');
  });

  it('serves allow_direct gets from a replica that does not lead, with the other nodes frozen', { timeout: 60_000 }, async () => {
    const jsm = await jetstreamManager(await client(0), { timeout: API_TIMEOUT_MS });
    await jsm.streams.add({ name: 'DIRECT', subjects: ['direct.>'], num_replicas: 3, allow_direct: true });
    const js = jetstream(await client(1));
    for (let k = 0; k < 5; k++) await js.publish(`direct.${k}`, `d${k}`);
    await eventually('every replica holds the five', async () => (await Promise.all([0, 1, 2].map((i) => c.replica(i, 'DIRECT')))).every((x) => x.length === 5) || undefined);
    const leader = await c.streamLeader('DIRECT');
    const follower = (leader + 1) % 3;
    const local = await jetstreamManager(await client(follower), { timeout: 3000 });
    const others = [0, 1, 2].filter((i) => i !== follower);
    // Only the follower runs: no leader can answer, and it cannot become one alone.
    for (const i of others) c.pause(i);
    try {
      const bySeq = await local.direct.getMessage('DIRECT', { seq: 3 });
      expect(bySeq?.subject).toBe('direct.2');
      expect(bySeq?.string()).toBe('d2');
      const last = await local.direct.getMessage('DIRECT', { last_by_subj: 'direct.4' });
      expect(last?.seq).toBe(5);
      const r = await monitor(c.node(follower), '/replicaz?stream=DIRECT&limit=1');
      expect(r.leader).toBe(false);
    } finally {
      for (const i of others) c.resume(i);
    }
  });

  it('lists and deletes streams from any node', async () => {
    const jsm = await jetstreamManager(await client(1), { timeout: API_TIMEOUT_MS });
    const names = await jsm.streams.names().next();
    expect(names).toEqual(expect.arrayContaining(['ORDERS', 'KV_CFG', 'MOVE']));
    const list = await jsm.streams.list().next();
    expect(list.find((s) => s.config.name === 'ORDERS')?.state.messages).toBe(61);
    expect(await jsm.streams.delete('MOVE')).toBe(true);
    await expect(jsm.streams.info('MOVE')).rejects.toThrow(/stream not found/);
  });
});
