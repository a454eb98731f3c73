// How the JetStream engine talks to the rest of the node: as an internal client of the router.
// In the server the bus is backed by the JetStream host's Router (a peer worker on the lanes);
// in unit tests by InMemoryBus. The engine never sees sockets, threads or rings.

import { Sublist } from '../routing/sublist.ts';
import { subjectIsLiteral, subjectMatches } from '../routing/subjects.ts';

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
  /**
   * Calls `onChange` whenever a subscription that could match the literal `subject` is added or
   * removed (possibly from inside subscribe/unsubscribe: re-check with hasInterest, do little).
   * Returns the function that stops watching.
   */
  watchInterest(subject: string, onChange: () => void): () => void;
}

/**
 * Who follows interest in which literal subject; one registry per bus. Indexed by subject, so a
 * literal subscription coming or going costs one lookup however many push consumers there are.
 */
export class InterestWatchers {
  private readonly bySubject = new Map<string, Set<() => void>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  watch(subject: string, onChange: () => void): () => void {
    let set = this.bySubject.get(subject);
    if (set === undefined) this.bySubject.set(subject, (set = new Set()));
    // A wrapper per watch, so the same callback can watch twice and stop each once.
    const cb = () => onChange();
    set.add(cb);
    this.count++;
    return () => {
      if (!set.delete(cb)) return;
      this.count--;
      if (set.size === 0) this.bySubject.delete(subject);
    };
  }

  /** A subscription on `pattern` came or went. */
  changed(pattern: string): void {
    if (this.count === 0) return;
    const told: (() => void)[] = [];
    if (subjectIsLiteral(pattern)) {
      const set = this.bySubject.get(pattern);
      if (set !== undefined) told.push(...set);
    } else {
      for (const [subject, set] of this.bySubject) if (subjectMatches(subject, pattern)) told.push(...set);
    }
    for (const cb of told) cb();
  }
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

export interface BusSub {
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
  private readonly watchers = new InterestWatchers();
  /** Which member of a queue group gets a message (random, as the server picks). */
  protected pickMember(group: readonly BusSub[]): BusSub {
    return group[Math.floor(Math.random() * group.length)]!;
  }

  subscribe(subject: string, queue: string | null, handler: BusHandler): BusSubscription {
    const sub: BusSub = { subject, queue, handler };
    this.sl.insert(sub);
    this.watchers.changed(subject);
    return {
      unsubscribe: () => {
        if (this.sl.remove(sub)) this.watchers.changed(subject);
      },
    };
  }

  watchInterest(subject: string, onChange: () => void): () => void {
    return this.watchers.watch(subject, onChange);
  }

  publish(subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    this.route(subject, subject, reply, hdr, data);
  }

  /** Delivers to the subscriptions matching `routeSubject`; handlers see `subject`. */
  protected route(routeSubject: string, subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    const r = this.sl.match(routeSubject);
    const targets: BusSub[] = [...r.psubs];
    for (const g of r.qsubs) if (g.length > 0) targets.push(this.pickMember(g));
    for (const t of targets) t.handler(subject, reply, hdr, data);
  }

  get interestWatchers(): number {
    return this.watchers.size;
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
