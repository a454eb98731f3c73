// The Raft group driver over real FileStorage, the in-memory transport and a fake clock.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftError, RaftErrorCode } from '../../../src/raft/errors.ts';
import type { LeaderChange } from '../../../src/raft/driver.ts';
import { StateType } from '../../../src/raft/types.ts';
import { FRAME_HEADER_BYTES, scanFrames } from '../../../src/storage/framing.ts';
import { DriverCluster, TICK_MS } from './driver_cluster.ts';
import type { TestMember } from './driver_cluster.ts';

const IDS3 = ['a', 'b', 'c'];
const IDS5 = ['a', 'b', 'c', 'd', 'e'];

let cluster: DriverCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function group(ids: string[], opts: Parameters<typeof DriverCluster.create>[1] = {}): Promise<DriverCluster> {
  cluster = await DriverCluster.create(ids, opts);
  return cluster;
}

/** Tracks a promise's outcome without awaiting it. */
function track<T>(p: Promise<T>): { value: T | undefined; error: unknown; settled: () => boolean } {
  const t = { value: undefined as T | undefined, error: undefined as unknown, done: false, settled: () => t.done };
  p.then(
    (v) => {
      t.value = v;
      t.done = true;
    },
    (e: unknown) => {
      t.error = e;
      t.done = true;
    },
  );
  return t;
}

function errCode(e: unknown): string {
  return e instanceof RaftError ? e.code : String(e);
}

function newestSegment(dir: string): string {
  const seg = fs
    .readdirSync(dir)
    .filter((f) => /^wal-\d+\.log$/.test(f))
    .sort()
    .at(-1)!;
  return path.join(dir, seg);
}

function followers(c: DriverCluster, l: TestMember): TestMember[] {
  return c.up().filter((m) => m !== l);
}

/** Same applied index and state digest on every member that is up. */
async function converged(c: DriverCluster): Promise<void> {
  await c.until(() => {
    const ms = c.up();
    return ms.every((m) => m.sm.applied === ms[0]!.sm.applied && m.sm.digest === ms[0]!.sm.digest);
  }, 'replicas converge');
}

