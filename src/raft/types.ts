// Shared value types of the Raft core: entries, messages, hard state, snapshots,
// configuration. Plain objects so that the codec can encode them directly.

/** A peer's identity inside one Raft group. Never reused after removal. */
export type NodeId = string;

/** The empty NodeId: "no vote" / "no known leader". */
export const NONE: NodeId = '';

export const EntryType = {
  Normal: 0,
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be durable before any message produced alongside it is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  /** Ids that were removed; they are never accepted again. */
  removed: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export const ConfChangeType = {
  AddNode: 0,
  RemoveNode: 1,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
}

export const MessageType = {
  /** local: start an election */
  Hup: 0,
  /** local: leader should broadcast heartbeats */
  Beat: 1,
  /** client proposal, local or forwarded by a follower (term 0) */
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  Snap: 7,
  Heartbeat: 8,
  HeartbeatResp: 9,
  /** local: the transport could not reach a peer */
  Unreachable: 10,
  /** local: result of sending a snapshot */
  SnapStatus: 11,
  /** local: leader verifies it still hears from a quorum */
  CheckQuorum: 12,
  TransferLeader: 13,
  TimeoutNow: 14,
  ReadIndex: 15,
  ReadIndexResp: 16,
  PreVote: 17,
  PreVoteResp: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const MESSAGE_TYPE_NAMES: readonly string[] = Object.keys(MessageType);

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** App: term of the entry at `index`; rejected AppResp: term at `rejectHint`; votes: candidate's last term */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  snapshot: Snapshot | null;
  /** read-index request id, or CAMPAIGN_TRANSFER on votes forced by a leader transfer */
  context: string;
}

export const CAMPAIGN_TRANSFER = 'transfer';

/**
 * Context of an append rejection from a node that lost log entries it had acknowledged (a
 * damaged disk): the leader must lower its match for it and resend, where an ordinary
 * rejection at or below the match would be dropped as stale.
 */
export const LOG_LOST = 'log-lost';

export function makeMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    type: fields.type,
    from: fields.from ?? NONE,
    to: fields.to ?? NONE,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? EMPTY_ENTRIES,
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    snapshot: fields.snapshot ?? null,
    context: fields.context ?? '',
  };
}

export const EMPTY_ENTRIES: Entry[] = [];
export const EMPTY_DATA = new Uint8Array(0);

/** Flat per-entry cost counted against size limits, so empty entries are not free. */
export const ENTRY_OVERHEAD_BYTES = 24;

export function entrySize(e: Entry): number {
  return e.data.length + ENTRY_OVERHEAD_BYTES;
}

export function isResponse(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.PreVoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.ReadIndexResp
  );
}

export function voteResponseType(t: MessageType): MessageType {
  return t === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}

export interface ReadState {
  /** Serve the read once the local state machine has applied this index. */
  index: number;
  context: string;
}

export const StateType = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

/** Conf changes ride in entries as: 1 byte type, then the node id in UTF-8. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const id = Buffer.from(cc.nodeId, 'utf8');
  const out = new Uint8Array(1 + id.length);
  out[0] = cc.type;
  out.set(id, 1);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const t = data[0];
  if (t !== ConfChangeType.AddNode && t !== ConfChangeType.RemoveNode) {
    throw new Error(`invalid conf change type ${t}`);
  }
  return { type: t, nodeId: Buffer.from(data.buffer, data.byteOffset + 1, data.length - 1).toString('utf8') };
}
