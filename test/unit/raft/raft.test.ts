import { describe, expect, it } from 'vitest';
import { RaftError, RaftErrorCode } from '../../../src/raft/errors.ts';
import { encodeKvCommand } from '../../../src/raft/kv.ts';
import { seededRandom } from '../../../src/raft/prng.ts';
import { Raft } from '../../../src/raft/raft.ts';
import { MemoryStorage } from '../../../src/raft/storage.ts';
import { ConfChangeType, MessageType, StateType } from '../../../src/raft/types.ts';
import { TestCluster, raftErrorCode } from './cluster.ts';

const IDS3 = ['n1', 'n2', 'n3'];

const errCode = raftErrorCode;

describe('raft core: elections', () => {
  it('elects one leader and replicates a proposal to all', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    expect(c.raft('n1').state).toBe(StateType.Leader);
    expect(c.raft('n2').lead).toBe('n1');
    c.propose('n1', 'x', '1');
    c.stabilize();
    for (const id of IDS3) expect(c.node(id).kv.get('x')).toBe('1');
  });

  it('elects a leader from ticks alone, exactly one per term', () => {
    const c = new TestCluster(IDS3, { seed: 7 });
    const l = c.electLeader();
    const leaders = IDS3.filter((id) => c.raft(id).isLeader);
    expect(leaders).toEqual([l]);
  });

  it('a single-node group commits only after its own entries are persisted', () => {
    const s = MemoryStorage.bootstrap(['solo']);
    const r = new Raft({ id: 'solo', storage: s, random: seededRandom(1) });
    r.campaign();
    expect(r.isLeader).toBe(true);
    let rd = r.ready();
    expect(rd.entries.length).toBe(1);
    expect(rd.committedEntries.length).toBe(0); // not durable yet, so not committed
    s.persist(rd);
    r.advance(rd);
    rd = r.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([2]);
    r.advance(rd);
  });

  it('refuses inputs while a Ready is outstanding', () => {
    const r = new Raft({ id: 'solo', storage: MemoryStorage.bootstrap(['solo']), random: seededRandom(1) });
    r.campaign();
    const rd = r.ready();
    expect(errCode(() => r.tick())).toBe(RaftErrorCode.ReadyOutstanding);
    r.advance(rd);
    expect(errCode(() => r.tick())).toBe('ok');
  });

  it('a candidate with a stale log cannot win', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.isolate('n3');
    c.propose('n1', 'a', '1');
    c.stabilize();
    c.heal();
    c.crash('n1');
    // n3 lacks the entry: n2 must refuse it
    c.raft('n3').campaign();
    c.stabilize();
    expect(c.raft('n3').isLeader).toBe(false);
    c.campaign('n2');
    c.stabilize();
    expect(c.raft('n2').isLeader).toBe(true);
  });
});

describe('raft core: pre-vote and check-quorum', () => {
  it('a partitioned node rejoining does not depose a healthy leader', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    const term = c.raft('n1').term;
    c.isolate('n3');
    for (let i = 0; i < 100; i++) c.tickAll();
    // with pre-vote, n3 never raised its term while cut off
    expect(c.raft('n3').term).toBe(term);
    c.heal();
    c.tickAll(30);
    expect(c.raft('n1').isLeader).toBe(true);
    expect(c.raft('n1').term).toBe(term);
  });

  it('without pre-vote a rejoining node would disrupt (control case)', () => {
    const c = new TestCluster(IDS3, { preVote: false, checkQuorum: false });
    c.campaign('n1');
    c.stabilize();
    const term = c.raft('n1').term;
    c.isolate('n3');
    c.tick('n3', 40);
    expect(c.raft('n3').term).toBeGreaterThan(term);
    c.heal();
    c.tickAll(30);
    expect(c.raft('n1').term).toBeGreaterThan(term);
  });

  it('a leader that cannot reach a quorum steps down', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.isolate('n1');
    c.tick('n1', 25);
    expect(c.raft('n1').state).toBe(StateType.Follower);
    expect(c.raft('n1').lead).toBe('');
  });

  it('followers in contact with a leader ignore vote requests (lease)', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    const term = c.raft('n2').term;
    c.raft('n2').step({
      type: MessageType.Vote, from: 'n3', to: 'n2', term: term + 5, logTerm: 99, index: 99,
      entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: null, context: '',
    });
    expect(c.raft('n2').term).toBe(term);
  });
});

