// The stream store seam: one interface, implemented by the memory store and the file store,
// both held to one shared test suite (the nats-server `StreamStore` idea). Every mutation is a
// synchronous, deterministic function of the calls made so far — timestamps come in from the
// caller — so replicas that apply the same Raft entries in order end in the same state.

export interface StoredMessage {
  seq: number;
  /** Latin-1 subject (one byte per character, as on the wire). */
  subject: string;
  hdr: Uint8Array | null;
  data: Uint8Array;
  /** Nanoseconds since the Unix epoch, as given to `store()`. */
  time: bigint;
}

/** Retention limits; a value <= 0 means "no limit", as in nats-server. */
export interface StoreLimits {
  maxMsgs: number;
  maxBytes: number;
  maxAgeNs: bigint;
  /** Largest header + payload accepted, bytes. */
  maxMsgSize: number;
  maxMsgsPerSubject: number;
  discard: 'old' | 'new';
  /** With discard new: refuse a message whose subject already holds maxMsgsPerSubject. */
  discardNewPerSubject: boolean;
}

export const UNLIMITED: StoreLimits = Object.freeze({
  maxMsgs: -1,
  maxBytes: -1,
  maxAgeNs: 0n,
  maxMsgSize: -1,
  maxMsgsPerSubject: -1,
  discard: 'old',
  discardNewPerSubject: false,
});

export interface CorruptionReport {
  /** Segment file name inside the stream directory. */
  file: string;
  /** Byte offset of the damaged record in that file. */
  offset: number;
  /** Bytes affected: the skipped record, or everything from `offset` to the old end of file. */
  length: number;
  /** 'skipped': the record was dropped, later records kept; 'truncated': the file was cut at offset. */
  action: 'skipped' | 'truncated';
  /** Sequence as read from the damaged header, when there was one (it may itself be damaged). */
  seq?: number;
}

export interface StreamState {
  msgs: number;
  bytes: number;
  firstSeq: number;
  firstTime: bigint;
  lastSeq: number;
  lastTime: bigint;
  numSubjects: number;
  numDeleted: number;
  /** Interior deleted sequences (between firstSeq and lastSeq), when asked for and numDeleted > 0. */
  deleted?: number[];
  /** Damaged records found at start-up or on read (file store only). */
  corrupt?: CorruptionReport[];
}

export interface SubjectState {
  msgs: number;
  first: number;
  last: number;
}

export interface PurgeOptions {
  /** Only messages on this subject (wildcards allowed). */
  subject?: string;
  /** Purge up to but not including this sequence. */
  seq?: number;
  /** Keep this many of the newest matching messages. */
  keep?: number;
}

export interface StateOptions {
  /** Also list the deleted sequences (costs time and memory in proportion to them). */
  deleted?: boolean;
}

export interface StoreOptions {
  /** Refuse with MAX_MSGS/MAX_BYTES/... under discard new; false when a replicated apply already decided. */
  discardNewCheck?: boolean;
}

export interface StreamStore {
  readonly kind: 'memory' | 'file';
  /** Stores at lastSeq + 1. Resolves once durable (file store: fsynced, shared by a group commit). */
  store(subject: string, hdr: Uint8Array | null, data: Uint8Array, timeNs: bigint): Promise<{ seq: number; ts: bigint }>;
  /** Stores at an explicit sequence, which must be lastSeq + 1 (0 = next); replication and mirrors. */
  storeAt(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, timeNs: bigint, opts?: StoreOptions): Promise<{ seq: number; ts: bigint }>;
  /**
   * storeAt for callers that want no per-message promise: a refusal is thrown at once, and the
   * promise returned is the group commit's, shared by every message stored before it is durable.
   */
  storeInBatch(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, timeNs: bigint, opts?: StoreOptions): Promise<void>;
  /** Consumes one sequence without a message; returns it. `seq` must be lastSeq + 1 (0 = next). */
  skipMsg(seq?: number): number;
  /** Consumes `num` sequences starting at `seq` (lastSeq + 1, or 0 = next). */
  skipMsgs(seq: number, num: number): void;
  load(seq: number): StoredMessage | null;
  /** Last message matching the filter (wildcards allowed; '' or '>' = any). */
  loadLast(subjectFilter: string): StoredMessage | null;
  /** First message at or after fromSeq matching the filter. */
  loadNext(subjectFilter: string, fromSeq: number): StoredMessage | null;
  /** erase = also overwrite the stored bytes (nats-server `no_erase: false`). */
  remove(seq: number, erase?: boolean): boolean;
  /** nats-server PurgeEx semantics; returns the number of messages purged. */
  purge(opts?: PurgeOptions): number;
  /** Removes everything below seq; returns the number removed. */
  compact(seq: number): number;
  /** Removes everything above seq (0 = reset the store). */
  truncate(seq: number): void;
  /** Applies max age against the caller's clock; returns the number removed. */
  expire(nowNs: bigint): number;
  /** When the oldest message will pass max age (ns since epoch), or null if nothing will. */
  nextExpiry(): bigint | null;
  /** First sequence stored at or after timeNs (nats-server GetSeqFromTime); lastSeq + 1 if none. */
  seqForTime(timeNs: bigint): number;
  state(opts?: StateOptions): StreamState;
  subjectsState(filter: string): Map<string, SubjectState>;
  /** Messages stored on one literal subject (a per-publish check: no filter, no map). */
  msgsOnSubject(subject: string): number;
  /** Messages stored, and their bytes: what per-publish limit checks need, without the times state() reads. */
  storedMsgs(): number;
  storedBytes(): number;
  numPending(filter: string, fromSeq: number, lastPerSubject: boolean): number;
  limits(): StoreLimits;
  updateLimits(l: StoreLimits): void;
  /** Durability barrier: resolves once everything done so far is on stable storage. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Closes and removes all stored data. */
  delete(): Promise<void>;
}

/**
 * Bytes a message counts against max_bytes. The same in both stores (the file record's size) so that
 * a limit means the same thing whichever storage a stream uses.
 */
export const RECORD_HEADER_BYTES = 32;

export function storedMsgSize(subjectLength: number, hdrLength: number, dataLength: number): number {
  return RECORD_HEADER_BYTES + subjectLength + hdrLength + dataLength;
}
