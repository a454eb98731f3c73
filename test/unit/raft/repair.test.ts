// A node whose disk lost entries it had acknowledged (FileStorage.damage(), or a cut the
// start-up scan could not see): it must not help elect a leader that lacks them, must never
// lead with its damaged log, and is repaired by the leader resending what it lost.
import { describe, expect, it } from 'vitest';
import { MessageType, StateType, makeMessage } from '../../../src/raft/types.ts';
import { TestCluster } from './cluster.ts';

const IDS3 = ['n1', 'n2', 'n3'];

/** A cluster led by n1 with `writes` committed proposals everywhere. */
function loaded(writes = 6): TestCluster {
  const c = new TestCluster(IDS3, { seed: 3 });
  c.campaign('n1');
  c.stabilize();
  for (let i = 0; i < writes; i++) c.propose('n1', `k${i}`, `v${i}`);
  c.stabilize();
  return c;
}

/** Crashes `id`, drops its last `lost` entries from disk, restarts it with what recovery would report. */
function damage(c: TestCluster, id: string, lost: number, knownTerm: boolean): { index: number; term: number } {
  const r = c.raft(id);
  const index = r.raftLog.lastIndex();
  const term = r.raftLog.lastTerm();
  c.crash(id);
  c.node(id).storage.discardAfter(index - lost);
  c.restart(id, { repair: { index, term: knownTerm ? term : 0 } });
  return { index, term };
}

function voteReply(c: TestCluster, voter: string, index: number, logTerm: number): boolean {
  const term = c.raft(voter).term + 1;
  c.queue = [];
  c.raft(voter).step(makeMessage({ type: MessageType.Vote, from: 'n2', to: voter, term, index, logTerm }));
  c.process(voter);
  const resp = c.queue.find((m) => m.type === MessageType.VoteResp && m.from === voter);
  c.queue = [];
  return resp !== undefined && !resp.reject;
}

describe('raft core: repairing a node that lost acknowledged entries', () => {
  it('it never campaigns, votes only for a log reaching what it lost, and the leader resends the rest', () => {
    const c = loaded();
    const lost = damage(c, 'n3', 3, true);
    expect(c.raft('n3').raftLog.lastIndex()).toBe(lost.index - 3);
    expect(c.raft('n3').status().repairIndex).toBe(lost.index);

    c.isolate('n3');
    const term = c.raft('n3').term;
    c.tick('n3', 200);
    expect(c.raft('n3').state).toBe(StateType.Follower);
    expect(c.raft('n3').term).toBe(term);
    // a candidate missing what n3 lost gets no vote; one that has it does
    expect(voteReply(c, 'n3', lost.index - 1, lost.term)).toBe(false);
    expect(voteReply(c, 'n3', lost.index, lost.term)).toBe(true);

    // the probes raised n3's term: the others need a new election, which n3 sits out
    c.heal();
    let l: string | null = null;
    for (let i = 0; i < 100 && (l === null || c.raft(l).term < c.raft('n3').term); i++) {
      c.tickAll(1);
      l = c.leader();
    }
    expect(l).not.toBeNull();
    expect(l).not.toBe('n3');
    c.tickAll(2);
    expect(c.raft('n3').raftLog.lastIndex()).toBe(c.raft(l!).raftLog.lastIndex());
    expect(c.raft('n3').status().repairIndex).toBe(0);
    expect(c.node('n3').kv.digest).toBe(c.node(l!).kv.digest);
  });

  it('the same leader, which counted those entries as matched, resends them on the flagged rejection', () => {
    const c = loaded();
    damage(c, 'n3', 3, true);
    // no tick, so no heartbeat: only the append of a new entry reaches n3, and its rejection
    // (at an index the leader believes n3 holds) would be dropped as stale without the flag
    c.propose('n1', 'new', 'z');
    c.stabilize();
    expect(c.raft('n3').raftLog.lastIndex()).toBe(c.raft('n1').raftLog.lastIndex());
    expect(c.node('n3').kv.get('new')).toBe('z');
    expect(c.node('n3').kv.digest).toBe(c.node('n1').kv.digest);
    expect(c.raft('n3').status().repairIndex).toBe(0);
  });

  it('with the leader gone, the up-to-date survivor is still elected with the repairing node’s vote', () => {
    const c = loaded();
    damage(c, 'n3', 2, true);
    c.crash('n1');
    c.campaign('n2');
    c.stabilize();
    expect(c.raft('n2').state).toBe(StateType.Leader);
    c.propose('n2', 'after', 'x');
    c.stabilize();
    expect(c.node('n3').kv.get('after')).toBe('x');
    expect(c.raft('n3').status().repairIndex).toBe(0);
  });

  it('when the lost term is unknown it votes for nobody until repaired, even if that stalls elections', () => {
    const c = loaded();
    damage(c, 'n3', 2, false);
    c.crash('n1');
    c.campaign('n2');
    c.stabilize();
    expect(c.raft('n2').state).not.toBe(StateType.Leader);
    // the old leader comes back: a quorum of sound logs elects a leader, which repairs n3
    c.restart('n1');
    const l = c.electLeader();
    expect(['n1', 'n2']).toContain(l);
    c.propose(l, 'after', 'y');
    c.stabilize();
    expect(c.node('n3').kv.get('after')).toBe('y');
    expect(c.raft('n3').status().repairIndex).toBe(0);
  });

  it('a loss the start-up scan could not see is caught by the leader’s heartbeat, not by an exception', () => {
    const c = loaded();
    const last = c.raft('n3').raftLog.lastIndex();
    c.crash('n3');
    c.node('n3').storage.discardAfter(last - 4);
    c.restart('n3');
    expect(c.raft('n3').status().repairIndex).toBe(0);
    // the leader's heartbeat carries a commit n3 no longer holds
    c.tick('n1', 1);
    c.process('n1');
    const hb = c.queue.filter((m) => m.type === MessageType.Heartbeat && m.to === 'n3');
    expect(hb.length).toBeGreaterThan(0);
    c.queue = c.queue.filter((m) => m !== hb[0]);
    c.deliver(hb[0]!);
    expect(c.raft('n3').status().repairIndex).toBeGreaterThan(last - 4);
    c.stabilize();
    expect(c.raft('n3').raftLog.lastIndex()).toBe(c.raft('n1').raftLog.lastIndex());
    expect(c.raft('n3').status().repairIndex).toBe(0);
  });

  it('a lone voter has nobody to repair from and carries on', () => {
    const c = new TestCluster(['solo']);
    c.campaign('solo');
    c.stabilize();
    c.propose('solo', 'a', '1');
    c.stabilize();
    const index = c.raft('solo').raftLog.lastIndex();
    c.crash('solo');
    c.node('solo').storage.discardAfter(index - 1);
    c.restart('solo', { repair: { index, term: 0 } });
    c.campaign('solo');
    c.stabilize();
    expect(c.raft('solo').state).toBe(StateType.Leader);
  });
});
