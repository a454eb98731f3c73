// The transport seam. The cluster will carry Raft messages over routes (encoded
// with codec.ts); tests use the in-memory hub. Delivery is best effort: Raft
// tolerates loss, duplication and reordering.

import { decodeMessage, encodeMessage } from './codec.ts';
import type { Message, NodeId } from './types.ts';

export interface Transport {
  /** Queues `m` for m.to; never blocks, may drop. */
  send(m: Message): void;
  /** Registers the receiver for messages addressed to `id`. */
  listen(id: NodeId, onMessage: (m: Message) => void): void;
  close(id: NodeId): void;
}

/**
 * In-process hub: messages are encoded and decoded like on the wire, held until
 * `deliverAll` (so tests choose when the network "runs"), and can be cut per link.
 */
export class MemoryTransport implements Transport {
  private readonly receivers = new Map<NodeId, (m: Message) => void>();
  private queue: { to: NodeId; bytes: Uint8Array; from: NodeId }[] = [];
  private readonly cut = new Set<string>();
  sent = 0;
  dropped = 0;

  send(m: Message): void {
    this.sent++;
    if (this.cut.has(`${m.from}>${m.to}`)) {
      this.dropped++;
      return;
    }
    this.queue.push({ to: m.to, from: m.from, bytes: encodeMessage(m) });
  }

  listen(id: NodeId, onMessage: (m: Message) => void): void {
    this.receivers.set(id, onMessage);
  }

  close(id: NodeId): void {
    this.receivers.delete(id);
  }

  /** Drops traffic between a and b in both directions until `heal`. */
  partition(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  pending(): number {
    return this.queue.length;
  }

  /** Delivers everything queued so far (not what those deliveries send); returns the count. */
  deliverAll(): number {
    const q = this.queue;
    this.queue = [];
    let n = 0;
    for (const item of q) {
      const r = this.receivers.get(item.to);
      if (!r || this.cut.has(`${item.from}>${item.to}`)) {
        this.dropped++;
        continue;
      }
      r(decodeMessage(item.bytes));
      n++;
    }
    return n;
  }
}
