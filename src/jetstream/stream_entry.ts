// The operations that change a stream, as values: what the leader decides (sequence, time,
// dedup, expected-header checks, limits) is written into the operation, so applying it is plain
// execution and every replica that applies the same operations in the same order holds the same
// messages. Each operation is idempotent when applied again over a store that already reflects
// it (a restart replays the Raft log from the last snapshot over the durable store): messages by
// sequence, removals by sequence, purges bounded by a sequence.
// Encoded with msgpackr as positional arrays that start with a version.

import { Packr } from 'msgpackr';

/** Bump when an operation gains a field or changes meaning; a replica refuses what it cannot read. */
export const STREAM_ENTRY_VERSION = 1;

export const Rollup = { None: 0, Subject: 1, All: 2 } as const;
export type Rollup = (typeof Rollup)[keyof typeof Rollup];

export type StreamOp =
  /** A message at `seq` (a gap before it is filled with deleted sequences). `skip`: the sequence is used, nothing kept (no interest). */
  | { op: 'msg'; seq: number; subject: string; hdr: Uint8Array | null; data: Uint8Array; ts: bigint; msgId: string; rollup: Rollup; skip: boolean }
  /** Purge of messages below `upTo` (matching `filter` when set). */
  | { op: 'purge'; filter: string; upTo: number }
  /** STREAM.MSG.DELETE */
  | { op: 'del'; seq: number; erase: boolean }
  /** Retention removals (work queue acks, interest). */
  | { op: 'rm'; seqs: number[] }
  /** Max age applied as of `ts`. */
  | { op: 'expire'; ts: bigint }
  /** A stream config (as API JSON) takes effect here. */
  | { op: 'config'; config: Record<string, unknown> }
  /** A mirror consumed origin sequences up to `lastSeq` that carried nothing for it. */
  | { op: 'skip'; lastSeq: number }
  /** Messages the leader checked in one turn, in order: one Raft entry for all of them. */
  | { op: 'msgs'; msgs: MsgOp[] };

export type MsgOp = Extract<StreamOp, { op: 'msg' }>;

const OP = { msg: 1, purge: 2, del: 3, rm: 4, expire: 5, config: 6, skip: 7, msgs: 8 } as const;

function msgFields(o: MsgOp): unknown[] {
  const [ms, ns] = splitTime(o.ts);
  return [o.seq, o.subject, o.hdr, o.data, ms, ns, o.msgId, o.rollup, o.skip ? 1 : 0];
}

function msgFrom(a: unknown[]): MsgOp {
  return {
    op: 'msg',
    seq: a[0] as number,
    subject: a[1] as string,
    hdr: (a[2] as Uint8Array | null) ?? null,
    data: a[3] as Uint8Array,
    ts: joinTime(a[4], a[5]),
    msgId: a[6] as string,
    rollup: a[7] as Rollup,
    skip: a[8] === 1,
  };
}

const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true });

const NS_PER_MS = 1_000_000n;

function splitTime(ts: bigint): [number, number] {
  return [Number(ts / NS_PER_MS), Number(ts % NS_PER_MS)];
}

function joinTime(ms: unknown, ns: unknown): bigint {
  return BigInt(ms as number) * NS_PER_MS + BigInt(ns as number);
}

export function encodeStreamOp(o: StreamOp): Uint8Array {
  switch (o.op) {
    case 'msg':
      return packr.pack([STREAM_ENTRY_VERSION, OP.msg, ...msgFields(o)]);
    case 'msgs':
      return packr.pack([STREAM_ENTRY_VERSION, OP.msgs, o.msgs.map(msgFields)]);
    case 'purge':
      return packr.pack([STREAM_ENTRY_VERSION, OP.purge, o.filter, o.upTo]);
    case 'del':
      return packr.pack([STREAM_ENTRY_VERSION, OP.del, o.seq, o.erase ? 1 : 0]);
    case 'rm':
      return packr.pack([STREAM_ENTRY_VERSION, OP.rm, o.seqs]);
    case 'expire': {
      const [ms, ns] = splitTime(o.ts);
      return packr.pack([STREAM_ENTRY_VERSION, OP.expire, ms, ns]);
    }
    case 'config':
      return packr.pack([STREAM_ENTRY_VERSION, OP.config, JSON.stringify(o.config)]);
    case 'skip':
      return packr.pack([STREAM_ENTRY_VERSION, OP.skip, o.lastSeq]);
  }
}

export class StreamEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamEntryError';
  }
}

export function decodeStreamOp(buf: Uint8Array): StreamOp {
  let a: unknown;
  try {
    a = packr.unpack(buf);
  } catch (err) {
    throw new StreamEntryError(`undecodable stream entry: ${(err as Error).message}`);
  }
  if (!Array.isArray(a)) throw new StreamEntryError('stream entry is not an array');
  if (a[0] !== STREAM_ENTRY_VERSION) {
    throw new StreamEntryError(`stream entry version ${String(a[0])} (this node reads version ${STREAM_ENTRY_VERSION})`);
  }
  switch (a[1]) {
    case OP.msg:
      return msgFrom(a.slice(2));
    case OP.msgs:
      return { op: 'msgs', msgs: (a[2] as unknown[][]).map(msgFrom) };
    case OP.purge:
      return { op: 'purge', filter: a[2] as string, upTo: a[3] as number };
    case OP.del:
      return { op: 'del', seq: a[2] as number, erase: a[3] === 1 };
    case OP.rm:
      return { op: 'rm', seqs: a[2] as number[] };
    case OP.expire:
      return { op: 'expire', ts: joinTime(a[2], a[3]) };
    case OP.config:
      return { op: 'config', config: JSON.parse(a[2] as string) as Record<string, unknown> };
    case OP.skip:
      return { op: 'skip', lastSeq: a[2] as number };
    default:
      throw new StreamEntryError(`unknown stream operation ${String(a[1])}`);
  }
}
