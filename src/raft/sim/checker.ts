// Safety invariants checked while the simulation runs. Every check throws a
// SimViolation naming the property, so a failing seed says what broke.

import { MemoryStorage } from '../storage.ts';
import { NONE } from '../types.ts';
import type { Raft } from '../raft.ts';
import type { Entry, HardState, NodeId, Snapshot } from '../types.ts';

export class SimViolation extends Error {
  readonly property: string;
  constructor(property: string, detail: string) {
    super(`${property}: ${detail}`);
    this.name = 'SimViolation';
    this.property = property;
  }
}

interface LogRecord {
  type: number;
  data: Uint8Array;
  /** term of the previous entry in the log that held this one, -1 when unknown */
  prevTerm: number;
}

interface CommittedRecord {
  term: number;
  type: number;
  data: Uint8Array;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Checker {
  /** term -> the only leader of that term */
  private readonly leaders = new Map<number, NodeId>();
  /** index -> term -> what any log ever held at (index, term) */
  private readonly logs = new Map<number, Map<number, LogRecord>>();
  /** index -> the entry applied there (applied means committed) */
  private readonly committed: (CommittedRecord | undefined)[] = [];
  /** index -> state machine digest after applying it */
  private readonly digests = new Map<number, number>();
  private readonly checkedLeaders = new Set<string>();
  /** index -> lowest term of a leader that counted it committed */
  private readonly commitTerm: (number | undefined)[] = [];
  private readonly leaderCommitDone = new Map<string, number>();
  /** highest index applied by any node: everything up to it was visibly committed */
  maxCommitted = 0;
  elections = 0;
  readsChecked = 0;

  /** Election safety, and leader completeness the first time a leader is seen. */
  observe(id: NodeId, raft: Raft): void {
    const log = raft.raftLog;
    if (log.applied > log.committed) {
      throw new SimViolation('applied<=committed', `${id} applied ${log.applied} > committed ${log.committed}`);
    }
    if (log.committed > log.lastIndex()) {
      throw new SimViolation('committed<=last', `${id} committed ${log.committed} > last ${log.lastIndex()}`);
    }
    if (!raft.isLeader) return;
    const term = raft.term;
    const other = this.leaders.get(term);
    if (other === undefined) {
      this.leaders.set(term, id);
      this.elections++;
    } else if (other !== id) {
      throw new SimViolation('election safety', `term ${term} has two leaders: ${other} and ${id}`);
    }
    const key = `${id}@${term}`;
    // the term in which each index was first committed: entries committed in earlier
    // terms are the ones every later leader must hold
    const done = this.leaderCommitDone.get(key) ?? 0;
    for (let i = done + 1; i <= log.committed; i++) {
      const t = this.commitTerm[i];
      if (t === undefined || term < t) this.commitTerm[i] = term;
    }
    if (log.committed > done) this.leaderCommitDone.set(key, log.committed);
    if (this.checkedLeaders.has(key)) return;
    this.checkedLeaders.add(key);
    for (let i = this.commitTerm.length - 1; i >= 1; i--) {
      const ct = this.commitTerm[i];
      if (ct === undefined || ct >= term) continue;
      if (i > log.lastIndex()) {
        throw new SimViolation('leader completeness', `${id} leads term ${term} with last index ${log.lastIndex()}; ${i} was committed in term ${ct}`);
      }
      if (i < log.firstIndex() - 1) break;
      const c = this.committed[i];
      const t = log.term(i);
      if (c && t !== null && t !== c.term) {
        throw new SimViolation('leader completeness', `${id} leads term ${term}; its entry ${i} has term ${t}, committed term ${c.term}`);
      }
    }
  }

  /** Log matching, checked on every entry as it becomes durable. */
  onPersist(id: NodeId, entries: Entry[], storage: MemoryStorage): void {
    for (const e of entries) {
      let prevTerm = -1;
      try {
        prevTerm = storage.term(e.index - 1);
      } catch {
        prevTerm = -1;
      }
      let byTerm = this.logs.get(e.index);
      if (!byTerm) {
        byTerm = new Map();
        this.logs.set(e.index, byTerm);
      }
      const rec = byTerm.get(e.term);
      if (!rec) {
        byTerm.set(e.term, { type: e.type, data: e.data, prevTerm });
        continue;
      }
      if (rec.type !== e.type || !bytesEqual(rec.data, e.data)) {
        throw new SimViolation('log matching', `${id} holds a different entry at (${e.index}, term ${e.term})`);
      }
      if (rec.prevTerm >= 0 && prevTerm >= 0 && rec.prevTerm !== prevTerm) {
        throw new SimViolation(
          'log matching',
          `${id} entry (${e.index}, term ${e.term}) follows term ${prevTerm}, elsewhere term ${rec.prevTerm}`,
        );
      }
      if (rec.prevTerm < 0) rec.prevTerm = prevTerm;
    }
  }

  /** Term never goes back and a vote is never changed within a term, across crashes too. */
  onHardState(id: NodeId, prev: HardState, next: HardState): void {
    if (next.term < prev.term) throw new SimViolation('durable term', `${id} term went back ${prev.term} -> ${next.term}`);
    if (next.term === prev.term && prev.vote !== NONE && next.vote !== prev.vote) {
      throw new SimViolation('single vote', `${id} changed its vote in term ${next.term}: ${prev.vote} -> ${next.vote}`);
    }
    if (next.commit < prev.commit) throw new SimViolation('durable commit', `${id} commit went back ${prev.commit} -> ${next.commit}`);
  }

  /** State machine safety: one entry per index, and equal state at equal index. */
  onApply(id: NodeId, e: Entry, digest: number): void {
    const c = this.committed[e.index];
    if (!c) {
      this.committed[e.index] = { term: e.term, type: e.type, data: e.data };
      if (e.index > this.maxCommitted) this.maxCommitted = e.index;
    } else if (c.term !== e.term || c.type !== e.type || !bytesEqual(c.data, e.data)) {
      throw new SimViolation('state machine safety', `${id} applied a different entry at ${e.index} (term ${e.term} vs ${c.term})`);
    }
    this.checkDigest(id, e.index, digest);
  }

  onSnapshotRestored(id: NodeId, snap: Snapshot, digest: number): void {
    const c = this.committed[snap.meta.index];
    if (c && c.term !== snap.meta.term) {
      throw new SimViolation('state machine safety', `${id} installed a snapshot at ${snap.meta.index} with term ${snap.meta.term}, committed ${c.term}`);
    }
    if (snap.meta.index > this.maxCommitted) this.maxCommitted = snap.meta.index;
    this.checkDigest(id, snap.meta.index, digest);
  }

  private checkDigest(id: NodeId, index: number, digest: number): void {
    const d = this.digests.get(index);
    if (d === undefined) this.digests.set(index, digest);
    else if (d !== digest) throw new SimViolation('state machine safety', `${id} state differs from others after index ${index}`);
  }

  /** A read must observe every write that was visibly committed before it was issued. */
  onReadState(id: NodeId, readIndex: number, committedWhenIssued: number): void {
    this.readsChecked++;
    if (readIndex < committedWhenIssued) {
      throw new SimViolation('linearizable read', `${id} read index ${readIndex} < ${committedWhenIssued} committed before the read`);
    }
  }

  isCommitted(index: number): boolean {
    return this.committed[index] !== undefined;
  }
}
