// Faults on a three-node JetStream cluster of processes, each a check that no acknowledged
// message is lost, duplicated or reordered: the stream leader killed (-9) while publishers keep
// publishing with retries (same Nats-Msg-Id); a leader cut off in a minority partition (no
// acks, no false ones, it steps down, healing converges); a follower whose Raft log or stream
// segment was damaged while it was down; the whole cluster killed and restarted; and /healthz
// of a node that restarted cut off from the others.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JsCluster, publishAll, type StoredCopy, API_TIMEOUT_MS, jsmOf } from '../../support/js_cluster.ts';
import { eventually } from '../../support/cluster.ts';
import { monitor } from '../../support/server.ts';

let c: JsCluster;

beforeAll(async () => {
  c = await JsCluster.start({ size: 3 });
  await c.metaLeader();
}, 60_000);

afterAll(async () => {
  await c?.stop();
});

async function clientTo(urls: string[]): Promise<NatsConnection> {
  return connect({ servers: urls, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
}

/** Every up node's copy of the stream, once they all agree; checked against the acks. */
function converged(stream: string, acked: Map<string, number>): Promise<StoredCopy> {
  return c.converged(stream, acked);
}

function assertExactlyOnceInOrder(copy: { data: string }[], prefix: string, acked: Map<string, number>): void {
  const mine = copy.filter((m) => m.data.startsWith(`${prefix}-`)).map((m) => m.data);
  expect(new Set(mine).size).toBe(mine.length);
  const order = mine.map((d) => Number(d.slice(prefix.length + 1)));
  expect(order).toEqual([...order].sort((a, b) => a - b));
  for (const id of acked.keys()) expect(mine).toContain(id);
}

describe('faults on a JetStream cluster of three', () => {
  it('kill -9 of the stream leader while publishers retry: a new leader soon, every acked message once, in order, on every replica', { timeout: 120_000 }, async () => {
    const nc = await clientTo(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'KILL', subjects: ['kill.>'], num_replicas: 3 });
    const leader = await c.streamLeader('KILL');
    let done = false;
    const publishers = [0, 1].map((p) => publishAll(nc, `kill.${p}`, `p${p}`, 400, () => done));
    await eventually('some messages acked before the kill', async () => ((await jsm.streams.info('KILL')).state.messages > 100 ? true : undefined));
    const killedAt = Date.now();
    await c.kill(leader);
    const next = await c.streamLeader('KILL');
    const electionMs = Date.now() - killedAt;
    console.log(`stream leader re-elected in ${electionMs} ms after kill -9 (${c.names[leader]} -> ${c.names[next]})`);
    expect(next).not.toBe(leader);
    const acked = await Promise.all(publishers);
    done = true;
    await c.restart(leader);
    const all = new Map([...acked[0]!, ...acked[1]!]);
    expect(all.size).toBe(800);
    const copy = await converged('KILL', all);
    assertExactlyOnceInOrder(copy, 'p0', acked[0]!);
    assertExactlyOnceInOrder(copy, 'p1', acked[1]!);
    expect(copy.length).toBe(800);
    await nc.close();
  });

  it('a leader cut off in a minority acknowledges nothing, steps down, and converges after healing', { timeout: 120_000 }, async () => {
    const nc = await clientTo(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'SPLIT', subjects: ['split.>'], num_replicas: 3 });
    const leader = await c.streamLeader('SPLIT');
    const before = await publishAll(nc, 'split.a', 'before', 20);
    c.isolate(leader);
    await c.isolated(leader);
    // A client of the isolated node: whatever it publishes now must not be acknowledged.
    const lonely = await connect({ servers: `127.0.0.1:${c.node(leader).port}`, maxReconnectAttempts: 0 });
    // Nor does it answer a read from its own state, which the majority may already have changed.
    const lonelyJsm = await jetstreamManager(lonely, { timeout: 1000, checkAPI: false });
    const read = await lonelyJsm.streams.getMessage('SPLIT', { seq: 1 }).then(
      () => 'answered',
      () => 'unanswered',
    );
    expect(read).toBe('unanswered');
    const js = jetstream(lonely, { timeout: 1000 });
    let falseAcks = 0;
    for (let i = 0; i < 5; i++) {
      await js.publish('split.lonely', `lonely-${i}`).then(
        () => falseAcks++,
        () => undefined,
      );
    }
    expect(falseAcks).toBe(0);
    // The majority elects another leader and takes publishes.
    const others = c.urls().filter((_, i) => i !== leader);
    const majority = await clientTo(others);
    const during = await publishAll(majority, 'split.b', 'during', 20);
    expect(during.size).toBe(20);
    // The old leader noticed it lost its quorum (check-quorum) and stepped down.
    await eventually('the isolated node no longer leads', async () => {
      const r = await monitor(c.node(leader), '/replicaz?stream=SPLIT&limit=1');
      return r.leader === false ? true : undefined;
    });
    c.heal();
    const copy = await converged('SPLIT', new Map([...before, ...during]));
    expect(copy.some((m) => m.data.startsWith('lonely-'))).toBe(false);
    await Promise.all([nc.close(), lonely.close(), majority.close()]);
  });

  it('a follower whose Raft log was damaged while it was down repairs it from the leader and never leads with it', { timeout: 120_000 }, async () => {
    const nc = await clientTo(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'DISK', subjects: ['disk.>'], num_replicas: 3 });
    const leader = await c.streamLeader('DISK');
    const victim = (leader + 1) % 3;
    const first = await publishAll(nc, 'disk.a', 'a', 50);
    await converged('DISK', first);
    await c.kill(victim);
    // Flip bytes in the middle of the DISK group's newest WAL segment and cut its tail.
    const raftRoot = path.join(storeOf(victim), 'jetstream', '$SYS', '_js_');
    const group = fs.readdirSync(raftRoot).find((d) => d.startsWith('S-') && fs.readdirSync(path.join(raftRoot, d)).some((f) => f.startsWith('wal-')) && isGroupOf(path.join(raftRoot, d), 'DISK'))!;
    const dir = path.join(raftRoot, group);
    const wal = fs.readdirSync(dir).filter((f) => f.startsWith('wal-')).sort().at(-1)!;
    const file = path.join(dir, wal);
    const buf = fs.readFileSync(file);
    for (let k = Math.floor(buf.length / 2); k < Math.floor(buf.length / 2) + 16; k++) buf[k]! ^= 0xff;
    fs.writeFileSync(file, buf.subarray(0, buf.length - 7));
    const more = await publishAll(nc, 'disk.b', 'b', 30);
    await c.restart(victim);
    const all = new Map([...first, ...more]);
    const copy = await converged('DISK', all);
    expect(copy.length).toBe(80);
    // Start-up found the damage and kept the bad segment aside; the log was re-fetched.
    expect(fs.readdirSync(dir).some((f) => f.endsWith('.damaged'))).toBe(true);
    await nc.close();
  });

  // Small, the segment is the one start-up reads in full. Over 1 MiB, and stopped cleanly (so its
  // index snapshot vouches for the files), it is sealed unread at start-up: only the replica's own
  // verification of every record finds the damage before a read would skip it.
  it.each([
    ['SEG', 0],
    ['SEGBIG', 40],
  ])('a follower whose stream segment was damaged while it was down drops the damage and fetches it again (%s)', { timeout: 120_000 }, async (name, fillers) => {
    const nc = await clientTo(c.urls());
    const jsm = await jsmOf(nc);
    const subject = name.toLowerCase();
    await jsm.streams.add({ name, subjects: [`${subject}.>`], num_replicas: 3 });
    const leader = await c.streamLeader(name);
    const victim = (leader + 2) % 3;
    const js = jetstream(nc, { timeout: 10_000 });
    for (let i = 0; i < fillers; i++) await js.publish(`${subject}.fill`, `fill-${i}-${'x'.repeat(32_000)}`, { msgID: `fill-${i}` });
    const acked = await publishAll(nc, `${subject}.a`, 's', 60);
    await converged(name, acked);
    if (fillers > 0) await c.node(victim).stop();
    await c.kill(victim);
    const segDir = path.join(storeOf(victim), 'jetstream', '$G', 'streams', name, 'msgs');
    const seg = path.join(segDir, fs.readdirSync(segDir).filter((f) => f.endsWith('.seg')).sort()[0]!);
    const buf = fs.readFileSync(seg);
    for (let k = Math.floor(buf.length / 3); k < Math.floor(buf.length / 3) + 8; k++) buf[k]! ^= 0x5a;
    fs.writeFileSync(seg, buf);
    await c.restart(victim);
    const copy = await converged(name, acked);
    expect(copy.length).toBe(60 + fillers);
    const r = await monitor(c.node(victim), `/replicaz?stream=${name}&limit=1`);
    expect(r.state.lost).toBeUndefined();
    expect(c.node(victim).output()).toContain('replica found damaged records');
    await nc.close();
  });

  it('the whole cluster killed -9 at once and restarted keeps every acknowledged message', { timeout: 120_000 }, async () => {
    // The previous test restarted a node: the meta group may still be settling on a busy machine.
    await c.metaLeader(30_000);
    const nc = await clientTo(c.urls());
    const jsm = await jsmOf(nc);
    await jsm.streams.add({ name: 'ALL', subjects: ['all.>'], num_replicas: 3 });
    const acked = await publishAll(nc, 'all.a', 'x', 300);
    // A durable consumer with 120 acks the server confirmed (double ack) before the crash.
    await jsm.consumers.add('ALL', { durable_name: 'C', ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000 });
    const consumer = await jetstream(nc).consumers.get('ALL', 'C');
    const confirmed = new Set<string>();
    const batch = await consumer.fetch({ max_messages: 120, expires: 5000 });
    for await (const m of batch) {
      await m.ackAck();
      confirmed.add(m.string());
      if (confirmed.size === 120) break;
    }
    expect(confirmed.size).toBe(120);
    await nc.close();
    await Promise.all([0, 1, 2].map((i) => c.kill(i)));
    await Promise.all([0, 1, 2].map((i) => c.restart(i)));
    await c.metaLeader(30_000);
    await c.streamLeader('ALL', '$G', 30_000);
    const copy = await converged('ALL', acked);
    assertExactlyOnceInOrder(copy, 'x', acked);
    expect(copy.length).toBe(300);
    // No confirmed ack is lost: the consumer resumes after the 120 and redelivers none of them.
    const after = await clientTo(c.urls());
    const resumed = await eventually('the consumer answers after the restart', () => jetstream(after).consumers.get('ALL', 'C'), 30_000);
    const next: string[] = [];
    await eventually('the other 180 are delivered', async () => {
      const b = await resumed.fetch({ max_messages: 180, expires: 3000 });
      for await (const m of b) {
        next.push(m.string());
        m.ack();
      }
      return new Set(next).size >= 180 || undefined;
    }, 60_000);
    for (const d of next) expect(confirmed.has(d)).toBe(false);
    await after.close();
    // Earlier streams are back too, with every message.
    await c.streamLeader('KILL', '$G', 30_000);
    const again = await clientTo(c.urls());
    expect((await (await jetstreamManager(again, { timeout: API_TIMEOUT_MS })).streams.info('KILL')).state.messages).toBe(800);
    await again.close();
  });

  it('/healthz of a node restarted while cut off is 503 with nats-server\'s JSON until it is current again, then ok', { timeout: 90_000 }, async () => {
    await c.metaLeader(30_000);
    const victim = 1;
    await c.kill(victim);
    c.isolate(victim);
    await c.restart(victim);
    const probe = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${c.node(victim).httpPort}/healthz${q}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    // Cut off, it cannot hear a meta leader: the readiness probes fail, the liveness one does not.
    const unhealthy = { status: 503, body: { status: 'unavailable', error: 'JetStream has not established contact with a meta leader' } };
    await eventually('JetStream started on the restarted node', async () => JSON.stringify(await probe('')) === JSON.stringify(unhealthy) || undefined);
    expect(await probe('?js-server-only=true')).toEqual(unhealthy);
    expect(await probe('?js-enabled-only=true')).toEqual({ status: 200, body: { status: 'ok' } });
    c.heal();
    await eventually('the restarted node is healthy once current', async () => ((await probe('')).status === 200 ? true : undefined), 30_000);
    expect(await probe('')).toEqual({ status: 200, body: { status: 'ok' } });
    expect((await probe('?js-server-only=true')).status).toBe(200);
    // Healthy means every replica it hosts caught up: its copies match the others'.
    for (const stream of ['KILL', 'ALL']) await c.converged(stream, new Map());
  });
});

function storeOf(i: number): string {
  const conf = fs.readFileSync(path.join(c.dirs[i]!, 'server.conf'), 'utf8');
  return /store_dir: "([^"]+)"/.exec(conf)![1]!;
}

function isGroupOf(dir: string, stream: string): boolean {
  // The group's snapshot carries the stream's config; the bootstrap one is written at creation.
  try {
    return fs.readFileSync(path.join(dir, 'snapshot')).includes(Buffer.from(`"name":"${stream}"`));
  } catch {
    return false;
  }
}
