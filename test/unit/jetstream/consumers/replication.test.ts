// Three replicas of one consumer over real Raft group drivers (in-memory transport, fake clock,
// FileStorage): leadership moves by step-down and by kill -9 while a client pulls and acks, and
// no confirmed ack is ever undone, nothing unacked is lost, every replica ends byte-identical.

import { afterEach, describe, expect, it } from 'vitest';
import { parseConsumerConfig } from '../../../../src/jetstream/consumers/config.ts';
import { decodeEntry, EntryKind } from '../../../../src/jetstream/consumers/entries.ts';
import { isApiError } from '../../../../src/jetstream/consumers/errors.ts';
import type { ConsumerReplicator, ReplicatedConsumer } from '../../../../src/jetstream/consumers/replicator.ts';
import { ack, Inbox, makeRig, seqOf } from './harness.ts';
import type { Consumer } from '../../../../src/jetstream/consumers/consumer.ts';
import { PullClient, ReplicatedConsumerRig, TICK_MS } from './raft_rig.ts';

const IDS = ['a', 'b', 'c'];
const ACK_WAIT_MS = 1_000;
const CONFIG = { durable_name: 'D', ack_policy: 'explicit', ack_wait: ACK_WAIT_MS * 1_000_000, num_replicas: 3 };

let rig: ReplicatedConsumerRig | null = null;
let client: PullClient | null = null;
afterEach(async () => {
  client?.close();
  client = null;
  await rig?.close();
  rig = null;
});

async function publish(r: ReplicatedConsumerRig, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await r.stream.publish('foo.x', `m${i}`);
}

/** Pulls and acks until `cond` holds (bounded by ticks). */
async function work(r: ReplicatedConsumerRig, c: PullClient, cond: () => boolean, what: string, maxTicks = 800): Promise<void> {
  for (let i = 0; i < maxTicks; i++) {
    if (cond()) return;
    c.pull();
    await r.tick();
  }
  throw new Error(`not reached within ${maxTicks} ticks: ${what}`);
}

function infoOf(r: ReplicatedConsumerRig, id: string): Record<string, unknown> {
  const i = r.replica(id).consumer.info();
  return {
    delivered: (i['delivered'] as Record<string, unknown>)['consumer_seq'],
    deliveredStream: (i['delivered'] as Record<string, unknown>)['stream_seq'],
    ackFloor: (i['ack_floor'] as Record<string, unknown>)['stream_seq'],
    pending: i['num_ack_pending'],
    redelivered: i['num_redelivered'],
  };
}

/** Every replica up applied the same index and holds the same state, byte for byte. */
async function expectIdentical(r: ReplicatedConsumerRig): Promise<void> {
  await r.converged();
  const snaps = [...r.snapshots().values()];
  for (const s of snaps) expect(s.equals(snaps[0]!)).toBe(true);
  const infos = r.up().map((x) => infoOf(r, x.id));
  for (const i of infos) expect(i).toEqual(infos[0]);
}

async function resumesExactly(move: (r: ReplicatedConsumerRig, leader: string) => Promise<void>): Promise<void> {
  const N = 40;
  // every 5th message is left unacked on its first delivery: it must come again, from whoever leads then
  const skip = Array.from({ length: N / 5 }, (_, i) => 5 * i + 3);
  rig = await ReplicatedConsumerRig.create(IDS, CONFIG);
  const r = rig;
  const first = await r.waitForLeader();
  await publish(r, 1, N);
  client = new PullClient(r, skip);
  const c = client;
  await work(r, c, () => c.acked.size >= 15, 'half the stream acked');
  // mid-stream: the old leader hands out the rest to a request that keeps waiting for more;
  // the skipped ones stay unacked
  expect(c.pull(100, 2_000, true)).toBe(true);
  await r.tick(2);
  expect(c.messages().length).toBeGreaterThanOrEqual(N);
  await move(r, first.id);
  const second = await r.waitForLeader();
  await work(r, c, () => c.acked.size === N, 'everything acked', 2_000);

  expect(c.redeliveredAfterAck()).toEqual([]);
  for (const seq of skip) {
    const deliveries = c.messages().filter((m) => m.sseq === seq);
    expect(deliveries.length, `seq ${seq} delivered again`).toBeGreaterThanOrEqual(2);
  }
  await expectIdentical(r);
  expect(infoOf(r, second.id)).toMatchObject({ pending: 0, ackFloor: N, deliveredStream: N });
}

