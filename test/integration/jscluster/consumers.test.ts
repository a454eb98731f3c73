// Replicated consumers on a three-node cluster of processes, through the official clients: a
// durable pull consumer whose leader is killed resumes exactly where its acks left it (nothing
// acked comes back, nothing unacked is lost), work-queue acks remove the message on every
// replica, and the consumer API answers from any node (info, names, list, stepdown, delete).

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JsCluster } from '../../support/js_cluster.ts';
import { eventually } from '../../support/cluster.ts';
import { monitor } from '../../support/server.ts';

let c: JsCluster;
const conns: NatsConnection[] = [];

async function client(servers: string[]): Promise<NatsConnection> {
  const nc = await connect({ servers, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  conns.push(nc);
  return nc;
}

async function api(nc: NatsConnection, subject: string, body: unknown = ''): Promise<Record<string, unknown>> {
  const m = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 5000 });
  return m.json<Record<string, unknown>>();
}

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

beforeAll(async () => {
  c = await JsCluster.start({ size: 3, links: 'direct' });
  await c.metaLeader();
}, 60_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail' && process.env['PETREL_TEST_LOGS']) console.log(c.logs(60));
});

afterAll(async () => {
  await Promise.all(conns.map((nc) => nc.close().catch(() => undefined)));
  await c?.stop();
});

describe('replicated consumers', () => {
  it('a durable pull consumer resumes after its leader is killed: no acked message again, no unacked one lost', { timeout: 90_000 }, async () => {
    const nc = await client(c.urls());
    const jsm = await jetstreamManager(nc);
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
    const info = await (await jetstreamManager(nc2)).consumers.info('WORK', 'D');
    expect(info.delivered.stream_seq).toBe(100);
  });

  it('work-queue acks remove the message from every replica', { timeout: 60_000 }, async () => {
    await restoreAll();
    const nc = await client(c.urls());
    const jsm = await jetstreamManager(nc);
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

  it('answers the consumer API from any node: info, names, list, stepdown, delete', { timeout: 60_000 }, async () => {
    await restoreAll();
    const nc = await client(c.urls());
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'API', subjects: ['api.>'], num_replicas: 3 });
    await jsm.consumers.add('API', { durable_name: 'A1', ack_policy: AckPolicy.Explicit });
    await jsm.consumers.add('API', { durable_name: 'A2', ack_policy: AckPolicy.Explicit, num_replicas: 1 });
    for (let i = 0; i < 3; i++) {
      const one = await client([`127.0.0.1:${c.node(i).port}`]);
      const info = await api(one, '$JS.API.CONSUMER.INFO.API.A1');
      expect(info['name']).toBe('A1');
      expect((info['cluster'] as Record<string, unknown>)['leader']).toMatch(/^n[123]$/);
    }
    const names = await api(nc, '$JS.API.CONSUMER.NAMES.API');
    expect(names['consumers']).toEqual(['A1', 'A2']);
    const list = await api(nc, '$JS.API.CONSUMER.LIST.API');
    expect((list['consumers'] as { name: string }[]).map((x) => x.name)).toEqual(['A1', 'A2']);
    expect(await api(nc, '$JS.API.CONSUMER.INFO.API.NOPE')).toMatchObject({ error: { err_code: 10014 } });
    const before = await consumerLeader('API', 'A1');
    expect(await api(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.API.A1')).toMatchObject({ success: true });
    await eventually('a new A1 leader', async () => ((await consumerLeader('API', 'A1')) !== before ? true : undefined));
    expect((await api(nc, '$JS.API.CONSUMER.CREATE.API.A3', { stream_name: 'API', config: { name: 'A3', num_replicas: 5 } }))['error']).toMatchObject({ err_code: 10126 });
    expect(await jsm.consumers.delete('API', 'A2')).toBe(true);
    await expect(jsm.consumers.info('API', 'A2')).rejects.toThrow(/consumer not found/);
    expect((await jsm.streams.info('API')).state.consumer_count).toBe(1);
  });
});