describe('raft core: proposals', () => {
  it('followers forward proposals to the leader', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.propose('n2', 'k', 'v');
    c.stabilize();
    expect(c.node('n3').kv.get('k')).toBe('v');
  });

  it('followers reject with the leader identity when forwarding is off', () => {
    const c = new TestCluster(IDS3, { forwardProposals: false });
    c.campaign('n1');
    c.stabilize();
    try {
      c.propose('n2', 'k', 'v');
      expect.unreachable();
    } catch (e) {
      expect((e as RaftError).code).toBe(RaftErrorCode.NotLeader);
      expect((e as RaftError).leader).toBe('n1');
    }
  });

  it('proposals without a leader fail fast', () => {
    const c = new TestCluster(IDS3);
    expect(errCode(() => c.propose('n1', 'k', 'v'))).toBe(RaftErrorCode.NoLeader);
  });

  it('memory stays bounded when quorum is lost: proposals are rejected past the cap', () => {
    const c = new TestCluster(IDS3, { maxUncommittedBytes: 2000, checkQuorum: false });
    c.campaign('n1');
    c.stabilize();
    c.isolate('n1');
    let accepted = 0;
    let code = '';
    for (let i = 0; i < 1000 && code === ''; i++) {
      try {
        c.raft('n1').propose(encodeKvCommand({ op: 'put', key: 'k', value: 'x'.repeat(50), id: `p${i}` }));
        accepted++;
      } catch (e) {
        code = (e as RaftError).code;
      }
    }
    expect(code).toBe(RaftErrorCode.UncommittedLimit);
    expect(accepted).toBeLessThan(40);
    // after healing, the backlog commits and proposals are accepted again
    c.processAll();
    c.heal();
    c.tickAll(5);
    expect(c.node('n2').kv.applied).toBe(c.raft('n1').raftLog.committed);
    expect(errCode(() => c.propose('n1', 'k', 'again'))).toBe('ok');
  });

  it('pipelines appends up to the inflight limit, then waits for acks', () => {
    const c = new TestCluster(IDS3, { maxInflightMsgs: 3, maxSizePerMsgBytes: 1 });
    c.campaign('n1');
    c.stabilize();
    for (let i = 0; i < 10; i++) c.raft('n1').propose(encodeKvCommand({ op: 'put', key: 'k', value: `${i}`, id: `${i}` }));
    c.process('n1');
    const apps = c.queue.filter((m) => m.type === MessageType.App && m.to === 'n2');
    // one entry per message (size limit), at most 3 in flight
    expect(apps.length).toBe(3);
    expect(apps.every((m) => m.entries.length === 1)).toBe(true);
    c.stabilize();
    expect(c.node('n2').kv.get('k')).toBe('9');
  });

  it('batches many entries into one append when they fit', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.cutOneWay('n1', 'n2');
    for (let i = 0; i < 20; i++) c.raft('n1').propose(encodeKvCommand({ op: 'put', key: 'k', value: `${i}`, id: `${i}` }));
    c.stabilize();
    c.heal();
    c.queue = [];
    c.tick('n1'); // heartbeat -> response -> one catch-up append
    c.stabilize();
    expect(c.node('n2').kv.get('k')).toBe('19');
  });
});

describe('raft core: read index', () => {
  it('serves a linearizable read only after a heartbeat quorum', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.propose('n1', 'x', '1');
    c.stabilize();
    c.raft('n1').readIndex('req1');
    c.process('n1');
    expect(c.node('n1').readStates).toEqual([]);
    c.stabilize();
    expect(c.node('n1').readStates).toEqual([{ index: c.raft('n1').raftLog.committed, context: 'req1' }]);
  });

  it('a follower read is forwarded to the leader', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.raft('n3').readIndex('r');
    c.stabilize();
    expect(c.node('n3').readStates.map((r) => r.context)).toEqual(['r']);
  });

  it('a deposed leader cannot confirm reads', () => {
    const c = new TestCluster(IDS3, { checkQuorum: false });
    c.campaign('n1');
    c.stabilize();
    c.isolate('n1');
    c.raft('n1').readIndex('stale');
    c.stabilize();
    c.tick('n1', 5);
    c.stabilize();
    expect(c.node('n1').readStates).toEqual([]);
  });
});

