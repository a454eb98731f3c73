// A tiny replicated key-value state machine: the reference application used by the
// tests and by the simulation's checker. Commands and snapshots are msgpackr-encoded.

import { Packr } from 'msgpackr';
import { RaftError, RaftErrorCode } from './errors.ts';
import { EntryType } from './types.ts';
import type { Entry, Snapshot } from './types.ts';

export const KV_VERSION = 1;

export interface KvCommand {
  op: 'put' | 'del';
  key: string;
  value: string;
  /** unique per client request, so a checker can tell which proposal committed */
  id: string;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeKvCommand(c: KvCommand): Uint8Array {
  return packr.pack([KV_VERSION, c.op === 'put' ? 0 : 1, c.key, c.value, c.id]);
}

export function decodeKvCommand(data: Uint8Array): KvCommand {
  const a = packr.unpack(data) as unknown[];
  if (!Array.isArray(a) || a[0] !== KV_VERSION) {
    throw new RaftError(RaftErrorCode.UnknownVersion, `kv: unsupported command version ${String(Array.isArray(a) ? a[0] : a)}`);
  }
  return { op: a[1] === 0 ? 'put' : 'del', key: a[2] as string, value: a[3] as string, id: a[4] as string };
}

/** FNV-1a over a string, folded into a running digest. */
function fold(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class KvStateMachine {
  private map = new Map<string, string>();
  /** last applied log index */
  applied = 0;
  /** digest of every command applied in order: equal digests at equal index mean equal histories */
  digest = 0x811c9dc5;

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size;
  }

  /** Applies one committed entry; empty and conf-change entries only advance the index. */
  apply(e: Entry): KvCommand | null {
    if (e.index !== this.applied + 1) {
      throw new RaftError(RaftErrorCode.Internal, `kv: applying ${e.index} after ${this.applied}`);
    }
    this.applied = e.index;
    if (e.type !== EntryType.Normal || e.data.length === 0) return null;
    const c = decodeKvCommand(e.data);
    if (c.op === 'put') this.map.set(c.key, c.value);
    else this.map.delete(c.key);
    this.digest = fold(fold(this.digest, c.id), c.key);
    return c;
  }

  snapshot(): Uint8Array {
    return packr.pack([KV_VERSION, this.applied, this.digest, [...this.map.entries()]]);
  }

  restore(snap: Snapshot): void {
    this.map = new Map();
    this.applied = snap.meta.index;
    this.digest = 0x811c9dc5;
    if (snap.data.length === 0) return;
    const a = packr.unpack(snap.data) as unknown[];
    if (a[0] !== KV_VERSION) throw new RaftError(RaftErrorCode.UnknownVersion, `kv: unsupported snapshot version ${String(a[0])}`);
    this.digest = a[2] as number;
    this.map = new Map(a[3] as [string, string][]);
  }
}
