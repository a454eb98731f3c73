import type { NodeId } from './types.ts';

export const RaftErrorCode = {
  /** This node is not the leader and forwarding is disabled; `leader` names who is. */
  NotLeader: 'RAFT_NOT_LEADER',
  /** No leader is known (election in progress, or this node is partitioned). */
  NoLeader: 'RAFT_NO_LEADER',
  /** The leader holds too many uncommitted bytes (quorum probably lost). */
  UncommittedLimit: 'RAFT_UNCOMMITTED_LIMIT',
  /** A leadership transfer is in progress; proposals are refused until it ends. */
  TransferInProgress: 'RAFT_TRANSFER_IN_PROGRESS',
  /** A previous membership change is not applied yet. */
  ConfChangePending: 'RAFT_CONF_CHANGE_PENDING',
  InvalidConfChange: 'RAFT_INVALID_CONF_CHANGE',
  /** This node was removed from the group. */
  Removed: 'RAFT_REMOVED',
  TooManyPendingReads: 'RAFT_TOO_MANY_PENDING_READS',
  Compacted: 'RAFT_COMPACTED',
  Unavailable: 'RAFT_UNAVAILABLE',
  SnapshotOutOfDate: 'RAFT_SNAPSHOT_OUT_OF_DATE',
  /** step/tick/propose called while a Ready is handed out but not advanced. */
  ReadyOutstanding: 'RAFT_READY_OUTSTANDING',
  Corrupt: 'RAFT_CORRUPT',
  /** This node stopped leading before the proposal committed; it may still commit under the next leader. */
  LeadershipLost: 'RAFT_LEADERSHIP_LOST',
  /** The group's storage failed a write; proposals waiting on it are not known to be committed. */
  StorageFailed: 'RAFT_STORAGE_FAILED',
  /** A leadership transfer or read did not complete in time. */
  Timeout: 'RAFT_TIMEOUT',
  /** The group's driver was closed. */
  Closed: 'RAFT_CLOSED',
  UnknownVersion: 'RAFT_UNKNOWN_VERSION',
  Internal: 'RAFT_INTERNAL',
} as const;
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  /** The leader as known by the node that raised it, when useful for redirecting clients. */
  readonly leader: NodeId;
  constructor(code: RaftErrorCode, message: string, leader: NodeId = '') {
    // Most codes are answers in normal operation (a client asked a follower): a stack trace
    // costs more than the rest of the call and says nothing. Bugs and damage keep theirs.
    const limit = Error.stackTraceLimit;
    if (code !== RaftErrorCode.Internal && code !== RaftErrorCode.Corrupt) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'RaftError';
    this.code = code;
    this.leader = leader;
  }
}

export function isRaftError(e: unknown, code?: RaftErrorCode): e is RaftError {
  return e instanceof RaftError && (code === undefined || e.code === code);
}