describe('raft driver', () => {
  for (const ids of [IDS3, IDS5]) {
    it(`${ids.length} members elect one leader; a proposal resolves with its index once applied, and every replica applies it`, async () => {
      const c = await group(ids);
      const l = await c.waitForLeader();
      expect(c.up().filter((m) => m.driver.isLeader)).toEqual([l]);
      const index = await c.write('k', 'v');
      expect(index).toBe(l.sm.applied);
      expect(l.sm.get('k')).toBe('v');
      await converged(c);
      for (const m of c.up()) expect(m.sm.get('k')).toBe('v');
      // a minority down changes nothing
      for (const f of followers(c, l).slice(0, (ids.length - 1) / 2)) await c.kill(f.id);
      await c.write('k2', 'v2');
      await converged(c);
    });
  }

  it('acknowledges a proposal only once a quorum has it on disk, however the fsyncs interleave', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    const [f1, f2] = followers(c, l);
    // the followers' disks hold: the leader alone has it, not a quorum
    f1!.gate.held = true;
    f2!.gate.held = true;
    const p = track(c.put(l, 'x', '1'));
    // (within an election timeout: longer, and check-quorum would depose the leader)
    await c.tick(3);
    expect(p.settled()).toBe(false);
    expect(l.storage.lastIndex()).toBeGreaterThanOrEqual(l.driver.raft.raftLog.lastIndex());
    // one follower's disk catches up: leader + f1 are a quorum
    f1!.gate.release();
    await c.until(() => p.settled(), 'ack after a quorum fsynced');
    expect(p.error).toBeUndefined();
    expect(p.value).toBeGreaterThan(0);
    const durable = c.up().filter((m) => m.storage.lastIndex() >= p.value!);
    expect(durable.length).toBeGreaterThanOrEqual(2);
    f2!.gate.release();
    await converged(c);

    // now the leader's own disk holds while both followers have it: still no ack until the
    // leader has it durable too (it applies only what it persisted)
    l.gate.held = true;
    const q = track(c.put(l, 'y', '2'));
    await c.tick(5);
    expect(q.settled()).toBe(false);
    l.gate.release();
    await c.until(() => q.settled(), 'ack once the leader fsynced');
    expect(q.error).toBeUndefined();
  });

  it('queues inputs while a Ready is being persisted and makes them durable together (group commit)', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    await c.write('warm', 'up');
    l.gate.held = true;
    // a proposal whose fsync now hangs, then 50 more arriving meanwhile
    const first = track(c.put(l, 'p', '0'));
    await c.settle();
    const before = l.storage.stats.syncRequests;
    const rest = Array.from({ length: 50 }, (_, i) => track(c.put(l, 'p', String(i + 1))));
    l.gate.release();
    await c.until(() => first.settled() && rest.every((t) => t.settled()), 'all proposals');
    expect(rest.every((t) => t.error === undefined)).toBe(true);
    // the 50 went to disk in one batch (plus at most one for the commit that followed)
    expect(l.storage.stats.syncRequests - before).toBeLessThanOrEqual(3);
    const indexes = rest.map((t) => t.value!);
    expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
    expect(l.sm.get('p')).toBe('50');
  });

  it('refuses proposals where they cannot be ordered: NotLeader naming the leader, NoLeader, LeadershipLost', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    const f = followers(c, l)[0]!;
    const e1 = await c.put(f, 'x', '1').catch((e: unknown) => e);
    expect(e1).toMatchObject({ code: RaftErrorCode.NotLeader, leader: l.id });
    // an isolated leader accepts, then loses leadership: the waiting proposal is rejected
    for (const m of followers(c, l)) {
      c.transport.partition(l.id, m.id);
    }
    const p = track(c.put(l, 'x', '2'));
    await c.until(() => p.settled(), 'rejection after check-quorum');
    expect(errCode(p.error)).toBe(RaftErrorCode.LeadershipLost);
    const e2 = await c.put(l, 'x', '3').catch((e: unknown) => e);
    expect(errCode(e2)).toBe(RaftErrorCode.NoLeader);
    c.transport.heal();
    await c.waitForLeader();
  });

  it('a killed leader is replaced; restarted, it catches up from the log and every replica holds the same data', async () => {
    const c = await group(IDS3);
    const l1 = await c.waitForLeader();
    for (let i = 0; i < 5; i++) await c.write(`k${i}`, `a${i}`);
    await c.kill(l1.id);
    const l2 = await c.waitForLeader();
    expect(l2.id).not.toBe(l1.id);
    for (let i = 0; i < 5; i++) await c.write(`k${i}`, `b${i}`);
    const back = await c.restart(l1.id);
    await converged(c);
    expect(back.sm.get('k4')).toBe('b4');
    expect(back.storage.snapshot().meta.index).toBe(1); // by log: no snapshot was needed
    expect(back.driver.status().leader).toBe(l2.id);
  });

  it('a follower too far behind catches up by snapshot; the log is compacted by the entries policy', async () => {
    const c = await group(IDS3, { snapshot: { entries: 8, keepEntries: 2 } });
    const l = await c.waitForLeader();
    const f = followers(c, l)[0]!;
    await c.kill(f.id);
    for (let i = 0; i < 30; i++) await c.write(`k${i % 4}`, `v${i}`);
    expect(l.storage.snapshot().meta.index).toBeGreaterThan(20);
    expect(l.storage.firstIndex()).toBeGreaterThan(2);
    const back = await c.restart(f.id);
    await converged(c);
    expect(back.storage.snapshot().meta.index).toBeGreaterThan(1);
    expect(back.sm.get('k1')).toBe(l.sm.get('k1'));
    // restarted again, it comes back from its own snapshot and log
    await c.kill(f.id);
    const again = await c.restart(f.id);
    expect(again.sm.digest).toBe(l.sm.digest);
  });

  it('a follower whose WAL was bit-flipped while down detects it, never leads with it, and is repaired from the leader', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    for (let i = 0; i < 12; i++) await c.write(`k${i}`, `v${i}`);
    const victim = followers(c, l)[0]!;
    const witness = followers(c, l)[1]!;
    await c.kill(victim.id);
    // flip a bit inside the fourth-to-last entry record of its newest segment
    const file = newestSegment(victim.dir);
    const buf = fs.readFileSync(file);
    buf[Math.floor(buf.length * 0.7)]! ^= 0x20;
    fs.writeFileSync(file, buf);

    // the leader dies too: the damaged follower and the sound one are left
    await c.kill(l.id);
    const back = c.start(victim.id);
    expect(back.storage.damage()).not.toBeNull();
    expect(back.driver.status().repairIndex).toBeGreaterThan(0);
    const lastBefore = back.storage.lastIndex();
    for (let i = 0; i < 100 && !c.leader(); i++) {
      await c.tick();
      expect(back.driver.raft.state).not.toBe(StateType.Leader);
    }
    // the sound follower leads (the damaged one may vote for a log that reaches what it lost)
    const l2 = await c.waitForLeader();
    expect(l2.id).toBe(witness.id);
    await c.write('after', 'repair');
    await converged(c);
    expect(back.driver.status().repairIndex).toBe(0);
    expect(back.storage.lastIndex()).toBeGreaterThan(lastBefore);
    expect(back.sm.get('k11')).toBe('v11');
    expect(fs.readdirSync(victim.dir).some((f) => f.endsWith('.damaged'))).toBe(true);
    await c.restart(l.id);
    await converged(c);
  });

  it('a follower whose WAL tail was cut at a record boundary is caught by the leader and repaired', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    for (let i = 0; i < 10; i++) await c.write(`k${i}`, `v${i}`);
    const victim = followers(c, l)[0]!;
    await c.kill(victim.id);
    // cut the newest segment back to its first half, at a record boundary, as a lost tail would
    const file = newestSegment(victim.dir);
    const ends: number[] = [];
    const buf = fs.readFileSync(file);
    scanFrames(buf, 0, (p, at) => ends.push(at + FRAME_HEADER_BYTES + p.length));
    fs.truncateSync(file, ends[Math.floor(ends.length / 2)]!);
    const back = await c.restart(victim.id);
    await c.tick(3);
    await converged(c);
    expect(back.sm.get('k9')).toBe('v9');
    expect(back.driver.status().repairIndex).toBe(0);
  });

  it('stepDown hands leadership to a caught-up voter and resolves with it; everyone hears of the change', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    await c.write('a', '1');
    const heard = new Map<string, LeaderChange[]>();
    for (const m of c.up()) m.driver.onLeaderChange((ev) => heard.set(m.id, [...(heard.get(m.id) ?? []), ev]));
    const t = track(l.driver.stepDown());
    await c.until(() => t.settled(), 'step down');
    expect(t.error).toBeUndefined();
    const l2 = await c.waitForLeader();
    expect(t.value).toBe(l2.id);
    expect(l2.id).not.toBe(l.id);
    await c.tick(2);
    for (const m of c.up()) expect(heard.get(m.id)?.at(-1)?.leader).toBe(l2.id);
    // the new leader announced itself only after applying its term's first entry
    expect(l2.sm.applied).toBeGreaterThan(0);
    expect(await l.driver.stepDown().catch((e: unknown) => errCode(e))).toBe(RaftErrorCode.NotLeader);
  });

  it('adds a voter that catches up from empty storage and removes one, which hears it and refuses proposals', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    await c.write('before', 'join');
    const joined = track(l.driver.addPeer('d'));
    await c.until(() => joined.settled(), 'conf change applied');
    expect(joined.error).toBeUndefined();
    const d = c.start('d');
    await converged(c);
    expect(d.sm.get('before')).toBe('join');
    expect(l.driver.status().voters).toEqual(['a', 'b', 'c', 'd']);

    const gone = followers(c, l).find((m) => m.id !== 'd')!;
    let removed = false;
    gone.driver.onRemoved(() => (removed = true));
    const r = track(l.driver.removePeer(gone.id));
    await c.until(() => r.settled() && removed, 'removal applied on the removed node');
    expect(l.driver.status().voters).not.toContain(gone.id);
    await c.write('after', 'removal');
    const again = track(l.driver.addPeer(gone.id));
    await c.until(() => again.settled(), 'refusal');
    expect(errCode(again.error)).toBe(RaftErrorCode.InvalidConfChange);
  });

  it('reports status for monitoring: leader, term, commit, applied, and each peer current, lag and last active', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    await c.write('s', '1');
    await c.tick(2);
    const st = l.driver.status();
    expect(st).toMatchObject({ group: 'G', id: l.id, state: StateType.Leader, leader: l.id, voters: IDS3, repairIndex: 0, storageError: null });
    expect(st.commit).toBe(st.applied);
    expect(st.peers.map((p) => p.id)).toEqual(IDS3.filter((x) => x !== l.id));
    for (const p of st.peers) {
      expect(p).toMatchObject({ current: true, lag: 0, match: st.lastIndex });
      expect(p.lastActiveMs).toBeLessThanOrEqual(2 * TICK_MS);
    }
    const f = followers(c, l)[0]!;
    await c.kill(f.id);
    for (let i = 0; i < 3; i++) await c.write(`x${i}`, 'y');
    await c.tick(25);
    const p = l.driver.status().peers.find((x) => x.id === f.id)!;
    expect(p.current).toBe(false);
    expect(p.lag).toBeGreaterThanOrEqual(3);
    expect(p.lastActiveMs).toBeGreaterThan(20 * TICK_MS);
    expect(followers(c, l).find((m) => m.up)!.driver.status().leader).toBe(l.id);
  });

  it('a failing disk fails waiting proposals with StorageFailed, is retried, and the group carries on', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    await c.write('ok', '1');
    l.gate.failing = true;
    const p = track(c.put(l, 'lost?', 'x'));
    await c.settle();
    await c.until(() => p.settled(), 'storage failure reported');
    expect(errCode(p.error)).toBe(RaftErrorCode.StorageFailed);
    expect(l.driver.status().storageError).toMatch(/ENOSPC/);
    expect(l.errors.some((e) => /storage write failed/.test(e.message))).toBe(true);
    expect(errCode(await c.put(l, 'more', 'x').catch((e: unknown) => e))).toBe(RaftErrorCode.StorageFailed);
    l.gate.failing = false;
    await c.tick(200); // retries after storageRetryMs; the others may elect meanwhile
    const l2 = await c.waitForLeader();
    expect(l2.driver.status().storageError).toBeNull();
    expect(l.driver.status().storageError).toBeNull();
    await c.write('after', 'recovery');
    await converged(c);
  });

  it('a linearizable read resolves once the state machine has applied what was committed before it', async () => {
    const c = await group(IDS3);
    const l = await c.waitForLeader();
    const w = await c.write('r', '1');
    const f = followers(c, l)[0]!;
    for (const m of [l, f]) {
      const r = track(m.driver.read());
      await c.until(() => r.settled(), 'read');
      expect(r.value).toBeGreaterThanOrEqual(w);
      expect(m.sm.get('r')).toBe('1');
    }
  });
});
