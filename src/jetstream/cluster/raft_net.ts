// The Raft transport between the nodes of a JetStream cluster: the messages of every group this
// node runs travel to a peer node as internal publishes in the system account, whose
// subscriptions the routes carry. Each node subscribes to one inbox subject, `$NRG.P.<node id>`;
// the messages for one destination produced in one turn of the event loop go out as one publish
// (a versioned msgpackr envelope naming each message's group), and an envelope larger than the
// payload limit travels in chunks that the receiver puts back together. Delivery stays best
// effort, as Raft wants it: a lost chunk loses the envelope and the groups resend.

import { Packr } from 'msgpackr';
import type { JsBus, BusSubscription } from '../bus.ts';
import { decodeMessage, encodeMessage } from '../../raft/codec.ts';
import type { Transport } from '../../raft/transport.ts';
import type { Message, NodeId } from '../../raft/types.ts';

/** Bump when the envelope changes; a node drops (and counts) envelopes of another version. */
export const RAFT_NET_VERSION = 1;
/** Prefix of every node's Raft inbox (`$NRG` as nats-server's groups; `P` keeps ours apart from its subjects). */
export const RAFT_INBOX_PREFIX = '$NRG.P.';
/** Bytes of envelope framing reserved below the payload limit. */
const ENVELOPE_SLACK_BYTES = 256;
/** A chunked envelope not completed within this long is dropped (the groups resend). */
const CHUNK_TIMEOUT_MS = 10_000;

const Kind = { Batch: 1, Chunk: 2 } as const;

const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: false });

export function raftInbox(node: NodeId): string {
  return RAFT_INBOX_PREFIX + node;
}

export interface RaftNetStats {
  /** publishes sent (envelopes and chunks) */
  sent: number;
  sentBytes: number;
  /** Raft messages sent and received */
  msgsOut: number;
  msgsIn: number;
  chunksOut: number;
  /** envelopes that could not be decoded, or of another version */
  badEnvelopes: number;
  /** messages for a group this node does not run (yet) */
  unknownGroup: number;
}

interface Outgoing {
  parts: unknown[];
  bytes: number;
}

interface Partial {
  parts: (Uint8Array | undefined)[];
  left: number;
  startedMs: number;
}

export interface RaftNetOptions {
  /** Largest payload one publish may carry (the server's max_payload). */
  maxPayload: number;
  now?: () => number;
  onError?: (err: Error) => void;
}

/** One node's end of the transport: hands out a Transport per group, all sharing one inbox. */
export class RaftNet {
  readonly self: NodeId;
  readonly stats: RaftNetStats = { sent: 0, sentBytes: 0, msgsOut: 0, msgsIn: 0, chunksOut: 0, badEnvelopes: 0, unknownGroup: 0 };
  private readonly bus: JsBus;
  private readonly budget: number;
  private readonly now: () => number;
  private readonly onError: (err: Error) => void;
  private readonly groups = new Map<string, (m: Message) => void>();
  private readonly outgoing = new Map<NodeId, Outgoing>();
  private readonly partials = new Map<string, Partial>();
  private flushQueued = false;
  private chunkSeq = 0;
  private sub: BusSubscription | null;
  /** When a message last arrived from each node (any group). */
  readonly lastHeard = new Map<NodeId, number>();

