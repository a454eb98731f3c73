// Replicated consumers on a three-node cluster of processes, through the official clients: a
// durable pull consumer whose leader is killed resumes exactly where its acks left it (nothing
// acked comes back, nothing unacked is lost), work-queue acks remove the message on every
// replica, R1 and memory-storage consumers of an R3 stream keep working across a stream leader
// stepdown, and the consumer API answers from any node (info, names, list, stepdown, delete).

import { describe, expect, it } from 'vitest';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JsCluster, jsApi, onJsCluster, API_TIMEOUT_MS, jsmOf } from '../../support/js_cluster.ts';
import { eventually } from '../../support/cluster.ts';
import { monitor } from '../../support/server.ts';

let c: JsCluster;
const { client } = onJsCluster({ size: 3, links: 'direct' }, (started) => (c = started));

/** The node index that leads a consumer, from /jsz?raft=1. */
async function consumerLeader(stream: string, name: string): Promise<number> {
  return eventually(`a leader for ${stream} > ${name}`, async () => {
    for (let i = 0; i < c.size; i++) {
      const n = c.nodes[i];
      if (!n) continue;
      const j = await monitor(n, '/jsz?raft=1');
      const g = (j.raft_groups as { kind: string; name: string; state: string }[]).find((x) => x.kind === 'consumer' && x.name === `$G > ${stream} > ${name}`);
      if (g?.state === 'leader') return i;
    }
    return undefined;
  });
}

/** Restarts the nodes an earlier test left down (each test needs all three). */
async function restoreAll(): Promise<void> {
  for (let i = 0; i < c.size; i++) if (c.nodes[i] === null) await c.restart(i);
  await c.metaLeader();
}