describe('raft core: leader transfer', () => {
  it('hands leadership to a caught-up follower', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.propose('n1', 'a', '1');
    c.stabilize();
    c.raft('n1').transferLeader('n2');
    c.stabilize();
    expect(c.raft('n2').isLeader).toBe(true);
    expect(c.raft('n1').lead).toBe('n2');
  });

  it('catches the transferee up first, and refuses proposals meanwhile', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.isolate('n3');
    c.propose('n1', 'a', '1');
    c.stabilize();
    c.heal();
    c.raft('n1').transferLeader('n3');
    expect(errCode(() => c.propose('n1', 'b', '2'))).toBe(RaftErrorCode.TransferInProgress);
    c.stabilize();
    expect(c.raft('n3').isLeader).toBe(true);
    expect(c.node('n3').kv.get('a')).toBe('1');
  });

  it('aborts a transfer that does not finish within an election timeout', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.isolate('n3');
    c.raft('n1').transferLeader('n3');
    c.tickAll(12);
    expect(c.raft('n1').isLeader).toBe(true);
    expect(errCode(() => c.propose('n1', 'b', '2'))).toBe('ok');
  });
});

describe('raft core: membership', () => {
  it('adds a node, which catches up, then removes another; removed ids are never reused', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.propose('n1', 'a', '1');
    c.stabilize();
    c.raft('n1').proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 'n4' });
    c.addNode('n4');
    c.stabilize();
    c.tickAll(3);
    expect(c.raft('n1').confState().voters).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(c.node('n4').kv.get('a')).toBe('1');
    expect(c.raft('n4').confState().voters).toContain('n4');

    c.raft('n1').proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 'n2' });
    c.stabilize();
    c.tickAll(2);
    expect(c.raft('n1').confState()).toEqual({ voters: ['n1', 'n3', 'n4'], removed: ['n2'] });
    expect(errCode(() => c.raft('n1').proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 'n2' }))).toBe(
      RaftErrorCode.InvalidConfChange,
    );
    // the group of three still commits with n2 gone
    c.crash('n2');
    c.propose('n1', 'b', '2');
    c.stabilize();
    expect(c.node('n4').kv.get('b')).toBe('2');
  });

  it('allows one membership change at a time', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.isolate('n1');
    c.raft('n1').proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 'n4' });
    expect(errCode(() => c.raft('n1').proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 'n5' }))).toBe(
      RaftErrorCode.ConfChangePending,
    );
  });

  it('a new leader may not change membership before committing in its term', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.raft('n1').transferLeader('n2');
    c.process('n1');
    // deliver everything except the new leader's appends, so its first entry stays uncommitted
    for (let i = 0; i < 10; i++) {
      const q = c.queue;
      c.queue = [];
      for (const m of q) if (!(m.from === 'n2' && m.type === MessageType.App)) c.deliver(m);
    }
    expect(c.raft('n2').isLeader).toBe(true);
    expect(errCode(() => c.raft('n2').proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 'n9' }))).toBe(
      RaftErrorCode.ConfChangePending,
    );
  });

  it('a leader that removes itself steps down and the rest elect a new one', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.raft('n1').proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 'n1' });
    c.stabilize();
    expect(c.raft('n1').isLeader).toBe(false);
    c.crash('n1');
    const l = c.electLeader();
    expect(['n2', 'n3']).toContain(l);
    expect(c.raft(l).confState().voters).toEqual(['n2', 'n3']);
  });
});

describe('raft core: snapshots', () => {
  it('a follower far behind gets the snapshot and then the tail', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    c.isolate('n3');
    for (let i = 0; i < 30; i++) c.propose('n1', `k${i}`, `${i}`);
    c.stabilize();
    c.compact('n1');
    c.compact('n2');
    c.propose('n1', 'tail', 'yes');
    c.stabilize();
    c.heal();
    c.tickAll(3);
    const n3 = c.node('n3');
    expect(n3.storage.snapshot().meta.index).toBeGreaterThan(30);
    expect(n3.kv.get('k29')).toBe('29');
    expect(n3.kv.get('tail')).toBe('yes');
    expect(n3.kv.applied).toBe(c.raft('n1').raftLog.committed);
  });

  it('restarts from snapshot plus log and applies only what is committed', () => {
    const c = new TestCluster(IDS3);
    c.campaign('n1');
    c.stabilize();
    for (let i = 0; i < 10; i++) c.propose('n1', `k${i}`, `${i}`);
    c.stabilize();
    c.compact('n2', 3);
    c.propose('n1', 'after', '1');
    c.stabilize();
    c.crash('n2');
    c.restart('n2');
    expect(c.node('n2').kv.get('k9')).toBe('9');
    expect(c.node('n2').kv.get('after')).toBe('1');
  });
});
