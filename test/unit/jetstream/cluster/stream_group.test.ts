// Replicated streams in one process: three replicas of a stream, each with its own file store
// and Raft directory, talking over one in-memory bus through RaftNet. The leader takes publishes
// and answers after commit; every replica ends with the same messages; a replica behind a
// snapshot fetches what it misses from the leader; a follower's ENOSPC fails nothing acked.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryBus, realScheduler } from '../../../../src/jetstream/bus.ts';
import { RaftNet } from '../../../../src/jetstream/cluster/raft_net.ts';
import { StreamGroup, readBatch, type ClusterView } from '../../../../src/jetstream/cluster/stream_group.ts';
import { Stream, storeLimitsFor, type ApplyResult, type StreamEnv } from '../../../../src/jetstream/stream.ts';
import { checkStreamConfig, decodeStreamConfig, type StreamConfig } from '../../../../src/jetstream/stream_config.ts';
import { FileStore } from '../../../../src/jetstream/store/index.ts';
import type { JsContext } from '../../../../src/jetstream/seams.ts';
import { buildHeaders } from '../../../../src/protocol/headers.ts';
import { silentLogger } from '../js_harness.ts';
import { GroupSync } from '../../../../src/storage/group_sync.ts';
import { SyncGate } from '../../raft/driver_cluster.ts';
import { RaftError, RaftErrorCode } from '../../../../src/raft/errors.ts';

const NODES = ['n1', 'n2', 'n3'];
const GROUP = 'S-R3F-test';

function config(extra: Record<string, unknown> = {}): StreamConfig {
  const req = decodeStreamConfig(Buffer.from(JSON.stringify({ name: 'ORDERS', subjects: ['orders.>'], num_replicas: 3, ...extra })));
  if ('err_code' in req) throw new Error(req.description);
  const cfg = checkStreamConfig(req.cfg, { lookup: () => undefined });
  if ('err_code' in cfg) throw new Error(cfg.description);
  return cfg;
}

interface Replica {
  id: string;
  dir: string;
  stream: Stream;
  group: StreamGroup;
  net: RaftNet;
}

class Cluster {
  readonly bus = new InMemoryBus();
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-sg-'));
  readonly replicas = new Map<string, Replica>();
  private inbox = 0;

  /** Each node's Raft fsyncs pass through its gate (a test can make them fail). */
  readonly gates = new Map<string, SyncGate>();

  async open(id: string, cfg: StreamConfig, founders: string[] | null, snapshot = { entries: 0, bytes: 0, keepEntries: 0 }): Promise<Replica> {
    if (!this.gates.has(id)) this.gates.set(id, new SyncGate());
    const gate = this.gates.get(id)!;
    const dir = path.join(this.root, id);
    const ctx: JsContext = { bus: this.bus, scheduler: realScheduler, logger: silentLogger, domain: undefined, advisory: () => undefined };
    const env: StreamEnv = { ctx, serverName: id, lookupStream: () => undefined, consumerCount: () => 0, resourcesExceeded: () => false };
    const store = await FileStore.open({ dir: path.join(dir, 'store'), limits: storeLimitsFor(cfg), syncIntervalMs: 60_000 });
    const stream = new Stream({ env, cfg, store, created: 1n, dir: path.join(dir, 'store') });
    const net = new RaftNet(this.bus, id, { maxPayload: 64 * 1024 });
    const view: ClusterView = { clusterName: 'c', self: id, nameOf: (x) => x, silenceMs: () => 0 };
    const group = await StreamGroup.open({
      group: GROUP,
      stream,
      view,
      net,
      dir: path.join(dir, 'raft'),
      founders,
      scheduler: realScheduler,
      logger: silentLogger,
      fetch: async (peer, from, to) => readBatch(this.replicas.get(peer)!.stream, from, to, 16 * 1024),
      driver: { tickMs: 10, snapshot },
      storage: { groupSync: new GroupSync(gate.sync) },
    });
    const r = { id, dir, stream, group, net };
    this.replicas.set(id, r);
    return r;
  }

  async leader(): Promise<Replica> {
    return eventually(() => [...this.replicas.values()].find((r) => r.group.isLeader));
  }