describe('replicated consumer over raft', () => {
  it('applies every decision on every replica: delivered, floors, pending and redelivery counts end identical', async () => {
    rig = await ReplicatedConsumerRig.create(IDS, CONFIG);
    const r = rig;
    const started = r.up().map((x) => x.consumer.whenStarted());
    const l = await r.waitForLeader();
    await r.converged();
    // the first leader decided the starting position for everyone
    await Promise.all(started);
    await publish(r, 1, 10);
    client = new PullClient(r, [2, 4, 6]);
    const c = client;
    const before = l.driver.status().lastIndex;
    await work(r, c, () => c.messages().length >= 10, 'ten delivered');
    await expectIdentical(r);
    // a pass's deliveries are one entry, and so are the acks of one turn: two fetches of five
    // (7 acked) take a handful of entries, not one per delivery and per ack
    expect(l.driver.status().lastIndex - before).toBeLessThan(10);
    expect(infoOf(r, l.id)).toMatchObject({ delivered: 10, deliveredStream: 10, pending: 3, ackFloor: 1, redelivered: 0 });
    // the unacked three come back after ack_wait with delivery count 2, recorded everywhere
    await work(r, c, () => c.acked.size === 10, 'the rest redelivered and acked');
    const again = c.messages().filter((m) => m.dc === 2).map((m) => m.sseq);
    expect(again).toEqual([2, 4, 6]);
    await expectIdentical(r);
    expect(infoOf(r, l.id)).toMatchObject({ pending: 0, ackFloor: 10, redelivered: 0 });
    expect(c.redeliveredAfterAck()).toEqual([]);
  });

  it('sends a message and answers a double ack only after the entry is committed on a quorum', async () => {
    rig = await ReplicatedConsumerRig.create(IDS, CONFIG);
    const r = rig;
    const l = await r.waitForLeader();
    await publish(r, 1, 1);
    // the client leaves the first delivery unacked, to ack it by hand below
    client = new PullClient(r, [1]);
    const c = client;
    const followers = r.up().filter((x) => x !== l);
    for (const f of followers) f.gate.held = true;
    // the DELIVERED entry needs a quorum before the message goes out
    c.pull();
    await r.tick(3);
    expect(c.messages().length).toBe(0);
    followers[0]!.gate.release();
    await r.until(() => c.messages().length === 1, 'delivered once a quorum has it');
    followers[1]!.gate.release();
    await r.converged();

    // the ack reaches the leader but cannot commit: no answer, still pending everywhere
    for (const f of followers) f.gate.held = true;
    c.ack(1);
    await r.tick(3);
    expect(c.acked.size).toBe(0);
    expect(l.consumer.info()['num_ack_pending']).toBe(1);
    // one follower's disk answers: leader + that follower are a quorum, the answer follows
    followers[0]!.gate.release();
    await r.until(() => c.acked.size === 1, 'ack answered');
    const commit = l.driver.status().commit;
    expect(r.up().filter((x) => x.storage.lastIndex() >= commit).length).toBeGreaterThanOrEqual(2);
    expect(l.consumer.info()['num_ack_pending']).toBe(0);
    followers[1]!.gate.release();
    await expectIdentical(r);
  });

  it('the first leader decides the starting position (deliver_policy new) for every replica', async () => {
    rig = await ReplicatedConsumerRig.create(IDS, { ...CONFIG, deliver_policy: 'new' });
    const r = rig;
    // already in the stream while no replica has a position
    await publish(r, 1, 5);
    expect(r.up().some((x) => x.consumer.started)).toBe(false);
    await r.waitForLeader();
    await r.converged();
    expect(r.up().every((x) => x.consumer.info()['num_pending'] === 0)).toBe(true);
    await publish(r, 6, 8);
    client = new PullClient(r);
    const c = client;
    await work(r, c, () => c.acked.size === 3, 'the new ones acked');
    expect(c.messages().map((m) => m.sseq)).toEqual([6, 7, 8]);
    await expectIdentical(r);
  });

  it('a no-wait pull gets its messages before the status that ends it', async () => {
    rig = await ReplicatedConsumerRig.create(IDS, CONFIG);
    const r = rig;
    await r.waitForLeader();
    await publish(r, 1, 3);
    client = new PullClient(r);
    const c = client;
    expect(c.request({ batch: 10, no_wait: true })).toBe(true);
    await r.until(() => c.statuses().length > 0, 'the request ends');
    await r.tick(2);
    expect(c.events.filter((e) => e.kind !== 'acked').map((e) => (e.kind === 'msg' ? e.sseq : e.status))).toEqual([1, 2, 3, 408]);
  });

  it('a leader that steps down mid-stream: the new one redelivers what was unacked and nothing that was acked', async () => {
    await resumesExactly(async (r, leader) => {
      // a pull request waits at the old leader: the new one tells its client to ask again
      const c = client!;
      const before = c.statuses().length;
      await r.stepDown(leader);
      expect((await r.waitForLeader()).id).not.toBe(leader);
      await r.tick(2);
      expect(c.statuses().slice(before)).toContain('409 Leadership Change');
    });
  });

  it('a leader killed mid-stream: the new one resumes exactly; the restarted replica catches up to the same state', async () => {
    await resumesExactly(async (r, leader) => {
      await r.kill(leader);
      expect((await r.waitForLeader()).id).not.toBe(leader);
      // it comes back while the others work on
      await r.tick(20);
      r.start(leader);
    });
  });

  it('all replicas killed at once and restarted: every confirmed ack is still in force', async () => {
    await resumesExactly(async (r) => {
      const ids = r.up().map((x) => x.id);
      for (const id of ids) await r.kill(id);
      for (const id of ids) r.start(id);
    });
  });

  it("a leader whose disk fails for a moment re-reads the committed state and goes on: nothing confirmed undone, nothing lost", async () => {
    const N = 20;
    rig = await ReplicatedConsumerRig.create(IDS, CONFIG, { storageRetryMs: 2 * TICK_MS });
    const r = rig;
    const l = await r.waitForLeader();
    await publish(r, 1, N);
    client = new PullClient(r, [3, 9]);
    const c = client;
    await work(r, c, () => c.acked.size >= 5, 'some acked');
    // deliveries and acks proposed now fail (their entries may still commit once the write is retried)
    l.gate.failing = true;
    for (let i = 0; i < 4; i++) {
      c.pull(5, 300, true);
      await r.tick();
    }
    l.gate.failing = false;
    expect(l.errors.some((e) => /storage write failed/.test(e.message))).toBe(true);
    const done = (): boolean => {
      const x = r.leader();
      return x !== null && x.consumer.info()['num_ack_pending'] === 0 && infoOf(r, x.id)['ackFloor'] === N;
    };
    await work(r, c, done, 'every message acked on the replicas', 2_000);
    expect(c.redeliveredAfterAck()).toEqual([]);
    for (const seq of [3, 9]) expect(c.messages().filter((m) => m.sseq === seq).length).toBeGreaterThanOrEqual(2);
    await expectIdentical(r);
  });

  it('a replica restarted behind a snapshot installs it and ends identical', async () => {
    rig = await ReplicatedConsumerRig.create(IDS, CONFIG, { snapshot: { entries: 8, bytes: 0, keepEntries: 2 } });
    const r = rig;
    const l = await r.waitForLeader();
    const lagging = r.up().find((x) => x !== l)!;
    await r.kill(lagging.id);
    await publish(r, 1, 30);
    client = new PullClient(r, [7]);
    const c = client;
    await work(r, c, () => c.acked.size === 29, 'all but one acked');
    expect(l.storage.snapshot().meta.index).toBeGreaterThan(0);
    const back = r.start(lagging.id);
    await r.until(() => back.driver.status().applied >= l.driver.status().applied, 'caught up');
    // it was too far behind for the log: the leader sent it a snapshot of the consumer state
    expect(back.storage.snapshot().meta.index).toBeGreaterThan(1);
    await expectIdentical(r);
  });

  it('config updates are entries: a follower asked first proposes it once it leads', async () => {
    rig = await ReplicatedConsumerRig.create(IDS, CONFIG);
    const r = rig;
    const l = await r.waitForLeader();
    const next = { ...r.cfg, description: 'updated', maxDeliver: 5 };
    // the meta layer tells every replica; only the leader proposes
    for (const x of r.up()) x.manager.updateReplicaConfig(r.stream.name, 'D', next);
    await r.until(() => r.up().every((x) => x.consumer.cfg.description === 'updated'), 'config applied everywhere');
    expect(l.consumer.cfg.maxDeliver).toBe(5);
    // a follower told alone (its leader missed it) proposes it after taking over
    const f = r.up().find((x) => x !== l)!;
    r.replica(f.id).manager.updateReplicaConfig(r.stream.name, 'D', { ...next, description: 'again' });
    await r.tick(2);
    expect(l.consumer.cfg.description).toBe('updated');
    await r.stepDown(l.id, f.id);
    await r.until(() => r.up().every((x) => x.consumer.cfg.description === 'again'), 'the new leader proposed it');
    await expectIdentical(r);
  });
});