  constructor(bus: JsBus, self: NodeId, opts: RaftNetOptions) {
    this.bus = bus;
    this.self = self;
    this.budget = Math.max(1024, opts.maxPayload - ENVELOPE_SLACK_BYTES);
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => {});
    this.sub = bus.subscribe(raftInbox(self), null, (_s, _r, _h, data) => this.receive(data));
  }

  /** The transport of one group on this node. */
  transport(group: string): Transport {
    return {
      send: (m) => this.send(group, m),
      listen: (id, fn) => {
        if (id !== this.self) throw new Error(`raft net: group ${group} listens as ${id}, this node is ${this.self}`);
        this.groups.set(group, fn);
      },
      close: () => {
        this.groups.delete(group);
      },
    };
  }

  close(): void {
    this.sub?.unsubscribe();
    this.sub = null;
    this.groups.clear();
    this.outgoing.clear();
  }

  private send(group: string, m: Message): void {
    if (this.sub === null) return;
    const bytes = encodeMessage(m);
    this.stats.msgsOut++;
    let out = this.outgoing.get(m.to);
    const size = bytes.length + group.length + 16;
    if (out !== undefined && out.bytes + size > this.budget) {
      this.publish(m.to, out);
      out = undefined;
    }
    if (out === undefined) this.outgoing.set(m.to, (out = { parts: [], bytes: 0 }));
    out.parts.push(group, bytes);
    out.bytes += size;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    for (const [to, out] of this.outgoing) this.publish(to, out);
  };

  private publish(to: NodeId, out: Outgoing): void {
    this.outgoing.delete(to);
    const envelope = packr.pack([RAFT_NET_VERSION, Kind.Batch, this.self, out.parts]);
    const subject = raftInbox(to);
    if (envelope.length <= this.budget) {
      this.put(subject, envelope);
      return;
    }
    const id = ++this.chunkSeq;
    const count = Math.ceil(envelope.length / this.budget);
    for (let i = 0; i < count; i++) {
      const piece = envelope.subarray(i * this.budget, Math.min(envelope.length, (i + 1) * this.budget));
      this.put(subject, packr.pack([RAFT_NET_VERSION, Kind.Chunk, this.self, id, i, count, piece]));
      this.stats.chunksOut++;
    }
  }

  private put(subject: string, data: Uint8Array): void {
    this.stats.sent++;
    this.stats.sentBytes += data.length;
    this.bus.publish(subject, null, null, data);
  }

  private receive(data: Uint8Array): void {
    let v: unknown;
    try {
      v = packr.unpack(data);
    } catch (err) {
      this.bad(`undecodable envelope: ${(err as Error).message}`);
      return;
    }
    if (!Array.isArray(v) || v[0] !== RAFT_NET_VERSION) {
      this.bad(`envelope of version ${Array.isArray(v) ? String(v[0]) : '?'} (this node speaks ${RAFT_NET_VERSION})`);
      return;
    }
    const from = String(v[2]);
    this.lastHeard.set(from, this.now());
    if (v[1] === Kind.Chunk) {
      const whole = this.assemble(from, v as [number, number, string, number, number, number, Uint8Array]);
      if (whole !== null) this.receive(whole);
      return;
    }
    if (v[1] !== Kind.Batch || !Array.isArray(v[3])) {
      this.bad('unknown envelope kind');
      return;
    }
    const parts = v[3] as unknown[];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const group = String(parts[i]);
      const fn = this.groups.get(group);
      if (fn === undefined) {
        this.stats.unknownGroup++;
        continue;
      }
      let m: Message;
      try {
        m = decodeMessage(parts[i + 1] as Uint8Array);
      } catch (err) {
        this.bad(`group ${group}: ${(err as Error).message}`);
        continue;
      }
      if (m.to !== this.self) continue;
      this.stats.msgsIn++;
      fn(m);
    }
  }

  private assemble(from: string, v: [number, number, string, number, number, number, Uint8Array]): Uint8Array | null {
    const [, , , id, index, count, piece] = v;
    const now = this.now();
    for (const [k, p] of this.partials) if (now - p.startedMs > CHUNK_TIMEOUT_MS) this.partials.delete(k);
    const key = `${from}/${id}`;
    let p = this.partials.get(key);
    if (p === undefined) {
      if (!(count > 1 && count < 1_000_000)) return null;
      this.partials.set(key, (p = { parts: new Array(count), left: count, startedMs: now }));
    }
    if (index < 0 || index >= p.parts.length || p.parts[index] !== undefined) return null;
    p.parts[index] = Buffer.from(piece);
    if (--p.left > 0) return null;
    this.partials.delete(key);
    return Buffer.concat(p.parts as Uint8Array[]);
  }

  private bad(why: string): void {
    this.stats.badEnvelopes++;
    this.onError(new Error(`raft net: ${why}`));
  }
}
