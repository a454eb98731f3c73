// A five-node JetStream cluster of processes, through the official clients: an R5 stream keeps
// taking publishes and loses nothing with two nodes down; a stream peer removed on request
// ($JS.API.STREAM.PEER.REMOVE) is replaced by another node that catches up, and the stream's
// replicated consumer follows; a dead server removed from the cluster ($JS.API.SERVER.REMOVE)
// has its replicas moved to the others, after which the cluster has fewer JetStream nodes than
// an R5 stream needs. Request shapes and error codes are nats-server's.

import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, jetstream, jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import { JsCluster, jsApi, onJsCluster, publishAll, API_TIMEOUT_MS, jsmOf } from '../../support/js_cluster.ts';
import { eventually } from '../../support/cluster.ts';
import { monitor } from '../../support/server.ts';

let c: JsCluster;
const { client } = onJsCluster({ size: 5, links: 'direct' }, (started) => (c = started));

/** The stream's peers by node index, leader first. */
function peersOf(si: StreamInfo): number[] {
  const names = [si.cluster!.leader!, ...(si.cluster?.replicas ?? []).map((r) => r.name)];
  return names.map((n) => c.names.indexOf(n));
}

/** Stream info once it shows `n` peers, all current, none of them `without`. */
async function settledPeers(nc: NatsConnection, stream: string, n: number, without: number): Promise<number[]> {
  const jsm = await jsmOf(nc);
  return eventually(
    `${stream} on ${n} current peers without ${c.names[without]}`,
    async () => {
      const si = await jsm.streams.info(stream);
      const peers = peersOf(si);
      const current = (si.cluster?.replicas ?? []).every((r) => r.current && !r.offline);
      return peers.length === n && !peers.includes(without) && current ? peers : undefined;
    },
    30_000,
  );
}

