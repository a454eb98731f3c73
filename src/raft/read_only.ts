// Pending read-index requests on the leader: each waits for a quorum of heartbeat
// acknowledgements carrying its context, which proves the leader was still leader
// when the read arrived (no clock leases involved).

import type { NodeId } from './types.ts';

export interface ReadRequest {
  index: number;
  /** requester: this node's own id for local reads, else a follower to answer */
  from: NodeId;
  context: string;
  acks: Set<NodeId>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  add(index: number, from: NodeId, context: string): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { index, from, context, acks: new Set() });
    this.queue.push(context);
  }

  recvAck(id: NodeId, context: string): Set<NodeId> | undefined {
    const req = this.pending.get(context);
    if (!req) return undefined;
    req.acks.add(id);
    return req.acks;
  }

  /** Releases the request for `context` and every request queued before it. */
  advance(context: string): ReadRequest[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const released: ReadRequest[] = [];
    for (let i = 0; i <= at; i++) {
      const ctx = this.queue[i]!;
      released.push(this.pending.get(ctx)!);
      this.pending.delete(ctx);
    }
    this.queue = this.queue.slice(at + 1);
    return released;
  }

  lastPendingContext(): string | undefined {
    return this.queue[this.queue.length - 1];
  }
}