  async publish(subject: string, data: string, headers: Record<string, string> = {}, waitMs = 3000): Promise<Record<string, unknown> | null> {
    const inbox = `_INBOX.${++this.inbox}`;
    let got: Record<string, unknown> | null = null;
    const sub = this.bus.subscribe(inbox, null, (_s, _r, _h, d) => (got = JSON.parse(Buffer.from(d).toString())));
    this.bus.publish(subject, inbox, Object.keys(headers).length ? buildHeaders({ headers }) : null, Buffer.from(data));
    const deadline = Date.now() + waitMs;
    while (got === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    sub.unsubscribe();
    return got;
  }

  /** A stream on this cluster's bus with no group: the test plays its replicator. */
  async loneStream(): Promise<Stream> {
    const ctx: JsContext = { bus: this.bus, scheduler: realScheduler, logger: silentLogger, domain: undefined, advisory: () => undefined };
    const env: StreamEnv = { ctx, serverName: 'n1', lookupStream: () => undefined, consumerCount: () => 0, resourcesExceeded: () => false };
    const dir = path.join(this.root, 'lone');
    const store = await FileStore.open({ dir, limits: storeLimitsFor(config()) });
    return new Stream({ env, cfg: config(), store, created: 1n, dir });
  }

  async stop(id: string, kill = false): Promise<void> {
    const r = this.replicas.get(id)!;
    this.replicas.delete(id);
    if (kill) r.group.halt();
    else await r.group.close();
    r.net.close();
    await r.stream.stop();
  }

  async close(): Promise<void> {
    for (const id of [...this.replicas.keys()]) await this.stop(id);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

async function eventually<T>(f: () => T | undefined | false | Promise<T | undefined | false>, boundMs = 10_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function contents(r: Replica): string[] {
  const out: string[] = [];
  const store = r.stream.store;
  for (let m = store.loadNext('>', 0); m !== null; m = store.loadNext('>', m.seq + 1)) out.push(`${m.seq}:${m.subject}:${Buffer.from(m.data).toString()}`);
  return out;
}

let cluster: Cluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

describe('StreamGroup', () => {
  it('acks after commit, and every replica holds the same messages', async () => {
    const c = (cluster = new Cluster());
    for (const n of NODES) await c.open(n, config(), NODES);
    c.replicas.get('n1')!.group.campaign();
    await c.leader();
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => c.publish(`orders.${i % 3}`, `m${i}`)));
    expect(acks.map((a) => a?.['seq'])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const dup = await c.publish('orders.x', 'again', { 'Nats-Msg-Id': 'id-1' });
    const dup2 = await c.publish('orders.x', 'again', { 'Nats-Msg-Id': 'id-1' });
    expect(dup2).toMatchObject({ seq: dup!['seq'], duplicate: true });
    await eventually(() => NODES.every((n) => c.replicas.get(n)!.stream.lastSequence() === 21));
    const want = contents(c.replicas.get('n1')!);
    for (const n of NODES) expect(contents(c.replicas.get(n)!)).toEqual(want);
  });

  it('decides compare-and-set against committed state: of two updates expecting one revision, one wins', async () => {
    const c = (cluster = new Cluster());
    for (const n of NODES) await c.open(n, config(), NODES);
    c.replicas.get('n2')!.group.campaign();
    await c.leader();
    const first = await c.publish('orders.k', 'v1');
    const rev = String(first!['seq']);
    const [a, b] = await Promise.all([
      c.publish('orders.k', 'v2', { 'Nats-Expected-Last-Subject-Sequence': rev }),
      c.publish('orders.k', 'v3', { 'Nats-Expected-Last-Subject-Sequence': rev }),
    ]);
    const ok = [a, b].filter((x) => x && x['error'] === undefined);
    expect(ok).toHaveLength(1);
    expect([a, b].find((x) => x && x['error'] !== undefined)!['error']).toMatchObject({ err_code: 10071 });
  });

  it('elects a new leader when the leader dies, keeps every acked message, and continues', async () => {
    const c = (cluster = new Cluster());
    for (const n of NODES) await c.open(n, config(), NODES);
    c.replicas.get('n1')!.group.campaign();
    const first = await c.leader();
    for (let i = 0; i < 10; i++) expect(await c.publish('orders.a', `a${i}`)).toMatchObject({ seq: i + 1 });
    await c.stop(first.id, true);
    const next = await c.leader();
    expect(next.id).not.toBe(first.id);
    const ack = await eventually(async () => {
      const a = await c.publish('orders.b', 'after', { 'Nats-Msg-Id': 'after-kill' });
      return a && a['error'] === undefined ? a : undefined;
    }, 10_000);
    expect(ack['seq']).toBe(11);
    const reopened = await c.open(first.id, config(), NODES);
    await eventually(() => reopened.stream.lastSequence() === 11);
    expect(contents(reopened)).toEqual(contents(next));
  });

  it('catches a replica up from the leader when it is behind the snapshot', async () => {
    const c = (cluster = new Cluster());
    const snap = { entries: 20, bytes: 0, keepEntries: 5 };
    for (const n of NODES) await c.open(n, config(), NODES, snap);
    c.replicas.get('n1')!.group.campaign();
    await c.leader();
    await c.stop('n3');
    for (let i = 0; i < 120; i++) await c.publish(`orders.${i % 7}`, `x${i}`.repeat(50));
    await c.publish('orders.del', 'bye');
    const lead = await c.leader();
    await lead.stream.deleteMsg(5, false);
    await eventually(() => lead.group.status().snapshotIndex > 60);
    // The entries n3 misses are gone from the leader's log: only a snapshot and a fetch can bring them.
    expect(lead.group.status().firstIndex).toBeGreaterThan(10);
    const back = await c.open('n3', config(), NODES, snap);
    await eventually(() => back.group.current && back.stream.lastSequence() === 121, 15_000);
    expect(contents(back)).toEqual(contents(lead));
    expect(back.stream.store.load(5)).toBeNull();
  });

  it('fails a publish with an error and no ack when the leader cannot write its log (ENOSPC), and keeps serving reads', async () => {
    const c = (cluster = new Cluster());
    for (const n of NODES) await c.open(n, config(), NODES);
    c.replicas.get('n1')!.group.campaign();
    const lead = await c.leader();
    for (let i = 0; i < 5; i++) expect(await c.publish('orders.a', `ok${i}`)).toMatchObject({ seq: i + 1 });
    c.gates.get(lead.id)!.failing = true;
    const refused = await c.publish('orders.a', 'no room');
    expect(refused?.['error']).toMatchObject({ code: 503 });
    expect(refused?.['seq']).toBe(0);
    // Reads keep working on the full node.
    expect(Buffer.from(lead.stream.getMsg({ seq: 3 })!.data).toString()).toBe('ok2');
    expect(lead.stream.info()['state']).toMatchObject({ messages: 5 });
    c.gates.get(lead.id)!.failing = false;
    // Space is back: the cluster takes publishes again (from whichever node leads by then).
    const acked = await eventually(async () => {
      const a = await c.publish('orders.a', 'after', { 'Nats-Msg-Id': 'after-1' });
      return a && a['error'] === undefined ? a : undefined;
    });
    const holder = await c.leader();
    await eventually(() => holder.stream.lastSequence() >= (acked?.['seq'] as number));
    const all = contents(holder).map((x) => x.split(':')[2]);
    expect(all.filter((d) => d === 'after')).toHaveLength(1);
    expect(all.slice(0, 5)).toEqual(['ok0', 'ok1', 'ok2', 'ok3', 'ok4']);
  });

  it('answers a publish refused before it entered the log with an error, and one that may still commit with nothing (unknown, not failed)', async () => {
    const c = (cluster = new Cluster());
    const stream = await c.loneStream();
    let refusal: RaftError = new RaftError(RaftErrorCode.NoLeader, 'no leader');
    stream.replicate({ propose: () => Promise.reject(refusal), clusterInfo: () => ({}), leaderNow: () => true });
    stream.setLeader(true);
    try {
      expect((await c.publish('orders.a', 'x'))?.['error']).toMatchObject({ code: 503, err_code: 10008 });
      // Replicated to a follower, then the leader stepped down: the next leader may commit it.
      refusal = new RaftError(RaftErrorCode.LeadershipLost, 'leadership lost before the entry committed; it may still commit');
      expect(await c.publish('orders.a', 'y', {}, 300)).toBeNull();
      refusal = new RaftError(RaftErrorCode.Closed, 'closed');
      expect(await c.publish('orders.a', 'z', {}, 300)).toBeNull();
    } finally {
      await stream.stop();
    }
  });

  it('acknowledges a retry (same Nats-Msg-Id) of a message in flight only once the original is stored', async () => {
    const c = (cluster = new Cluster());
    const stream = await c.loneStream();
    const held: Array<{ resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }> = [];
    stream.replicate({ propose: () => new Promise((resolve, reject) => held.push({ resolve, reject })), clusterInfo: () => ({}), leaderNow: () => true });
    stream.setLeader(true);
    try {
      // A deposed leader's proposal fails: neither the publish nor its retry is acknowledged.
      const first = c.publish('orders.a', 'x', { 'Nats-Msg-Id': 'id-lost' }, 300);
      await eventually(() => held.length === 1);
      const retry = c.publish('orders.a', 'x', { 'Nats-Msg-Id': 'id-lost' }, 300);
      await new Promise((r) => setTimeout(r, 20));
      held[0]!.reject(new RaftError(RaftErrorCode.LeadershipLost, 'leadership lost before the entry committed; it may still commit'));
      expect(await first).toBeNull();
      expect(await retry).toBeNull();
      // Committed: the retry is acknowledged as a duplicate of it.
      const second = c.publish('orders.a', 'y', { 'Nats-Msg-Id': 'id-kept' });
      await eventually(() => held.length === 2);
      const again = c.publish('orders.a', 'y', { 'Nats-Msg-Id': 'id-kept' });
      await new Promise((r) => setTimeout(r, 20));
      held[1]!.resolve({ seq: 2, ready: Promise.resolve() });
      expect(await second).toMatchObject({ seq: 2 });
      expect(await again).toMatchObject({ seq: 2, duplicate: true });
    } finally {
      await stream.stop();
    }
  });

  it('leaves publishes unanswered once its Raft group no longer leads, before the leader change reaches the stream', async () => {
    const c = (cluster = new Cluster());
    const stream = await c.loneStream();
    let proposals = 0;
    let raftLeads = true;
    stream.replicate({
      propose: () => {
        proposals++;
        return Promise.resolve({ seq: proposals, ready: Promise.resolve() });
      },
      clusterInfo: () => ({}),
      leaderNow: () => raftLeads,
    });
    stream.setLeader(true);
    try {
      expect(await c.publish('orders.a', 'x')).toMatchObject({ seq: 1 });
      raftLeads = false;
      // A compare-and-set decided against this replica's state would be answered wrongly.
      expect(await c.publish('orders.a', 'y', { 'Nats-Expected-Last-Sequence': '0' }, 300)).toBeNull();
      expect(await c.publish('orders.a', 'z', {}, 300)).toBeNull();
      expect(proposals).toBe(1);
    } finally {
      await stream.stop();
    }
  });

  it('never drops a stream over a corrupt Raft snapshot: the replica keeps its store and is repaired', async () => {
    const c = (cluster = new Cluster());
    for (const n of NODES) await c.open(n, config(), NODES);
    c.replicas.get('n1')!.group.campaign();
    await c.leader();
    for (let i = 0; i < 30; i++) await c.publish('orders.s', `s${i}`);
    await eventually(() => c.replicas.get('n3')!.stream.lastSequence() === 30);
    const dir = c.replicas.get('n3')!.dir;
    await c.stop('n3');
    const snap = path.join(dir, 'raft', 'snapshot');
    const buf = fs.readFileSync(snap);
    for (let k = 10; k < 20; k++) buf[k]! ^= 0xff;
    fs.writeFileSync(snap, buf);
    for (let i = 30; i < 40; i++) await c.publish('orders.s', `s${i}`);
    const back = await c.open('n3', config(), NODES);
    expect(back.stream.lastSequence()).toBeGreaterThanOrEqual(30);
    await eventually(() => back.group.current && back.stream.lastSequence() === 40);
    expect(contents(back)).toEqual(contents(await c.leader()));
    expect(fs.readdirSync(path.join(dir, 'raft')).some((f) => f.includes('.damaged'))).toBe(true);
  });
});
