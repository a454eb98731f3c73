// The consumer's replicated log: every change of a consumer's state is one of these entries,
// proposed by the consumer leader and applied, in log order, by every replica
// (state_machine.ts). Entries carry the time they were decided at, so applying one never
// reads a clock. On the wire and on disk each entry is a msgpackr array
// [version, kind, ...fields] (positional fields keep them small; a node that meets a version
// it does not know refuses the entry instead of misreading it).
//
// Catalogue (ts = ms since the epoch, decided by the leader):
//   STATE      the whole state (position, floors, pending, redelivery counts, skip list, config,
//              pull requests waiting): the first leader's starting position, and Raft snapshots.
//              sseq 0 means no position was decided yet.
//   DELIVERED  ts, then (stream seq, delivery seq, delivery count) per message handed out;
//              a count above 1 is a redelivery of a message still pending.
//   ACK        ts, then (stream seq, delivery seq) per ack (ack-next is an ACK; ack policy
//              `all` reads the pair as the new floor).
//   NAK        ts, stream seq, delivery seq, delay ns: due again `delay` after ts (0 = now).
//   TERM       ts, stream seq, delivery seq: done with the message without an ack (as ACK).
//   PROGRESS   ts, stream seq: +WPI, the ack wait starts again at ts.
//   MAX_DELIVERIES  stream seq, delivery count: the redelivery limit was reached; the message
//              leaves pending and keeps its count.
//   GONE       stream seqs: pending messages that vanished from the stream.
//   PURGED     the stream's new first sequence after a purge.
//   FLOOR      nothing is pending: the ack floor moves up to what was delivered.
//   CONFIG     the consumer config (API JSON) after an update.
//   REQUESTS   pull requests the leader started / stopped waiting on (reply subjects), so a
//              new leader can tell their clients to ask again (409 Leadership Change).
// nats-server's consumer has no pause yet at the version Petrel follows (2.10), so no entry.

import { Packr } from 'msgpackr';

/** Bump when a field is added or changes meaning; decoders refuse versions they do not know. */
export const CONSUMER_ENTRY_VERSION = 1;

