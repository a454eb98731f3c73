// What the JetStream cluster asks of the driver beyond plain Raft: committed entries already on
// disk are applied without waiting for the next Ready's fsync; a replica can be kept from
// campaigning (while it fetches data a snapshot only described); a lazily synced state machine
// is flushed before a snapshot of it is recorded and the log compacted.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftDriver, bootstrap } from '../../../src/raft/driver.ts';
import { FileStorage } from '../../../src/raft/file_storage.ts';
import { KvStateMachine, encodeKvCommand } from '../../../src/raft/kv.ts';
import { seededRandom } from '../../../src/raft/prng.ts';
import { MemoryTransport } from '../../../src/raft/transport.ts';
import { FakeScheduler } from '../../support/fake_scheduler.ts';
import { DriverCluster, TICK_MS } from './driver_cluster.ts';

let cluster: DriverCluster | null = null;
const dirs: string[] = [];
afterEach(async () => {
  await cluster?.close();
  cluster = null;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

/** A lone voter over real storage, with a state machine and options of the test's choosing. */
async function lone(sm: KvStateMachine & { flush?: () => Promise<void> }, opts: { canCampaign?: () => boolean; snapshotEntries?: number } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-drvhook-'));
  dirs.push(dir);
  const seedStorage = FileStorage.open(dir);
  await bootstrap(seedStorage, ['a'], sm.snapshot());
  await seedStorage.close();
  const storage = FileStorage.open(dir);
  const clock = new FakeScheduler();
  const driver = new RaftDriver({
    id: 'a',
    group: 'G',
    storage,
    transport: new MemoryTransport(),
    scheduler: clock,
    stateMachine: sm,
    random: seededRandom(7),
    tickMs: TICK_MS,
    snapshot: { entries: opts.snapshotEntries ?? 0, bytes: 0, keepEntries: 0 },
    ...(opts.canCampaign ? { canCampaign: opts.canCampaign } : {}),
  });
  driver.start();
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(TICK_MS);
      await turn();
    }
  };
  return { driver, storage, ticks, close: () => driver.close() };
}

describe('raft driver hooks for replicated JetStream', () => {
  it('applies a committed entry it holds on disk while the next Ready waits for its fsync', async () => {
    const c = (cluster = await DriverCluster.create(['a']));
    const l = await c.waitForLeader();
    await c.write('warm', 'up');
    l.gate.held = true;
    let aDone = false;
    let bDone = false;
    const a = c.put(l, 'a', '1').then(() => (aDone = true));
    for (let i = 0; i < 200 && l.gate.waitingSyncs === 0; i++) await turn();
    expect(l.gate.waitingSyncs).toBe(1);
    // B arrives while A's fsync is held: it waits in the driver's queue.
    const b = c.put(l, 'b', '2').then(() => (bDone = true));
    // A's fsync completes; the next fsync (B's) is held again.
    l.gate.release();
    l.gate.held = true;
    for (let i = 0; i < 50 && !aDone; i++) await turn();
    expect(aDone).toBe(true);
    expect(bDone).toBe(false);
    expect(l.sm.get('a')).toBe('1');
    l.gate.release();
    await Promise.all([a, b]);
    expect(l.sm.get('b')).toBe('2');
  });

  it('never campaigns while canCampaign says no', async () => {
    let allowed = false;
    const n = await lone(new KvStateMachine(), { canCampaign: () => allowed });
    await n.ticks(60);
    expect(n.driver.status().leader).toBe('');
    allowed = true;
    await n.ticks(60);
    expect(n.driver.status().leader).toBe('a');
    await n.close();
  });

  it('records a snapshot and compacts only after the state machine flushed what it describes', async () => {
    let release: () => void = () => {};
    const flushed = new Promise<void>((r) => (release = r));
    let flushes = 0;
    const sm = Object.assign(new KvStateMachine(), {
      flush: () => {
        flushes++;
        return flushed;
      },
    });
    const n = await lone(sm, { snapshotEntries: 5 });
    await n.ticks(40);
    for (let i = 0; i < 10; i++) {
      const p = n.driver.propose(encodeKvCommand({ op: 'put', key: `k${i}`, value: String(i), id: `w${i}` }));
      for (let t = 0; t < 20; t++) await turn();
      await p;
    }
    expect(flushes).toBeGreaterThan(0);
    expect(n.storage.snapshot().meta.index).toBe(1);
    expect(n.storage.firstIndex()).toBe(2);
    release();
    await turn();
    await n.driver.propose(encodeKvCommand({ op: 'put', key: 'last', value: 'x', id: 'wl' }));
    expect(n.storage.snapshot().meta.index).toBeGreaterThan(1);
    await n.close();
  });
});
