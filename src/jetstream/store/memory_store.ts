// The memory store: message bytes live in the index entries themselves. Nothing to make durable.

import { IndexedStore, type IndexEntry, type ReleaseKind } from './indexed_store.ts';
import { UNLIMITED, type StoreLimits } from './types.ts';

interface MemoryEntry extends IndexEntry {
  hdr: Uint8Array | null;
  data: Uint8Array;
}

const DONE: Promise<void> = Promise.resolve();

export class MemoryStore extends IndexedStore<MemoryEntry> {
  readonly kind = 'memory' as const;

  constructor(limits: StoreLimits = UNLIMITED) {
    super(limits);
  }

  flush(): Promise<void> {
    return DONE;
  }

  close(): Promise<void> {
    this.closed = true;
    return DONE;
  }

  delete(): Promise<void> {
    this.closed = true;
    this.window.clear();
    this.subjects.clear();
    return DONE;
  }

  protected persistMsg(_seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint, size: number): MemoryEntry {
    // Copies: callers reuse their read buffers.
    return { subject, ts, size, hdr: hdr === null ? null : new Uint8Array(hdr), data: new Uint8Array(data) };
  }

  protected readMsg(_seq: number, entry: MemoryEntry): { hdr: Uint8Array | null; data: Uint8Array } {
    return { hdr: entry.hdr, data: entry.data };
  }

  protected released(_seq: number, entry: MemoryEntry, how: ReleaseKind): void {
    if (how === 'erase') {
      entry.hdr?.fill(0);
      entry.data.fill(0);
    }
  }

  protected persistSequenceState(): void {}

  protected commit(): Promise<void> {
    return DONE;
  }
}