export const EntryKind = {
  State: 1,
  Delivered: 2,
  Ack: 3,
  Nak: 4,
  Term: 5,
  Progress: 6,
  MaxDeliveries: 7,
  Gone: 8,
  Purged: 9,
  Floor: 10,
  Config: 11,
  Requests: 12,
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export interface SkipListState {
  /** Start sequences of deliver_policy last_per_subject, ascending. */
  seqs: number[];
  /** The next one to hand out. */
  index: number;
  /** Where delivery continues once they are out. */
  resume: number;
}

/** The full replicated state of a consumer (the STATE entry and Raft snapshots). */
export interface StateEntry {
  kind: typeof EntryKind.State;
  /** Next stream sequence to look at; 0 while no starting position is decided. */
  sseq: number;
  /** Next delivery sequence. */
  dseq: number;
  /** Highest stream sequence delivered for the first time. */
  deliveredStream: number;
  ackFloorConsumer: number;
  ackFloorStream: number;
  /** (stream seq, delivery seq, last delivery ms) per pending message, flat. */
  pending: number[];
  /** (stream seq, delivery count) per message delivered more than once, flat. */
  redelivered: number[];
  skipList: SkipListState | null;
  lastDeliveredMs: number;
  lastAckMs: number;
  /** The config as API JSON (null: keep the one the replica was created with). */
  config: Record<string, unknown> | null;
  /** Reply subjects of pull requests waiting at the leader. */
  requests: string[];
}

export interface DeliveredEntry {
  kind: typeof EntryKind.Delivered;
  ts: number;
  /** (stream seq, delivery seq, delivery count) per message, flat. */
  items: number[];
}

export interface AckEntry {
  kind: typeof EntryKind.Ack | typeof EntryKind.Term;
  ts: number;
  /** (stream seq, delivery seq) per ack, flat (TERM: one pair). */
  items: number[];
}

export interface NakEntry {
  kind: typeof EntryKind.Nak;
  ts: number;
  sseq: number;
  dseq: number;
  delayNs: number;
}

export interface ProgressEntry {
  kind: typeof EntryKind.Progress;
  ts: number;
  sseq: number;
}

export interface MaxDeliveriesEntry {
  kind: typeof EntryKind.MaxDeliveries;
  sseq: number;
  deliveries: number;
}

export interface GoneEntry {
  kind: typeof EntryKind.Gone;
  seqs: number[];
}

export interface PurgedEntry {
  kind: typeof EntryKind.Purged;
  firstSeq: number;
}

export interface FloorEntry {
  kind: typeof EntryKind.Floor;
}

export interface ConfigEntry {
  kind: typeof EntryKind.Config;
  config: Record<string, unknown>;
}

export interface RequestsEntry {
  kind: typeof EntryKind.Requests;
  added: string[];
  removed: string[];
}

export type ConsumerEntry =
  | StateEntry
  | DeliveredEntry
  | AckEntry
  | NakEntry
  | ProgressEntry
  | MaxDeliveriesEntry
  | GoneEntry
  | PurgedEntry
  | FloorEntry
  | ConfigEntry
  | RequestsEntry;

/** An entry that cannot be read: corrupt bytes, or a version this node does not speak. */
export class ConsumerEntryError extends Error {
  override readonly name = 'ConsumerEntryError';
}

const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeEntry(e: ConsumerEntry): Uint8Array {
  const V = CONSUMER_ENTRY_VERSION;
  switch (e.kind) {
    case EntryKind.State:
      return packr.pack([
        V,
        e.kind,
        e.sseq,
        e.dseq,
        e.deliveredStream,
        e.ackFloorConsumer,
        e.ackFloorStream,
        e.pending,
        e.redelivered,
        e.skipList === null ? null : [e.skipList.seqs, e.skipList.index, e.skipList.resume],
        e.lastDeliveredMs,
        e.lastAckMs,
        e.config,
        e.requests,
      ]);
    case EntryKind.Delivered:
    case EntryKind.Ack:
    case EntryKind.Term:
      return packr.pack([V, e.kind, e.ts, e.items]);
    case EntryKind.Nak:
      return packr.pack([V, e.kind, e.ts, e.sseq, e.dseq, e.delayNs]);
    case EntryKind.Progress:
      return packr.pack([V, e.kind, e.ts, e.sseq]);
    case EntryKind.MaxDeliveries:
      return packr.pack([V, e.kind, e.sseq, e.deliveries]);
    case EntryKind.Gone:
      return packr.pack([V, e.kind, e.seqs]);
    case EntryKind.Purged:
      return packr.pack([V, e.kind, e.firstSeq]);
    case EntryKind.Floor:
      return packr.pack([V, e.kind]);
    case EntryKind.Config:
      return packr.pack([V, e.kind, e.config]);
    case EntryKind.Requests:
      return packr.pack([V, e.kind, e.added, e.removed]);
  }
}

function bad(why: string): never {
  throw new ConsumerEntryError(`consumer entry: ${why}`);
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(`${what} is not a number`);
  return v;
}

function nums(v: unknown, what: string, stride: number): number[] {
  if (!Array.isArray(v) || v.length % stride !== 0) bad(`${what} is not a list of ${stride}-tuples`);
  for (const x of v) if (typeof x !== 'number' || !Number.isFinite(x)) bad(`${what} holds a non-number`);
  return v as number[];
}

function strs(v: unknown, what: string): string[] {
  if (!Array.isArray(v)) bad(`${what} is not a list`);
  for (const x of v) if (typeof x !== 'string') bad(`${what} holds a non-string`);
  return v as string[];
}

function json(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function fields(a: unknown[], n: number, kind: string): void {
  if (a.length !== n) bad(`${kind} has ${a.length} fields, expected ${n}`);
}

export function decodeEntry(data: Uint8Array): ConsumerEntry {
  let v: unknown;
  try {
    v = packr.unpack(data);
  } catch (e) {
    bad(`undecodable bytes (${(e as Error).message})`);
  }
  if (!Array.isArray(v) || v.length < 2) bad('not a consumer entry');
  if (v[0] !== CONSUMER_ENTRY_VERSION) bad(`unsupported version ${String(v[0])} (this node speaks version ${CONSUMER_ENTRY_VERSION})`);
  const a = v as unknown[];
  switch (a[1]) {
    case EntryKind.State: {
      fields(a, 14, 'STATE');
      let skipList: SkipListState | null = null;
      if (a[9] !== null) {
        const s = a[9];
        if (!Array.isArray(s) || s.length !== 3) bad('STATE skip list is malformed');
        skipList = { seqs: nums(s[0], 'skip list', 1), index: num(s[1], 'skip index'), resume: num(s[2], 'skip resume') };
      }
      return {
        kind: EntryKind.State,
        sseq: num(a[2], 'sseq'),
        dseq: num(a[3], 'dseq'),
        deliveredStream: num(a[4], 'delivered stream'),
        ackFloorConsumer: num(a[5], 'ack floor consumer'),
        ackFloorStream: num(a[6], 'ack floor stream'),
        pending: nums(a[7], 'pending', 3),
        redelivered: nums(a[8], 'redelivered', 2),
        skipList,
        lastDeliveredMs: num(a[10], 'last delivered'),
        lastAckMs: num(a[11], 'last ack'),
        config: a[12] === null ? null : json(a[12], 'config'),
        requests: strs(a[13], 'requests'),
      };
    }
    case EntryKind.Delivered:
      fields(a, 4, 'DELIVERED');
      return { kind: EntryKind.Delivered, ts: num(a[2], 'ts'), items: nums(a[3], 'deliveries', 3) };
    case EntryKind.Ack:
    case EntryKind.Term:
      fields(a, 4, 'ACK');
      return { kind: a[1], ts: num(a[2], 'ts'), items: nums(a[3], 'acks', 2) };
    case EntryKind.Nak:
      fields(a, 6, 'NAK');
      return { kind: EntryKind.Nak, ts: num(a[2], 'ts'), sseq: num(a[3], 'sseq'), dseq: num(a[4], 'dseq'), delayNs: num(a[5], 'delay') };
    case EntryKind.Progress:
      fields(a, 4, 'PROGRESS');
      return { kind: EntryKind.Progress, ts: num(a[2], 'ts'), sseq: num(a[3], 'sseq') };
    case EntryKind.MaxDeliveries:
      fields(a, 4, 'MAX_DELIVERIES');
      return { kind: EntryKind.MaxDeliveries, sseq: num(a[2], 'sseq'), deliveries: num(a[3], 'deliveries') };
    case EntryKind.Gone:
      fields(a, 3, 'GONE');
      return { kind: EntryKind.Gone, seqs: nums(a[2], 'seqs', 1) };
    case EntryKind.Purged:
      fields(a, 3, 'PURGED');
      return { kind: EntryKind.Purged, firstSeq: num(a[2], 'first seq') };
    case EntryKind.Floor:
      fields(a, 2, 'FLOOR');
      return { kind: EntryKind.Floor };
    case EntryKind.Config:
      fields(a, 3, 'CONFIG');
      return { kind: EntryKind.Config, config: json(a[2], 'config') };
    case EntryKind.Requests:
      fields(a, 4, 'REQUESTS');
      return { kind: EntryKind.Requests, added: strs(a[2], 'added'), removed: strs(a[3], 'removed') };
    default:
      return bad(`unknown kind ${String(a[1])}`);
  }
}