/** A replicator the test drives by hand: proposals wait until it commits (applies) or refuses them. */
class HandReplicator implements ConsumerReplicator {
  isLeader = true;
  target: ReplicatedConsumer | null = null;
  queue: { entry: Uint8Array; resolve: () => void; reject: (e: Error) => void }[] = [];
  propose(entry: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.queue.push({ entry, resolve, reject }));
  }
  onLeaderChange(): () => void {
    return () => {};
  }
  commitAll(): void {
    for (const p of this.queue.splice(0)) {
      this.target!.applyEntry(p.entry);
      p.resolve();
    }
  }
  /** Never reached the log (a full queue, a failed disk before the write). */
  refuseAll(): void {
    for (const p of this.queue.splice(0)) p.reject(new Error('refused'));
  }
}

async function turn(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** A consumer 'R' that leads through a HandReplicator. */
function handLeader(): { h: ReturnType<typeof makeRig>; rep: HandReplicator; c: Consumer } {
  const h = makeRig();
  const rep = new HandReplicator();
  const cfg = parseConsumerConfig({ durable_name: 'R', ack_policy: 'explicit', num_replicas: 3 });
  if (isApiError(cfg)) throw new Error(cfg.description);
  const c = h.api.addReplica(h.stream, { ...cfg, name: 'R', maxWaiting: 512, ackWaitNs: 30e9, maxAckPending: 1000, maxDeliver: -1 }, 0, { replicator: rep });
  if (isApiError(c)) throw new Error(c.description);
  rep.target = c.replicated;
  return { h, rep, c };
}

describe('a replicated leader whose proposals fail', () => {
  it('delivers nothing until a barrier commits, then starts again from the committed state: refused deliveries are not lost', async () => {
    const { h, rep, c } = handLeader();
    // the first leader's starting position
    rep.commitAll();
    await turn();
    expect(c.started).toBe(true);
    for (let i = 1; i <= 3; i++) await h.stream.publish('foo.a', `m${i}`);
    const inbox = new Inbox(h.bus, '_INBOX.r');
    h.next('R', '_INBOX.r', { batch: 3, expires: 60e9 });
    await turn();
    // the deliveries (and the request note) never reach the log
    expect(rep.queue.length).toBeGreaterThan(0);
    rep.refuseAll();
    await turn();
    expect(inbox.data.length).toBe(0);
    // fenced: only the barrier is proposed, and a new request is served by nothing yet
    expect(rep.queue.length).toBe(1);
    h.next('R', '_INBOX.r', { batch: 3, expires: 60e9 });
    await turn();
    expect(rep.queue.map((p) => decodeEntry(p.entry).kind)).not.toContain(EntryKind.Delivered);
    // once the barrier commits, the three are handed out again (the request that took them
    // before is spent), once each
    rep.commitAll();
    await turn();
    rep.commitAll();
    await turn();
    expect(inbox.data.map((m) => [m.data, seqOf(m).dc])).toEqual([
      ['m1', 1],
      ['m2', 1],
      ['m3', 1],
    ]);
    expect(c.info()).toMatchObject({ num_ack_pending: 3, delivered: { consumer_seq: 3, stream_seq: 3 } });
    await h.api.stop();
  });
});

describe('a replicated leader with proposals in flight', () => {
  /** Commits whatever the leader proposes until it proposes nothing more. */
  async function settle(rep: HandReplicator): Promise<void> {
    for (let i = 0; i < 10 && rep.queue.length > 0; i++) {
      rep.commitAll();
      await turn();
    }
  }

  it('a pull right after a nak waits for the nak, so the naked message comes first (as nats-server)', async () => {
    const { h, rep } = handLeader();
    await settle(rep);
    for (const d of ['a', 'b']) await h.stream.publish('foo.a', d);
    const inbox = new Inbox(h.bus, '_INBOX.n');
    h.next('R', '_INBOX.n', { batch: 1, expires: 60e9 });
    await turn();
    await settle(rep);
    expect(inbox.data.map((m) => m.data)).toEqual(['a']);
    ack(h.bus, inbox.data[0]!, '-NAK');
    h.next('R', '_INBOX.n', { batch: 1, expires: 60e9 });
    await turn();
    // The nak is in flight: nothing is handed out past it.
    expect(rep.queue.map((p) => decodeEntry(p.entry).kind)).not.toContain(EntryKind.Delivered);
    await settle(rep);
    expect(inbox.data.map((m) => [m.data, seqOf(m).dc])).toEqual([
      ['a', 1],
      ['a', 2],
    ]);
    await h.api.stop();
  });

  it('whenConfig resolves once the updated config is applied, not when it is asked for', async () => {
    const { h, rep, c } = handLeader();
    await settle(rep);
    const next = { ...c.cfg, description: 'second', maxAckPending: 7 };
    c.updateConfig(next);
    let applied = false;
    void c.whenConfig(next).then(() => (applied = true));
    await turn();
    expect(applied).toBe(false);
    expect(c.info()['config']).toMatchObject({ max_ack_pending: 1000 });
    await settle(rep);
    expect(applied).toBe(true);
    expect(c.info()['config']).toMatchObject({ description: 'second', max_ack_pending: 7 });
    await h.api.stop();
  });
});
