// Wire and disk encoding of Raft structures with msgpackr. Every encoded value is
// an array [version, kind, ...fields]: positional fields keep messages small, the
// version lets a newer node refuse (rather than misread) a format it does not know.

import { Packr } from 'msgpackr';
import { RaftError, RaftErrorCode } from './errors.ts';
import { EMPTY_ENTRIES, MESSAGE_TYPE_NAMES } from './types.ts';
import type { ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot } from './types.ts';

/** Bump when a field is added or changes meaning; decoders reject what they do not know. */
export const CODEC_VERSION = 1;

export const StructKind = {
  Message: 1,
  Entry: 2,
  HardState: 3,
  Snapshot: 4,
} as const;
export type StructKind = (typeof StructKind)[keyof typeof StructKind];

// copyBuffers: decoded payloads must not alias a transport or file buffer that gets reused
const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true });

function open(buf: Uint8Array, kind: StructKind | null): unknown[] {
  let v: unknown;
  try {
    v = packr.unpack(buf);
  } catch (e) {
    throw new RaftError(RaftErrorCode.Corrupt, `raft codec: undecodable bytes: ${(e as Error).message}`);
  }
  if (!Array.isArray(v) || v.length < 2) throw new RaftError(RaftErrorCode.Corrupt, 'raft codec: not a raft structure');
  if (v[0] !== CODEC_VERSION) {
    throw new RaftError(
      RaftErrorCode.UnknownVersion,
      `raft codec: unsupported version ${String(v[0])} (this node speaks version ${CODEC_VERSION})`,
    );
  }
  if (kind !== null && v[1] !== kind) throw new RaftError(RaftErrorCode.Corrupt, `raft codec: expected kind ${kind}, got ${String(v[1])}`);
  return v;
}

function entryFields(e: Entry): unknown[] {
  return [e.term, e.index, e.type, e.data];
}

function entryFrom(f: unknown): Entry {
  const a = f as [number, number, EntryType, Uint8Array];
  return { term: a[0], index: a[1], type: a[2], data: a[3] };
}

function confFields(c: ConfState): unknown[] {
  return [c.voters, c.removed];
}

function snapshotFields(s: Snapshot): unknown[] {
  return [s.meta.index, s.meta.term, confFields(s.meta.conf), s.data];
}

function snapshotFrom(f: unknown): Snapshot {
  const a = f as [number, number, [string[], string[]], Uint8Array];
  return { meta: { index: a[0], term: a[1], conf: { voters: a[2][0], removed: a[2][1] } }, data: a[3] };
}

export function encodeMessage(m: Message): Uint8Array {
  return packr.pack([
    CODEC_VERSION,
    StructKind.Message,
    m.type,
    m.from,
    m.to,
    m.term,
    m.logTerm,
    m.index,
    m.commit,
    m.reject,
    m.rejectHint,
    m.context,
    m.entries.map(entryFields),
    m.snapshot ? snapshotFields(m.snapshot) : null,
  ]);
}

export function decodeMessage(buf: Uint8Array): Message {
  const a = open(buf, StructKind.Message);
  const type = a[2] as MessageType;
  if (typeof type !== 'number' || MESSAGE_TYPE_NAMES[type] === undefined) {
    throw new RaftError(RaftErrorCode.Corrupt, `raft codec: unknown message type ${String(type)}`);
  }
  const ents = a[12] as unknown[];
  return {
    type,
    from: a[3] as string,
    to: a[4] as string,
    term: a[5] as number,
    logTerm: a[6] as number,
    index: a[7] as number,
    commit: a[8] as number,
    reject: a[9] as boolean,
    rejectHint: a[10] as number,
    context: a[11] as string,
    entries: ents.length === 0 ? EMPTY_ENTRIES : ents.map(entryFrom),
    snapshot: a[13] ? snapshotFrom(a[13]) : null,
  };
}

export function encodeEntry(e: Entry): Uint8Array {
  return packr.pack([CODEC_VERSION, StructKind.Entry, ...entryFields(e)]);
}

export function decodeEntry(buf: Uint8Array): Entry {
  return entryFrom(open(buf, StructKind.Entry).slice(2));
}

/** A WAL record: an entry, or a hard state carrying the commit index (written without fsync). */
export type WalRecord = { entry: Entry; hardState: null } | { entry: null; hardState: HardState };

export function decodeWalRecord(buf: Uint8Array): WalRecord {
  const a = open(buf, null);
  if (a[1] === StructKind.Entry) return { entry: entryFrom(a.slice(2)), hardState: null };
  if (a[1] === StructKind.HardState) return { entry: null, hardState: hardStateFrom(a) };
  throw new RaftError(RaftErrorCode.Corrupt, `raft codec: kind ${String(a[1])} is not a log record`);
}

export function encodeHardState(h: HardState): Uint8Array {
  return packr.pack([CODEC_VERSION, StructKind.HardState, h.term, h.vote, h.commit]);
}

export function decodeHardState(buf: Uint8Array): HardState {
  return hardStateFrom(open(buf, StructKind.HardState));
}

function hardStateFrom(a: unknown[]): HardState {
  return { term: a[2] as number, vote: a[3] as string, commit: a[4] as number };
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  return packr.pack([CODEC_VERSION, StructKind.Snapshot, ...snapshotFields(s)]);
}

export function decodeSnapshot(buf: Uint8Array): Snapshot {
  return snapshotFrom(open(buf, StructKind.Snapshot).slice(2));
}

/** For tests of version handling: encode any payload under an arbitrary version. */
export function encodeRaw(value: unknown[]): Uint8Array {
  return packr.pack(value);
}
