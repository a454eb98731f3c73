// How the JetStream engine talks to the rest of the node: as an internal client of the router.
// In the server the bus is backed by the JetStream worker's Router (a peer in the lane mesh);
// in unit tests by InMemoryBus. The engine never sees sockets, threads or rings.

import { Sublist } from '../routing/sublist.ts';

/**
 * A message handed to a subscription handler. `hdr` and `data` are views valid only during the
 * call: copy what you keep. `hdr` is the raw NATS header block (`NATS/1.0\r\n...\r\n\r\n`) or null.
 */
export type BusHandler = (subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array) => void;

export interface BusSubscription {
  unsubscribe(): void;
}

export interface JsBus {
  subscribe(subject: string, queue: string | null, handler: BusHandler): BusSubscription;
  publish(subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void;
  /** True when any subscription on the node (client or internal) matches `subject`. */
  hasInterest(subject: string): boolean;
}

/** Timers the engine uses (ack waits, heartbeats, expiries): injectable for deterministic tests. */
export interface Scheduler {
  now(): number; // ms since epoch
  nowNs(): bigint; // ns since epoch, for message timestamps
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

let anchorHr = -(10n ** 18n);
let anchorWallNs = 0n;

/**
 * Wall-clock nanoseconds: the monotonic clock for resolution, re-anchored to Date.now() once a
 * second. Half the BigInt work of scaling Date.now() on every call, which each stored message pays.
 */
function wallClockNs(): bigint {
  const hr = process.hrtime.bigint();
  if (hr - anchorHr >= 1_000_000_000n) {
    anchorHr = hr;
    anchorWallNs = BigInt(Date.now()) * 1_000_000n;
  }
  return anchorWallNs + (hr - anchorHr);
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  nowNs: wallClockNs,
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface BusSub {
  readonly subject: string;
  readonly queue: string | null;
  readonly handler: BusHandler;
}

/**
 * A synchronous in-process bus for tests: publish delivers to every matching subscription
 * (one member per queue group) before returning, copying nothing.
 */
export class InMemoryBus implements JsBus {
  private readonly sl = new Sublist<BusSub>();

  subscribe(subject: string, queue: string | null, handler: BusHandler): BusSubscription {
    const sub: BusSub = { subject, queue, handler };
    this.sl.insert(sub);
    return { unsubscribe: () => void this.sl.remove(sub) };
  }

  publish(subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    const r = this.sl.match(subject);
    const targets: BusSub[] = [...r.psubs];
    for (const g of r.qsubs) if (g.length > 0) targets.push(g[Math.floor(Math.random() * g.length)]!);
    for (const t of targets) t.handler(subject, reply, hdr, data);
  }

  hasInterest(subject: string): boolean {
    return this.sl.hasInterest(subject);
  }

  /** Test helper: publish and collect the first reply on a private inbox. */
  request(subject: string, data: Uint8Array | string, hdr: Uint8Array | null = null): { subject: string; hdr: Uint8Array | null; data: Buffer } | null {
    const inbox = `_INBOX.test.${Math.random().toString(36).slice(2)}`;
    let got: { subject: string; hdr: Uint8Array | null; data: Buffer } | null = null;
    const sub = this.subscribe(inbox, null, (s, _r, h, d) => {
      if (!got) got = { subject: s, hdr: h ? Buffer.from(h) : null, data: Buffer.from(d) };
    });
    this.publish(subject, inbox, hdr, typeof data === 'string' ? Buffer.from(data) : data);
    sub.unsubscribe();
    return got;
  }
}