describe('replicated consumers', () => {
  it('a durable pull consumer resumes after its leader is killed: no acked message again, no unacked one lost', { timeout: 90_000 }, async () => {
    const nc = await client(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'WORK', subjects: ['work.>'], num_replicas: 3 });
    const js = jetstream(nc);
    for (let i = 0; i < 100; i++) await js.publish('work.a', `m${i}`);
    const ci = await jsm.consumers.add('WORK', { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000 });
    expect(ci.config.num_replicas ?? 0).toBe(0);
    expect(ci.cluster?.replicas?.length).toBe(2);
    const consumer = await js.consumers.get('WORK', 'D');
    const seen = new Set<string>();
    // 60 acked (confirmed by the server), 5 delivered and left unacked.
    const batch = await consumer.fetch({ max_messages: 65, expires: 5000 });
    let n = 0;
    for await (const m of batch) {
      n++;
      if (n <= 60) {
        await m.ackAck();
        seen.add(m.string());
      }
      if (n === 65) break;
    }
    expect(seen.size).toBe(60);
    const leader = await consumerLeader('WORK', 'D');
    const killedAt = Date.now();
    await c.kill(leader);
    const survivors = c.urls();
    const nc2 = await client(survivors);
    const next = await consumerLeader('WORK', 'D');
    console.log(`consumer leader re-elected in ${Date.now() - killedAt} ms after kill -9 (${c.names[leader]} -> ${c.names[next]})`);
    const again = await eventually('the consumer answers from its new leader', () => jetstream(nc2).consumers.get('WORK', 'D'), 30_000);
    const rest: string[] = [];
    await eventually('the rest is delivered by the new leader', async () => {
      const b = await again.fetch({ max_messages: 40, expires: 3000 });
      for await (const m of b) {
        rest.push(m.string());
        m.ack();
      }
      return new Set(rest).size >= 40 || undefined;
    }, 60_000);
    for (const r of rest) expect(seen.has(r)).toBe(false);
    expect(new Set([...seen, ...rest]).size).toBe(100);
    // The killed node may have led the meta group too: the manager's account-info request is
    // answered by the meta leader only, once the others agree on a new one.
    await c.metaLeader(30_000);
    const info = await (await jetstreamManager(nc2, { timeout: API_TIMEOUT_MS })).consumers.info('WORK', 'D');
    expect(info.delivered.stream_seq).toBe(100);
  });

  it('work-queue acks remove the message from every replica', { timeout: 60_000 }, async () => {
    await restoreAll();
    const nc = await client(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'WQ', subjects: ['wq.>'], retention: 'workqueue' as never, num_replicas: 3 });
    const js = jetstream(nc);
    for (let i = 0; i < 30; i++) await js.publish('wq.job', `j${i}`);
    await jsm.consumers.add('WQ', { durable_name: 'W', ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get('WQ', 'W');
    const b = await consumer.fetch({ max_messages: 20, expires: 5000 });
    let n = 0;
    for await (const m of b) {
      await m.ackAck();
      if (++n === 20) break;
    }
    await eventually('every replica removed the 20 done jobs', async () => {
      const copies = await Promise.all([0, 1, 2].map((i) => c.replica(i, 'WQ')));
      return copies.every((x) => x.length === 10 && x[0]!.data === 'j20') || undefined;
    });
  });

  it('an R1 consumer and a memory-storage consumer on an R3 stream deliver and take acks through any node, also after a stream leader stepdown', { timeout: 60_000 }, async () => {
    await restoreAll();
    const nc = await client(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'MIX', subjects: ['mix.>'], num_replicas: 3 });
    const js = jetstream(nc);
    for (let i = 0; i < 20; i++) await js.publish('mix.a', `m${i}`);
    const one = await jsm.consumers.add('MIX', { durable_name: 'ONE', ack_policy: AckPolicy.Explicit, num_replicas: 1 });
    expect(one.config.num_replicas).toBe(1);
    expect(one.cluster?.replicas ?? []).toHaveLength(0);
    const mem = await jsm.consumers.add('MIX', { durable_name: 'MEM', ack_policy: AckPolicy.Explicit, mem_storage: true });
    expect(mem.config.mem_storage).toBe(true);
    expect(mem.cluster?.replicas).toHaveLength(2);
    const raft = (await Promise.all([0, 1, 2].map((i) => monitor(c.node(i), '/jsz?raft=1')))).flatMap((j) => j.raft_groups as { kind: string; name: string; group: string }[]);
    expect(raft.filter((g) => g.name === '$G > MIX > ONE').map((g) => g.group)).toEqual([expect.stringMatching(/^C-R1F-/)]);
    expect(new Set(raft.filter((g) => g.name === '$G > MIX > MEM').map((g) => g.group)).size).toBe(1);
    expect(raft.filter((g) => g.name === '$G > MIX > MEM')).toEqual([0, 1, 2].map(() => expect.objectContaining({ group: expect.stringMatching(/^C-R3M-/) })));
    // Each consumer through a client of a different node; the first ten acked (confirmed).
    const take = async (node: number, name: string, n: number): Promise<string[]> => {
      const consumer = await jetstream(await client([`127.0.0.1:${c.node(node).port}`])).consumers.get('MIX', name);
      const got: string[] = [];
      const b = await consumer.fetch({ max_messages: n, expires: 5000 });
      for await (const m of b) {
        await m.ackAck();
        got.push(m.string());
        if (got.length === n) break;
      }
      return got;
    };
    const first = { ONE: await take(0, 'ONE', 10), MEM: await take(1, 'MEM', 10) };
    const leader = await c.streamLeader('MIX');
    expect(await jsApi(nc, '$JS.API.STREAM.LEADER.STEPDOWN.MIX')).toMatchObject({ success: true });
    await eventually('a new MIX leader', async () => ((await c.streamLeader('MIX')) !== leader ? true : undefined));
    for (let i = 20; i < 30; i++) await js.publish('mix.a', `m${i}`);
    const rest = { ONE: await take(2, 'ONE', 20), MEM: await take(0, 'MEM', 20) };
    const all = Array.from({ length: 30 }, (_, i) => `m${i}`);
    for (const name of ['ONE', 'MEM'] as const) {
      expect([...first[name], ...rest[name]]).toEqual(all);
      const info = await jsm.consumers.info('MIX', name);
      expect(info).toMatchObject({ num_ack_pending: 0, num_pending: 0, delivered: { stream_seq: 30 }, ack_floor: { stream_seq: 30 } });
    }
  });

  it('a pull right after a nak gets the naked message first, as from nats-server', { timeout: 60_000 }, async () => {
    await restoreAll();
    const nc = await client(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'NAK', subjects: ['nak.>'], num_replicas: 3 });
    const js = jetstream(nc);
    for (const d of ['a', 'b']) await js.publish('nak.m', d);
    await jsm.consumers.add('NAK', { durable_name: 'N', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
    const consumer = await js.consumers.get('NAK', 'N');
    const first = await consumer.next({ expires: 3000 });
    expect(first?.string()).toBe('a');
    first!.nak();
    const again = await consumer.next({ expires: 3000 });
    expect(again?.string()).toBe('a');
    expect(again?.info.deliveryCount).toBe(2);
  });

  it('answers the consumer API from any node: info, names, list, stepdown, delete', { timeout: 60_000 }, async () => {
    await restoreAll();
    const nc = await client(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'API', subjects: ['api.>'], num_replicas: 3 });
    await jsm.consumers.add('API', { durable_name: 'A1', ack_policy: AckPolicy.Explicit });
    await jsm.consumers.add('API', { durable_name: 'A2', ack_policy: AckPolicy.Explicit, num_replicas: 1 });
    for (let i = 0; i < 3; i++) {
      const one = await client([`127.0.0.1:${c.node(i).port}`]);
      const info = await jsApi(one, '$JS.API.CONSUMER.INFO.API.A1');
      expect(info['name']).toBe('A1');
      expect((info['cluster'] as Record<string, unknown>)['leader']).toMatch(/^n[123]$/);
    }
    const names = await jsApi(nc, '$JS.API.CONSUMER.NAMES.API');
    expect(names['consumers']).toEqual(['A1', 'A2']);
    const list = await jsApi(nc, '$JS.API.CONSUMER.LIST.API');
    expect((list['consumers'] as { name: string }[]).map((x) => x.name)).toEqual(['A1', 'A2']);
    expect(await jsApi(nc, '$JS.API.CONSUMER.INFO.API.NOPE')).toMatchObject({ error: { err_code: 10014 } });
    const before = await consumerLeader('API', 'A1');
    expect(await jsApi(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.API.A1')).toMatchObject({ success: true });
    await eventually('a new A1 leader', async () => ((await consumerLeader('API', 'A1')) !== before ? true : undefined));
    expect((await jsApi(nc, '$JS.API.CONSUMER.CREATE.API.A3', { stream_name: 'API', config: { name: 'A3', num_replicas: 5 } }))['error']).toMatchObject({ err_code: 10126 });
    expect(await jsm.consumers.delete('API', 'A2')).toBe(true);
    await expect(jsm.consumers.info('API', 'A2')).rejects.toThrow(/consumer not found/);
    expect((await jsm.streams.info('API')).state.consumer_count).toBe(1);
  });
});
