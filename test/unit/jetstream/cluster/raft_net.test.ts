// The Raft transport over the bus: several groups between the same nodes share one inbox per
// node, messages of one turn go out as one envelope, big envelopes travel in chunks, and a
// foreign version or garbage is dropped and counted.

import { describe, expect, it } from 'vitest';
import { InMemoryBus } from '../../../../src/jetstream/bus.ts';
import { RaftNet, raftInbox, RAFT_NET_VERSION } from '../../../../src/jetstream/cluster/raft_net.ts';
import { RaftDriver } from '../../../../src/raft/driver.ts';
import { KvStateMachine, encodeKvCommand } from '../../../../src/raft/kv.ts';
import { seededRandom } from '../../../../src/raft/prng.ts';
import { MemoryBackedStorage, MemoryStorage } from '../../../../src/raft/storage.ts';
import type { AsyncRaftStorage, LogDamage, PersistBatch } from '../../../../src/raft/storage.ts';
import { Packr } from 'msgpackr';
import { FakeScheduler } from '../../../support/fake_scheduler.ts';

/** Durable at once: what these tests exercise is the network. */
class InstantStorage extends MemoryBackedStorage implements AsyncRaftStorage {
  constructor(voters: string[]) {
    super(MemoryStorage.bootstrap(voters));
  }
  persist(batch: PersistBatch, done: (err: Error | null) => void): void {
    this.mem.persist(batch);
    done(null);
  }
  createSnapshot(index: number, conf: { voters: string[]; removed: string[] }, data: Uint8Array) {
    return this.mem.createSnapshot(index, conf, data);
  }
  compact(index: number): void {
    this.mem.compact(index);
  }
  damage(): LogDamage | null {
    return null;
  }
  async close(): Promise<void> {}
}

const NODES = ['a', 'b', 'c'];
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function makeNodes(bus: InMemoryBus, maxPayload = 1024 * 1024) {
  const clock = new FakeScheduler();
  const nets = new Map(NODES.map((n) => [n, new RaftNet(bus, n, { maxPayload, now: () => clock.now() })]));
  const group = (name: string) =>
    new Map(
      NODES.map((n, i) => {
        const sm = new KvStateMachine();
        const d = new RaftDriver({
          id: n,
          group: name,
          storage: new InstantStorage(NODES),
          transport: nets.get(n)!.transport(name),
          scheduler: clock,
          stateMachine: sm,
          random: seededRandom(i + 1),
          tickMs: 10,
        });
        d.start();
        return [n, { d, sm }];
      }),
    );
  return { clock, nets, group };
}

async function settle(clock: FakeScheduler, rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await turn();
    clock.advance(10);
  }
}

describe('RaftNet', () => {
  it('carries two groups between the same nodes over one inbox each', async () => {
    const bus = new InMemoryBus();
    const { clock, nets, group } = makeNodes(bus);
    const g1 = group('G1');
    const g2 = group('G2');
    g1.get('a')!.d.campaign();
    g2.get('b')!.d.campaign();
    await settle(clock);
    expect(g1.get('c')!.d.status().leader).toBe('a');
    expect(g2.get('c')!.d.status().leader).toBe('b');
    await Promise.all([g1.get('a')!.d.propose(encodeKvCommand({ op: 'put', key: 'k', value: '1', id: '1' })), settle(clock)]);
    await Promise.all([g2.get('b')!.d.propose(encodeKvCommand({ op: 'put', key: 'k', value: '2', id: '2' })), settle(clock)]);
    await settle(clock);
    for (const n of NODES) {
      expect(g1.get(n)!.sm.get('k')).toBe('1');
      expect(g2.get(n)!.sm.get('k')).toBe('2');
    }
    // Envelopes, not messages: fewer publishes than Raft messages.
    const a = nets.get('a')!.stats;
    expect(a.sent).toBeLessThan(a.msgsOut);
    expect(a.badEnvelopes).toBe(0);
  });

  it('splits an envelope larger than the payload limit into chunks and rebuilds it', async () => {
    const bus = new InMemoryBus();
    const { clock, nets, group } = makeNodes(bus, 4096);
    const g = group('BIG');
    g.get('a')!.d.campaign();
    await settle(clock);
    const value = 'x'.repeat(20_000);
    await Promise.all([g.get('a')!.d.propose(encodeKvCommand({ op: 'put', key: 'big', value, id: 'b1' })), settle(clock)]);
    await settle(clock);
    for (const n of NODES) expect(g.get(n)!.sm.get('big')).toBe(value);
    expect(nets.get('a')!.stats.chunksOut).toBeGreaterThan(4);
    let biggest = 0;
    bus.subscribe(raftInbox('b'), null, (_s, _r, _h, d) => (biggest = Math.max(biggest, d.length)));
    await Promise.all([g.get('a')!.d.propose(encodeKvCommand({ op: 'put', key: 'big2', value, id: 'b2' })), settle(clock)]);
    expect(biggest).toBeGreaterThan(0);
    expect(biggest).toBeLessThanOrEqual(4096);
  });

  it('drops and counts envelopes of another version and undecodable ones', () => {
    const bus = new InMemoryBus();
    const errors: Error[] = [];
    const net = new RaftNet(bus, 'a', { maxPayload: 65536, onError: (e) => errors.push(e) });
    net.transport('G').listen('a', () => {
      throw new Error('must not be called');
    });
    const packr = new Packr({ useRecords: false });
    bus.publish(raftInbox('a'), null, null, packr.pack([RAFT_NET_VERSION + 1, 1, 'b', []]));
    bus.publish(raftInbox('a'), null, null, Buffer.from([0xc1, 0xff, 0x00]));
    expect(net.stats.badEnvelopes).toBe(2);
    expect(errors[0]!.message).toContain(`this node speaks ${RAFT_NET_VERSION}`);
  });
});
