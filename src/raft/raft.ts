// The Raft consensus core: a deterministic state machine with no clock, socket,
// timer or file. Inputs: step(message), tick(), propose(), proposeConfChange(),
// transferLeader(), readIndex(). Output: a Ready batch that the driver persists,
// sends and applies, then acknowledges with advance().

import { RaftError, RaftErrorCode, isRaftError } from './errors.ts';
import { RaftLog } from './log.ts';
import { Progress, ProgressState } from './progress.ts';
import { ReadOnly } from './read_only.ts';
import type { ReadRequest } from './read_only.ts';
import type { Random } from './prng.ts';
import type { Storage } from './storage.ts';
import {
  CAMPAIGN_TRANSFER,
  ConfChangeType,
  LOG_LOST,
  EMPTY_DATA,
  EntryType,
  MessageType,
  NONE,
  StateType,
  decodeConfChange,
  encodeConfChange,
  entrySize,
  makeMessage,
  voteResponseType,
} from './types.ts';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ReadState,
  Snapshot,
} from './types.ts';

export interface RaftConfig {
  id: NodeId;
  storage: Storage;
  /** seeded randomness for election timeouts */
  random: Random;
  /** ticks without hearing from a leader before campaigning (randomized up to 2x) */
  electionTicks?: number;
  /** ticks between leader heartbeats; must be well below electionTicks */
  heartbeatTicks?: number;
  /** index the state machine already reflects after a restart (default: snapshot index) */
  applied?: number;
  maxSizePerMsgBytes?: number;
  /** appends in flight per follower while replicating (pipelining window) */
  maxInflightMsgs?: number;
  /** cap on proposed-but-uncommitted bytes on a leader; beyond it proposals fail */
  maxUncommittedBytes?: number;
  maxCommittedBytesPerReady?: number;
  maxPendingReads?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** followers forward proposals to the leader; when false they reject with NotLeader */
  forwardProposals?: boolean;
  /**
   * Start-up found log entries missing (storage damage, e.g. FileStorage.damage()): up to
   * `index`, of `term` (0 if unknown), may have been acknowledged before. Until the node has
   * committed an entry at or past `index` it does not campaign, grants votes only to
   * candidates whose log reaches (term, index) (none when the term is unknown), and tells
   * leaders with each rejection that its log is shorter than they think, so they resend.
   */
  repair?: { index: number; term: number } | null;
  /**
   * Asked before this node campaigns (elections and leader transfers alike): false keeps it a
   * follower, e.g. while its state machine still fetches data a snapshot only described.
   */
  canCampaign?: () => boolean;
}

export const RAFT_DEFAULTS = {
  electionTicks: 10,
  heartbeatTicks: 1,
  /** one append carries at most ~1 MiB so a slow follower does not block a route */
  maxSizePerMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  /** ~16 MiB of proposals may wait for a quorum before clients get errors */
  maxUncommittedBytes: 16 * 1024 * 1024,
  maxCommittedBytesPerReady: 8 * 1024 * 1024,
  maxPendingReads: 4096,
} as const;

export interface SoftState {
  lead: NodeId;
  state: StateType;
}

export interface Ready {
  /** set when leader or role changed (informational, not persisted) */
  softState: SoftState | null;
  /** persist when non-null */
  hardState: HardState | null;
  /** persist (after `snapshot`), replacing any conflicting suffix */
  entries: Entry[];
  /** persist and restore the state machine from it before applying committedEntries */
  snapshot: Snapshot | null;
  /** apply in order, after the persistence above */
  committedEntries: Entry[];
  /** send after the persistence above */
  messages: Message[];
  readStates: ReadState[];
  /** whether persistence needs an fsync (entries, snapshot, or term/vote changed) */
  mustSync: boolean;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lead: NodeId;
  state: StateType;
  firstIndex: number;
  lastIndex: number;
  voters: NodeId[];
  progress: Record<NodeId, ProgressStatus>;
  /** lost entries up to this index are still being repaired from a leader (0: none) */
  repairIndex: number;
}