describe('a JetStream cluster of five', () => {
  it('an R5 stream loses nothing and keeps taking publishes with two nodes down', { timeout: 120_000 }, async () => {
    const nc = await client();
    const jsm = await jsmOf(nc);
    const si = await jsm.streams.add({ name: 'FIVE', subjects: ['five.>'], num_replicas: 5 });
    expect(si.cluster?.replicas).toHaveLength(4);
    const before = await publishAll(nc, 'five.a', 'b', 50);
    const leader = await c.streamLeader('FIVE');
    const down = [leader, (leader + 2) % 5];
    await Promise.all(down.map((i) => c.kill(i)));
    const up = [0, 1, 2, 3, 4].filter((i) => !down.includes(i));
    const survivor = await client(c.urls());
    const during = await publishAll(survivor, 'five.b', 'd', 50);
    expect(during.size).toBe(50);
    const next = await c.streamLeader('FIVE');
    expect(down).not.toContain(next);
    await c.converged('FIVE', new Map([...before, ...during]), up);
    // The meta group (five voters, three up) still answers.
    await c.metaLeader(30_000);
    expect((await jsApi(survivor, '$JS.API.STREAM.CREATE.TOO_MANY', { name: 'TOO_MANY', subjects: ['toomany'], num_replicas: 6 }))['error']).toMatchObject({ code: 500, err_code: 10052, description: 'maximum replicas is 5' });
    for (const i of down) await c.restart(i);
    await c.metaLeader(30_000);
    const copy = await c.converged('FIVE', new Map([...before, ...during]));
    expect(copy).toHaveLength(100);
  });

  it('STREAM.PEER.REMOVE replaces the peer with another node that catches up; the stream\'s consumer follows', { timeout: 120_000 }, async () => {
    const nc = await client();
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'MOVED', subjects: ['moved.>'], num_replicas: 3 });
    const acked = await publishAll(nc, 'moved.a', 'm', 30);
    await jsm.consumers.add('MOVED', { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 5_000_000_000 });
    const consumer = await jetstream(nc).consumers.get('MOVED', 'D');
    const done: string[] = [];
    for await (const m of await consumer.fetch({ max_messages: 10, expires: 5000 })) {
      await m.ackAck();
      done.push(m.string());
      if (done.length === 10) break;
    }
    const peers = peersOf(await jsm.streams.info('MOVED'));
    const gone = peers[1]!;
    // nats-server's answers to bad requests.
    const remove = (stream: string, body: unknown) => jsApi(nc, `$JS.API.STREAM.PEER.REMOVE.${stream}`, body);
    expect(await remove('MOVED', '')).toMatchObject({ type: 'io.nats.jetstream.api.v1.stream_remove_peer_response', error: { code: 400, err_code: 10003 } });
    expect(await remove('MOVED', '{"peer":')).toMatchObject({ error: { code: 400, err_code: 10025 } });
    expect(await remove('MOVED', { peer: 'nobody' })).toMatchObject({ error: { code: 400, err_code: 10040, description: 'peer not a member' } });
    const outsider = [0, 1, 2, 3, 4].find((i) => !peers.includes(i))!;
    expect(await remove('MOVED', { peer: c.names[outsider] })).toMatchObject({ error: { err_code: 10040 } });
    expect(await remove('NOPE', { peer: c.names[gone] })).toMatchObject({ error: { code: 404, err_code: 10059 } });
    expect(await remove('MOVED', { peer: c.names[gone] })).toEqual({ type: 'io.nats.jetstream.api.v1.stream_remove_peer_response', success: true });
    const now = await settledPeers(nc, 'MOVED', 3, gone);
    const newcomer = now.find((i) => !peers.includes(i))!;
    expect(newcomer).toBeDefined();
    // The newcomer holds every message, the removed node none.
    await c.converged('MOVED', acked, now);
    await eventually('the removed node dropped its replica', async () => ((await monitor(c.node(gone), '/replicaz?stream=MOVED&limit=1')).error !== undefined ? true : undefined), 30_000);
    // The consumer's group swapped the same peer, kept its acks, and delivers the rest once.
    await eventually('the consumer moved with the stream', async () => {
      const ci = await jsm.consumers.info('MOVED', 'D');
      const names = [ci.cluster?.leader, ...(ci.cluster?.replicas ?? []).map((r) => r.name)];
      return names.length === 3 && names.includes(c.names[newcomer]) && !names.includes(c.names[gone]) ? true : undefined;
    }, 30_000);
    const rest: string[] = [];
    for await (const m of await consumer.fetch({ max_messages: 20, expires: 5000 })) {
      await m.ackAck();
      rest.push(m.string());
      if (rest.length === 20) break;
    }
    expect([...done, ...rest]).toEqual(Array.from({ length: 30 }, (_, i) => `m-${i}`));
  });

  it('SERVER.REMOVE of a dead server moves its replicas to the others; then an R5 stream no longer fits', { timeout: 120_000 }, async () => {
    await c.metaLeader(30_000);
    const nc = await client();
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'RESCUE', subjects: ['rescue.>'], num_replicas: 3 });
    const acked = await publishAll(nc, 'rescue.a', 'r', 40);
    const peers = peersOf(await jsm.streams.info('RESCUE'));
    const dead = peers[2]!;
    const remove = (body: unknown) => jsApi(nc, '$JS.API.SERVER.REMOVE', body);
    expect(await remove('')).toMatchObject({ type: 'io.nats.jetstream.api.v1.meta_server_remove_response', error: { code: 400, err_code: 10003 } });
    expect(await remove('[1]')).toMatchObject({ error: { code: 400, err_code: 10025 } });
    expect(await remove({ peer: 'nobody' })).toMatchObject({ error: { code: 400, err_code: 10044, description: 'server is not a member of the cluster' } });
    expect(await remove({ peer: c.names[dead], peer_id: 'not-a-peer-id' })).toMatchObject({ error: { err_code: 10044 } });
    await c.kill(dead);
    // The dead server may have led the meta group: the request goes to a leader that is up.
    await c.metaLeader(30_000);
    expect(await remove({ peer: c.names[dead] })).toEqual({ type: 'io.nats.jetstream.api.v1.meta_server_remove_response', success: true });
    await c.metaLeader(30_000, 4);
    const now = await settledPeers(nc, 'RESCUE', 3, dead);
    await c.converged('RESCUE', acked, now);
    expect((await publishAll(nc, 'rescue.a', 'after', 5)).size).toBe(5);
    // Four JetStream nodes left: more replicas than that are refused with nats-server's error.
    const r = await jsApi(nc, '$JS.API.STREAM.CREATE.WIDE', { name: 'WIDE', subjects: ['wide'], num_replicas: 5 });
    expect(r['error']).toMatchObject({ code: 400, err_code: 10005, description: expect.stringMatching(/^no suitable peers for placement/) });
    const jsz = await monitor(c.node(now[0]!), '/jsz');
    expect(jsz.meta_cluster.cluster_size).toBe(4);
  });
});