type VoteResult = 'won' | 'lost' | 'pending';
const CampaignKind = { PreElection: 0, Election: 1, Transfer: 2 } as const;
type CampaignKind = (typeof CampaignKind)[keyof typeof CampaignKind];

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  state: StateType = StateType.Follower;
  readonly raftLog: RaftLog;

  private readonly random: Random;
  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private readonly maxSizePerMsg: number;
  private readonly maxInflight: number;
  private readonly maxUncommittedBytes: number;
  private readonly maxPendingReads: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly forwardProposals: boolean;
  private readonly canCampaign: () => boolean;

  private voters = new Set<NodeId>();
  private removed = new Set<NodeId>();
  private prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = NONE;
  /** index of the last conf change proposed by this leader; one at a time */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  private readOnly = new ReadOnly();
  /** read requests waiting for this leader's first commit in its term */
  private pendingReadIndexMessages: Message[] = [];
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private readyOutstanding = false;
  /** lost entries reach up to here (0: nothing lost); see RaftConfig.repair */
  private repairIndex = 0;
  private repairTerm = 0;

  constructor(config: RaftConfig) {
    this.id = config.id;
    if (this.id === NONE) throw new RaftError(RaftErrorCode.Internal, 'raft: id must not be empty');
    this.random = config.random;
    this.electionTimeout = config.electionTicks ?? RAFT_DEFAULTS.electionTicks;
    this.heartbeatTimeout = config.heartbeatTicks ?? RAFT_DEFAULTS.heartbeatTicks;
    if (this.heartbeatTimeout <= 0 || this.electionTimeout <= this.heartbeatTimeout) {
      throw new RaftError(RaftErrorCode.Internal, 'raft: electionTicks must exceed heartbeatTicks > 0');
    }
    this.maxSizePerMsg = config.maxSizePerMsgBytes ?? RAFT_DEFAULTS.maxSizePerMsgBytes;
    this.maxInflight = config.maxInflightMsgs ?? RAFT_DEFAULTS.maxInflightMsgs;
    this.maxUncommittedBytes = config.maxUncommittedBytes ?? RAFT_DEFAULTS.maxUncommittedBytes;
    this.maxPendingReads = config.maxPendingReads ?? RAFT_DEFAULTS.maxPendingReads;
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.forwardProposals = config.forwardProposals ?? true;
    this.canCampaign = config.canCampaign ?? (() => true);
    this.raftLog = new RaftLog(config.storage, config.maxCommittedBytesPerReady ?? RAFT_DEFAULTS.maxCommittedBytesPerReady);

    const { hardState, confState } = config.storage.initialState();
    this.setConf(confState);
    if (hardState.commit > this.raftLog.lastIndex()) {
      throw new RaftError(RaftErrorCode.Corrupt, `hard state commit ${hardState.commit} beyond last index ${this.raftLog.lastIndex()}`);
    }
    this.raftLog.committed = Math.max(this.raftLog.committed, hardState.commit);
    this.term = hardState.term;
    this.vote = hardState.vote;
    const applied = config.applied ?? 0;
    // a state machine that applied an entry proves it committed, whatever the (unsynced) commit index says
    if (applied > this.raftLog.committed && applied <= this.raftLog.lastIndex()) this.raftLog.committed = applied;
    if (applied > this.raftLog.applied) {
      // the state machine already reflects these entries: replay their conf changes
      const lo = this.raftLog.applied + 1;
      for (const e of this.raftLog.slice(lo, applied + 1, Number.MAX_SAFE_INTEGER)) {
        if (e.type === EntryType.ConfChange) this.applyConfChangeToConfig(decodeConfChange(e.data));
      }
      this.raftLog.appliedTo(applied);
    }
    if (config.repair && config.repair.index > 0) {
      this.repairIndex = config.repair.index;
      this.repairTerm = config.repair.term;
    }
    this.becomeFollower(this.term, NONE);
    this.prevHardState = this.hardState();
    this.prevSoftState = this.softState();
  }

  // ---------------------------------------------------------------- public API

  get isLeader(): boolean {
    return this.state === StateType.Leader;
  }

  tick(): void {
    this.assertNoReady();
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  step(m: Message): void {
    this.assertNoReady();
    if (m.term === 0 && isNetworkOnly(m.type)) return; // malformed: never trust a zero term from the wire
    this.stepInner(m);
  }

  /** Proposes `data`; throws RaftError when it cannot be accepted now. */
  propose(data: Uint8Array): void {
    this.assertNoReady();
    const err = this.handleProposal(
      makeMessage({ type: MessageType.Prop, from: this.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] }),
    );
    if (err) throw err;
  }

  /** Adds or removes one voter. Takes effect when committed; one change at a time. */
  proposeConfChange(cc: ConfChange): void {
    this.assertNoReady();
    const err = this.handleProposal(
      makeMessage({
        type: MessageType.Prop,
        from: this.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }],
      }),
    );
    if (err) throw err;
  }

  /** Asks the leader to hand leadership to `to` (used for stepdown). */
  transferLeader(to: NodeId): void {
    this.assertNoReady();
    this.stepInner(makeMessage({ type: MessageType.TransferLeader, from: this.id, context: to }));
  }

  /**
   * Requests a linearizable read. A ReadState with `context` appears in a later Ready;
   * serve the read once the state machine has applied its index.
   */
  readIndex(context: string): void {
    this.assertNoReady();
    if (this.state === StateType.Leader) {
      const err = this.handleReadIndex(makeMessage({ type: MessageType.ReadIndex, from: this.id, context }));
      if (err) throw err;
      return;
    }
    if (this.lead === NONE || this.state !== StateType.Follower) {
      throw new RaftError(RaftErrorCode.NoLeader, 'read index: no leader');
    }
    this.send({ type: MessageType.ReadIndex, to: this.lead, context });
  }

  /** Starts an election now (tests, and a driver that wants a fast first election). */
  campaign(): void {
    this.assertNoReady();
    this.stepInner(makeMessage({ type: MessageType.Hup, from: this.id }));
  }

  reportUnreachable(id: NodeId): void {
    this.assertNoReady();
    this.stepInner(makeMessage({ type: MessageType.Unreachable, from: id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.assertNoReady();
    this.stepInner(makeMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort(), removed: [...this.removed].sort() };
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  status(): Status {
    const progress: Record<NodeId, ProgressStatus> = {};
    if (this.state === StateType.Leader) {
      for (const [id, pr] of this.prs) progress[id] = { match: pr.match, next: pr.next, state: pr.state };
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      lead: this.lead,
      state: this.state,
      firstIndex: this.raftLog.firstIndex(),
      lastIndex: this.raftLog.lastIndex(),
      voters: [...this.voters].sort(),
      progress,
      repairIndex: this.repairing() ? this.repairIndex : 0,
    };
  }

  hasReady(): boolean {
    if (this.msgs.length > 0 || this.readStates.length > 0) return true;
    if (this.raftLog.unstable.entries.length > 0 || this.raftLog.unstable.snapshot) return true;
    if (this.raftLog.hasNextCommittedEntries()) return true;
    const hs = this.prevHardState;
    if (hs.term !== this.term || hs.vote !== this.vote || hs.commit !== this.raftLog.committed) return true;
    const ss = this.prevSoftState;
    return ss.lead !== this.lead || ss.state !== this.state;
  }

  ready(): Ready {
    this.assertNoReady();
    const hs = this.hardState();
    const prev = this.prevHardState;
    const hsChanged = hs.term !== prev.term || hs.vote !== prev.vote || hs.commit !== prev.commit;
    const ss = this.softState();
    const ssChanged = ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state;
    const entries = this.raftLog.unstable.entries.slice();
    const snapshot = this.raftLog.unstable.snapshot;
    const rd: Ready = {
      softState: ssChanged ? ss : null,
      hardState: hsChanged ? hs : null,
      entries,
      snapshot,
      committedEntries: this.raftLog.nextCommittedEntries(),
      messages: this.msgs,
      readStates: this.readStates,
      mustSync: entries.length > 0 || snapshot !== null || hs.term !== prev.term || hs.vote !== prev.vote,
    };
    this.msgs = [];
    this.readStates = [];
    this.readyOutstanding = true;
    return rd;
  }

  /** Acknowledges that `rd` was persisted (durably), its messages sent and entries applied. */
  advance(rd: Ready): void {
    if (!this.readyOutstanding) throw new RaftError(RaftErrorCode.Internal, 'advance without an outstanding ready');
    this.readyOutstanding = false;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.softState) this.prevSoftState = rd.softState;
    if (rd.snapshot) {
      this.raftLog.stableSnapTo(rd.snapshot.meta.index);
      if (this.raftLog.applied < rd.snapshot.meta.index) this.raftLog.appliedTo(rd.snapshot.meta.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      this.raftLog.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      this.raftLog.appliedTo(rd.committedEntries[rd.committedEntries.length - 1]!.index);
      this.reduceUncommittedBytes(rd.committedEntries);
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.ConfChange) this.applyConfChange(decodeConfChange(e.data));
      }
    }
    if (this.state === StateType.Leader) {
      // the leader counts its own log only once it is durable
      const self = this.prs.get(this.id);
      if (self && self.maybeUpdate(this.raftLog.persistedLastIndex()) && this.maybeCommit()) {
        this.releasePendingReadIndexMessages();
        this.bcastAppend();
      }
    }
  }

  // ---------------------------------------------------------------- stepping

  private stepInner(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context === CAMPAIGN_TRANSFER;
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // a node that heard from a live leader recently ignores disruptive campaigns
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // pre-votes never change our term
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // granted pre-vote carries the future term; we move there only when we campaign
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // tell a stale leader about the newer term so it steps down
        this.send({ type: MessageType.AppResp, to: m.from });
      } else if (m.type === MessageType.PreVote) {
        this.send({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(CampaignKind.Election);
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm) && this.repairAllowsVote(m)) {
          this.send({ type: voteResponseType(m.type), to: m.from, term: m.term });
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true });
        }
        return;
      }
    }
    switch (this.state) {
      case StateType.Leader:
        this.stepLeader(m);
        return;
      case StateType.Candidate:
      case StateType.PreCandidate:
        this.stepCandidate(m);
        return;
      default:
        this.stepFollower(m);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat(this.readOnly.lastPendingContext() ?? '');
        return;
      case MessageType.CheckQuorum:
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, NONE);
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
        return;
      case MessageType.Prop:
        this.handleProposal(m);
        return;
      case MessageType.ReadIndex:
        this.handleReadIndex(m);
        return;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m.context);
        return;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        return;
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // wait for the next heartbeat response before probing again
        pr.probeSent = true;
        return;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject && m.context === LOG_LOST && m.rejectHint < pr.match) {
      // the follower lost entries we counted as matched: start over from what it still has
      pr.match = m.rejectHint;
      pr.becomeProbe();
      pr.next = pr.match + 1;
      this.sendAppend(m.from);
      return;
    }
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe))) return;
    switch (pr.state) {
      case ProgressState.Probe:
        pr.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (pr.match + 1 >= this.raftLog.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case ProgressState.Replicate:
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // pipelining: keep the window full
    while (this.maybeSendAppend(m.from, false)) {
      // sends until paused or nothing left
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.send({ type: MessageType.TimeoutNow, to: m.from });
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
    if (m.context === '') return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks) return;
    if (this.countVoters(acks) < this.quorum()) return;
    for (const req of this.readOnly.advance(m.context)) this.respondToRead(req);
  }

  private handleTransferLeader(transferee: NodeId): void {
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id || !this.voters.has(transferee)) return;
    // the transfer must finish within one election timeout
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    const pr = this.prs.get(transferee)!;
    if (pr.match === this.raftLog.lastIndex()) this.send({ type: MessageType.TimeoutNow, to: transferee });
    else this.sendAppend(transferee);
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        this.handleProposal(m);
        return;
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteResp: {
        const res = this.poll(m.from, !m.reject);
        if (res === 'won') {
          if (this.state === StateType.PreCandidate) this.campaign_(CampaignKind.Election);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        this.handleProposal(m);
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead !== NONE && m.from === this.id) {
          this.send({ type: MessageType.TransferLeader, to: this.lead, context: m.context });
        }
        return;
      case MessageType.TimeoutNow:
        this.hup(CampaignKind.Transfer);
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context });
        return;
    }
  }

  // ---------------------------------------------------------------- proposals & reads

  private handleProposal(m: Message): RaftError | null {
    if (m.entries.length === 0) return new RaftError(RaftErrorCode.Internal, 'empty proposal');
    if (this.state === StateType.Leader) {
      if (!this.voters.has(this.id)) return new RaftError(RaftErrorCode.Removed, 'this node was removed');
      if (this.leadTransferee !== NONE) {
        return new RaftError(RaftErrorCode.TransferInProgress, `leadership transfer to ${this.leadTransferee} in progress`, this.id);
      }
      const li = this.raftLog.lastIndex();
      const ents: Entry[] = [];
      let confAt = 0;
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i]!;
        if (e.type === EntryType.ConfChange) {
          const err = this.validateConfChange(e.data);
          if (err) return err;
          if (confAt !== 0) return new RaftError(RaftErrorCode.ConfChangePending, 'one membership change at a time');
          confAt = li + 1 + i;
        }
        ents.push({ term: this.term, index: li + 1 + i, type: e.type, data: e.data });
      }
      if (!this.increaseUncommittedBytes(ents)) {
        return new RaftError(
          RaftErrorCode.UncommittedLimit,
          `too many uncommitted bytes (${this.uncommittedBytes}); quorum may be lost`,
          this.id,
        );
      }
      if (confAt !== 0) this.pendingConfIndex = confAt;
      this.raftLog.append(ents);
      this.bcastAppend();
      return null;
    }
    if (this.state !== StateType.Follower || this.lead === NONE) {
      return new RaftError(RaftErrorCode.NoLeader, 'no leader to accept the proposal');
    }
    if (!this.forwardProposals) {
      return new RaftError(RaftErrorCode.NotLeader, `not the leader; leader is ${this.lead}`, this.lead);
    }
    // forward only our own proposals: a proposal forwarded to a stale leader is dropped, never bounced
    if (m.from !== this.id) return null;
    this.send({ type: MessageType.Prop, to: this.lead, entries: m.entries });
    return null;
  }

  private validateConfChange(data: Uint8Array): RaftError | null {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(data);
    } catch (e) {
      return new RaftError(RaftErrorCode.InvalidConfChange, (e as Error).message);
    }
    if (this.pendingConfIndex > this.raftLog.applied) {
      return new RaftError(RaftErrorCode.ConfChangePending, 'a membership change is still pending', this.id);
    }
    if (cc.nodeId === NONE) return new RaftError(RaftErrorCode.InvalidConfChange, 'empty node id');
    if (cc.type === ConfChangeType.AddNode) {
      if (this.removed.has(cc.nodeId)) {
        return new RaftError(RaftErrorCode.InvalidConfChange, `node id ${cc.nodeId} was removed and cannot be reused`);
      }
      if (this.voters.has(cc.nodeId)) return new RaftError(RaftErrorCode.InvalidConfChange, `${cc.nodeId} is already a voter`);
    } else {
      if (!this.voters.has(cc.nodeId)) return new RaftError(RaftErrorCode.InvalidConfChange, `${cc.nodeId} is not a voter`);
      if (this.voters.size === 1) return new RaftError(RaftErrorCode.InvalidConfChange, 'cannot remove the last voter');
    }
    return null;
  }

  private handleReadIndex(m: Message): RaftError | null {
    if (this.voters.size === 1 && this.voters.has(this.id)) {
      this.respondToRead({ index: this.raftLog.committed, from: m.from, context: m.context, acks: new Set() });
      return null;
    }
    if (this.readOnly.size + this.pendingReadIndexMessages.length >= this.maxPendingReads) {
      return new RaftError(RaftErrorCode.TooManyPendingReads, 'too many pending reads');
    }
    // a new leader does not know the commit index until it commits in its own term
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return null;
    }
    this.startRead(m);
    return null;
  }

  private startRead(m: Message): void {
    this.readOnly.add(this.raftLog.committed, m.from, m.context);
    this.readOnly.recvAck(this.id, m.context);
    this.bcastHeartbeat(m.context);
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.startRead(m);
  }

  private respondToRead(req: ReadRequest): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: req.index, context: req.context });
    } else {
      this.send({ type: MessageType.ReadIndexResp, to: req.from, index: req.index, context: req.context });
    }
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  // ---------------------------------------------------------------- follower handlers

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed });
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      this.send({ type: MessageType.AppResp, to: m.from, index: lastNew });
      return;
    }
    // tell the leader where our log could match, so it skips whole terms at once
    let hint = Math.min(m.index, this.raftLog.lastIndex());
    hint = this.raftLog.findConflictByTerm(hint, m.logTerm);
    const hintTerm = this.raftLog.term(hint) ?? 0;
    const context = this.repairing() ? LOG_LOST : '';
    this.send({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hint, logTerm: hintTerm, context });
  }

  private handleHeartbeat(m: Message): void {
    const last = this.raftLog.lastIndex();
    if (m.commit > last) {
      // A leader only sends a commit the follower acknowledged holding: these entries were
      // lost (storage damage the start-up scan could not see). What is left is a prefix of
      // what the leader matched, so committing up to it is safe; then ask for the rest.
      this.repairIndex = Math.max(this.repairIndex, m.commit);
      this.raftLog.commitTo(last);
      this.send({ type: MessageType.AppResp, to: m.from, index: m.commit, reject: true, rejectHint: last, logTerm: this.raftLog.lastTerm(), context: LOG_LOST });
    } else {
      this.raftLog.commitTo(m.commit);
    }
    this.send({ type: MessageType.HeartbeatResp, to: m.from, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (!snap) return;
    if (this.restore(snap)) {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() });
    } else {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed });
    }
  }

  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      // defensive: only followers install snapshots
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    if (this.raftLog.matchTerm(s.meta.index, s.meta.term)) {
      // our log already has it: just learn the commit
      this.raftLog.commitTo(s.meta.index);
      return false;
    }
    this.raftLog.restore(s);
    this.setConf(s.meta.conf);
    return true;
  }

  // ---------------------------------------------------------------- replication

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let ents: Entry[] | null = null;
    if (prevTerm !== null) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxSizePerMsg);
      } catch (e) {
        if (!isRaftError(e, RaftErrorCode.Compacted)) throw e;
      }
    }
    if (prevTerm !== null && ents !== null) {
      if (ents.length === 0 && !sendIfEmpty) return false;
      this.send({
        type: MessageType.App,
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.raftLog.committed,
      });
      if (ents.length > 0 && pr.state === ProgressState.Replicate) {
        const last = ents[ents.length - 1]!.index;
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      } else if (pr.state === ProgressState.Probe) {
        pr.probeSent = true;
      }
      return true;
    }
    // the entries it needs are compacted: send the snapshot (only to a live follower)
    if (!pr.recentActive) return false;
    const snap = this.raftLog.snapshot();
    if (snap.meta.index === 0) return false;
    this.send({ type: MessageType.Snap, to, snapshot: snap });
    pr.becomeSnapshot(snap.meta.index);
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      // never tell a follower to commit past what it is known to hold
      const commit = Math.min(pr.match, this.raftLog.committed);
      this.send({ type: MessageType.Heartbeat, to: id, commit, context });
    }
  }

  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.prs.get(id)?.match ?? 0);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const mci = matches[this.quorum() - 1]!;
    return this.raftLog.maybeCommit(mci, this.term);
  }

  // ---------------------------------------------------------------- elections

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.stepInner(makeMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.stepInner(makeMessage({ type: MessageType.CheckQuorum, from: this.id }));
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    for (const pr of this.prs.values()) {
      // a snapshot lost on the way: retry after two election timeouts
      if (pr.state === ProgressState.Snapshot && ++pr.snapshotTicks >= 2 * this.electionTimeout) {
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.stepInner(makeMessage({ type: MessageType.Beat, from: this.id }));
    }
  }

  private hup(kind: CampaignKind): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    // our configuration may be stale until committed conf changes are applied
    if (this.hasUnappliedConfChanges()) return;
    if (kind === CampaignKind.Election && this.preVote) kind = CampaignKind.PreElection;
    this.campaign_(kind);
  }

  private campaign_(kind: CampaignKind): void {
    let voteType: MessageType;
    let term: number;
    if (kind === CampaignKind.PreElection) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (kind === CampaignKind.PreElection) this.campaign_(CampaignKind.Election);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.voters) {
      if (id === this.id) continue;
      this.send({
        type: voteType,
        to: id,
        term,
        index: lastIndex,
        logTerm: lastTerm,
        context: kind === CampaignKind.Transfer ? CAMPAIGN_TRANSFER : '',
      });
    }
  }

  private poll(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.voters) {
      const r = this.votes.get(v);
      if (r === true) yes++;
      else if (r === false) no++;
    }
    const q = this.quorum();
    if (yes >= q) return 'won';
    if (this.voters.size - no < q) return 'lost';
    return 'pending';
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  private becomePreCandidate(): void {
    if (this.state === StateType.Leader) throw new RaftError(RaftErrorCode.Internal, 'leader cannot become pre-candidate');
    this.votes.clear();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  private becomeCandidate(): void {
    if (this.state === StateType.Leader) throw new RaftError(RaftErrorCode.Internal, 'leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  private becomeLeader(): void {
    if (this.state === StateType.Follower) throw new RaftError(RaftErrorCode.Internal, 'follower cannot become leader');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    this.prs.get(this.id)?.becomeReplicate();
    // an empty entry of our term commits everything before it; no conf change until it
    // is applied (the fix for single-server changes across leader changes)
    const index = this.raftLog.lastIndex() + 1;
    this.raftLog.append([{ term: this.term, index, type: EntryType.Normal, data: EMPTY_DATA }]);
    this.pendingConfIndex = index;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + this.random.int(this.electionTimeout);
    this.abortLeaderTransfer();
    this.votes.clear();
    this.resetProgress();
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  private resetProgress(): void {
    const next = this.raftLog.lastIndex() + 1;
    this.prs = new Map();
    for (const id of this.voters) {
      const pr = new Progress(next, this.maxInflight);
      if (id === this.id) pr.match = this.raftLog.persistedLastIndex();
      this.prs.set(id, pr);
    }
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  private promotable(): boolean {
    return this.voters.has(this.id) && !this.raftLog.hasPendingSnapshot() && !this.repairing() && this.canCampaign();
  }

  /** Whether entries this node may have acknowledged are still missing (see RaftConfig.repair). */
  private repairing(): boolean {
    if (this.repairIndex === 0) return false;
    // a lone voter has nobody to repair from: it carries on with what it has
    if (this.raftLog.committed >= this.repairIndex || (this.voters.size === 1 && this.voters.has(this.id))) {
      this.repairIndex = 0;
      this.repairTerm = 0;
      return false;
    }
    return true;
  }

  /** A repairing node votes only for a log at least as far as the one it lost. */
  private repairAllowsVote(m: Message): boolean {
    if (!this.repairing()) return true;
    if (this.repairTerm === 0) return false;
    return m.logTerm > this.repairTerm || (m.logTerm === this.repairTerm && m.index >= this.repairIndex);
  }

  private quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  private countVoters(ids: Set<NodeId>): number {
    let n = 0;
    for (const id of ids) if (this.voters.has(id)) n++;
    return n;
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === this.id || this.prs.get(id)?.recentActive) active++;
    }
    return active >= this.quorum();
  }

  private hasUnappliedConfChanges(): boolean {
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    const hi = this.raftLog.committed + 1;
    if (lo >= hi) return false;
    for (const e of this.raftLog.slice(lo, hi, Number.MAX_SAFE_INTEGER)) {
      if (e.type === EntryType.ConfChange) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- configuration

  private setConf(cs: ConfState): void {
    this.voters = new Set(cs.voters);
    this.removed = new Set(cs.removed);
    this.resetProgress();
  }

  private applyConfChangeToConfig(cc: ConfChange): void {
    if (cc.type === ConfChangeType.AddNode) {
      if (this.removed.has(cc.nodeId) || this.voters.has(cc.nodeId)) return;
      this.voters.add(cc.nodeId);
      this.prs.set(cc.nodeId, new Progress(this.raftLog.lastIndex() + 1, this.maxInflight));
    } else {
      this.voters.delete(cc.nodeId);
      this.prs.delete(cc.nodeId);
      this.removed.add(cc.nodeId);
    }
  }

  private applyConfChange(cc: ConfChange): void {
    this.applyConfChangeToConfig(cc);
    if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.leadTransferee) this.abortLeaderTransfer();
    if (this.state !== StateType.Leader) return;
    if (!this.voters.has(this.id)) {
      // removed leader: make sure the others learn the commit, then step aside
      this.bcastAppend();
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.maybeCommit()) this.releasePendingReadIndexMessages();
    this.bcastAppend();
  }

  private increaseUncommittedBytes(ents: Entry[]): boolean {
    let s = 0;
    for (const e of ents) s += entrySize(e);
    // a single oversized proposal is allowed when nothing is outstanding, so it cannot wedge
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + s > this.maxUncommittedBytes) return false;
    this.uncommittedBytes += s;
    return true;
  }

  private reduceUncommittedBytes(ents: Entry[]): void {
    if (this.state !== StateType.Leader) return;
    let s = 0;
    for (const e of ents) s += entrySize(e);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - s);
  }

  // ---------------------------------------------------------------- helpers

  private send(fields: Partial<Message> & { type: MessageType; to: NodeId }): void {
    const m = makeMessage(fields);
    m.from = this.id;
    const t = m.type;
    if (t === MessageType.Vote || t === MessageType.VoteResp || t === MessageType.PreVote || t === MessageType.PreVoteResp) {
      if (m.term === 0) throw new RaftError(RaftErrorCode.Internal, 'vote message without a term');
    } else if (t === MessageType.Prop || t === MessageType.ReadIndex) {
      // forwarded requests act as local messages at the leader
      m.term = 0;
    } else {
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  private assertNoReady(): void {
    if (this.readyOutstanding) {
      throw new RaftError(RaftErrorCode.ReadyOutstanding, 'a Ready is outstanding: call advance() first');
    }
  }
}

/** Message types that only travel between peers and therefore must carry a term. */
function isNetworkOnly(t: MessageType): boolean {
  return (
    t === MessageType.App ||
    t === MessageType.AppResp ||
    t === MessageType.Vote ||
    t === MessageType.VoteResp ||
    t === MessageType.PreVote ||
    t === MessageType.PreVoteResp ||
    t === MessageType.Snap ||
    t === MessageType.Heartbeat ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.TimeoutNow ||
    t === MessageType.ReadIndexResp
  );
}
