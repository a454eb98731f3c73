// The toxic kinds and what each does to one direction of one connection.
//
// A stage sits in a link's chain (see link.ts) and receives the bytes read from the source with the
// time they were read, and the end of the stream. It passes them on, late, sliced or not at all, and
// may end the stream itself (timeout, reset_peer, limit_data). Behaviour follows Toxiproxy's
// toxics/*.go: the same attributes, units and edge cases (bandwidth `rate: 0` stalls, timeout
// `0` drops forever without closing, reset_peer waits for the first bytes before its timer starts,
// a timeout's timer restarts with every chunk it swallows).

import type { StructSpec } from './gojson.ts';

/** Where a stage sends what it lets through. `reset` ends with a TCP RST instead of a FIN. */
export interface Pipe {
  push(data: Buffer, ts: number): void;
  end(reset: boolean): void;
}

export interface Chunk {
  data: Buffer;
  ts: number;
}

/** What a stage still held when it was stopped: passed on (removal) or fed to its successor (update). */
export interface Held {
  chunks: Chunk[];
  /** The input had ended but the stage had not passed the end on yet. */
  ended: boolean;
}

export type Random = () => number;

export type Attributes = Record<string, number>;

export abstract class Stage implements Pipe {
  /** Bytes waiting inside the stage (the link pauses its source when the chain holds too much). */
  held = 0;
  /** The stage has ended its output; anything arriving later is dropped. */
  closed = false;
  protected readonly out: Pipe;
  private timer: NodeJS.Timeout | null = null;

  constructor(out: Pipe) {
    this.out = out;
  }

  abstract push(data: Buffer, ts: number): void;
  abstract end(reset: boolean): void;

  /** Stop at once: cancel timers and hand back what was not passed on. */
  interrupt(): Held {
    this.cancel();
    return { chunks: [], ended: false };
  }

  /** Ends the output now (a removed timeout toxic closes its connections). */
  closeOutput(): void {
    this.close();
  }

  protected close(reset = false): void {
    if (this.closed) return;
    this.closed = true;
    this.cancel();
    this.out.end(reset);
  }

  protected after(ms: number, fn: () => void): void {
    this.cancel();
    this.timer = setTimeout(() => {
      this.timer = null;
      fn();
    }, Math.max(0, ms));
  }

  protected get waiting(): boolean {
    return this.timer !== null;
  }

  protected cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Passes everything through: a toxic whose toxicity roll missed, and the `noop` type. */
export class NoopStage extends Stage {
  push(data: Buffer, ts: number): void {
    if (!this.closed) this.out.push(data, ts);
  }
  end(reset: boolean): void {
    this.close(reset);
  }
}

/** Stages that hold a queue and release it in order, one head at a time. */
abstract class QueueStage extends Stage {
  protected queue: Chunk[] = [];
  protected pendingEnd = false;

  push(data: Buffer, ts: number): void {
    if (this.closed || this.pendingEnd) return;
    this.queue.push({ data, ts });
    this.held += data.length;
    if (!this.waiting) this.pump();
  }

  end(): void {
    if (this.closed) return;
    this.pendingEnd = true;
    if (!this.waiting) this.pump();
  }

  override interrupt(): Held {
    this.cancel();
    const held = { chunks: this.queue, ended: this.pendingEnd };
    this.queue = [];
    this.held = 0;
    return held;
  }

  protected emitHead(bytes: number, ts: number): void {
    const head = this.queue[0]!;
    let data = head.data;
    if (bytes < data.length) {
      head.data = data.subarray(bytes);
      data = data.subarray(0, bytes);
    } else {
      this.queue.shift();
    }
    this.held -= data.length;
    this.out.push(data, ts);
  }

  /** Release what is due now and arm a timer for the rest; closes once empty after the end. */
  protected abstract pump(): void;

  protected finishIfDrained(): boolean {
    if (this.queue.length > 0) return false;
    if (this.pendingEnd) this.close();
    return true;
  }
}

/** Every chunk is delivered `latency` ± `jitter` ms after it was read, in order. */
export class LatencyStage extends QueueStage {
  private readonly latency: number;
  private readonly jitter: number;
  private readonly random: Random;
  private due = -1;

  constructor(out: Pipe, attrs: Attributes, random: Random) {
    super(out);
    this.latency = attrs.latency ?? 0;
    this.jitter = attrs.jitter ?? 0;
    this.random = random;
  }

  private delay(): number {
    if (this.jitter <= 0) return this.latency;
    return this.latency + Math.floor(this.random() * this.jitter * 2) - this.jitter;
  }

  protected pump(): void {
    for (;;) {
      if (this.finishIfDrained()) return;
      const head = this.queue[0]!;
      if (this.due < 0) this.due = head.ts + this.delay();
      const wait = this.due - performance.now();
      if (wait > 0) {
        this.after(wait, () => this.pump());
        return;
      }
      const ts = this.due;
      this.due = -1;
      this.emitHead(head.data.length, ts);
    }
  }

  override interrupt(): Held {
    this.due = -1;
    return super.interrupt();
  }
}

/** At most `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy counts); big chunks go out in 100 ms slices. */
export class BandwidthStage extends QueueStage {
  private readonly rate: number;
  /** Milliseconds owed, carried between chunks so timer overshoot is paid back (as Toxiproxy does). */
  private debt = 0;

  constructor(out: Pipe, attrs: Attributes) {
    super(out);
    this.rate = attrs.rate ?? 0;
  }

  protected pump(): void {
    if (this.finishIfDrained()) return;
    // Toxiproxy never gets a chunk past a zero or negative rate: the link stalls.
    if (this.rate <= 0) return;
    const head = this.queue[0]!;
    const slice = this.rate * 100;
    if (head.data.length > slice) {
      this.after(100, () => {
        this.emitHead(slice, head.ts);
        this.pump();
      });
      return;
    }
    this.debt += head.data.length / this.rate;
    const start = performance.now();
    this.after(this.debt, () => {
      this.debt -= performance.now() - start;
      this.emitHead(head.data.length, head.ts);
      this.pump();
    });
  }
}

/** Data flows; the end of the stream is held back `delay` ms. */
export class SlowCloseStage extends Stage {
  private readonly delay: number;
  private endPending = false;

  constructor(out: Pipe, attrs: Attributes) {
    super(out);
    this.delay = attrs.delay ?? 0;
  }

  push(data: Buffer, ts: number): void {
    if (!this.closed && !this.endPending) this.out.push(data, ts);
  }

  end(): void {
    if (this.closed || this.endPending) return;
    this.endPending = true;
    this.after(this.delay, () => this.close());
  }

  override interrupt(): Held {
    this.cancel();
    return { chunks: [], ended: this.endPending };
  }
}

/**
 * Swallows everything. With `timeout > 0` the connection is closed once that long has passed without
 * a chunk arriving (each swallowed chunk restarts the clock, as in Toxiproxy); with 0 it stays open.
 */
export class TimeoutStage extends Stage {
  private readonly timeout: number;

  constructor(out: Pipe, attrs: Attributes) {
    super(out);
    this.timeout = attrs.timeout ?? 0;
    this.arm();
  }

  private arm(): void {
    if (this.timeout > 0) this.after(this.timeout, () => this.close());
  }

  push(): void {
    if (!this.closed) this.arm();
  }

  end(): void {
    this.close();
  }
}

/** On the first thing to arrive, waits `timeout` ms, then resets both sides of the connection. */
export class ResetPeerStage extends Stage {
  private readonly timeout: number;
  private triggered = false;

  constructor(out: Pipe, attrs: Attributes) {
    super(out);
    this.timeout = attrs.timeout ?? 0;
  }

  private trigger(): void {
    if (this.triggered || this.closed) return;
    this.triggered = true;
    this.after(this.timeout, () => this.close(true));
  }

  push(): void {
    this.trigger();
  }

  end(): void {
    this.trigger();
  }
}

export interface LimitDataState {
  transmitted: number;
}

/** Lets `bytes` through over the connection's life (kept across updates), then closes. */
export class LimitDataStage extends Stage {
  private readonly bytes: number;
  private readonly state: LimitDataState;

  constructor(out: Pipe, attrs: Attributes, state: LimitDataState) {
    super(out);
    this.bytes = attrs.bytes ?? 0;
    this.state = state;
  }

  push(data: Buffer, ts: number): void {
    if (this.closed) return;
    const remaining = Math.max(0, this.bytes - this.state.transmitted);
    const pass = remaining < data.length ? data.subarray(0, remaining) : data;
    if (pass.length > 0) {
      this.state.transmitted += pass.length;
      this.out.push(pass, ts);
    }
    if (this.bytes - this.state.transmitted <= 0) this.close();
  }

  end(): void {
    this.close();
  }
}

/** Cuts chunks into pieces of about `average_size` ± `size_variation` bytes, `delay` µs apart. */
export class SlicerStage extends QueueStage {
  private readonly average: number;
  private readonly variation: number;
  private readonly delayMs: number;
  private readonly random: Random;

  constructor(out: Pipe, attrs: Attributes, random: Random) {
    super(out);
    // Toxiproxy recurses forever on an average of 0; one byte is the smallest slice that ends.
    this.average = Math.max(1, attrs.average_size ?? 0);
    this.variation = Math.max(0, attrs.size_variation ?? 0);
    this.delayMs = Math.max(0, attrs.delay ?? 0) / 1000;
    this.random = random;
  }

  /** Offsets of the slices of [start, end): halves until a piece is within the variation. */
  private cut(start: number, end: number, out: number[]): void {
    if (end - start - this.average <= this.variation) {
      out.push(end);
      return;
    }
    let mid = start + Math.floor((end - start) / 2);
    if (this.variation > 0) mid += Math.floor(this.random() * this.variation * 2) - this.variation;
    mid = Math.min(end - 1, Math.max(start + 1, mid));
    this.cut(start, mid, out);
    this.cut(mid, end, out);
  }

  override push(data: Buffer, ts: number): void {
    if (this.closed || this.pendingEnd) return;
    const ends: number[] = [];
    this.cut(0, data.length, ends);
    let from = 0;
    for (const to of ends) {
      this.queue.push({ data: data.subarray(from, to), ts });
      from = to;
    }
    this.held += data.length;
    if (!this.waiting) this.pump();
  }

  protected pump(): void {
    while (!this.finishIfDrained()) {
      this.emitHead(this.queue[0]!.data.length, this.queue[0]!.ts);
      if (this.delayMs > 0) {
        this.after(this.delayMs, () => this.pump());
        return;
      }
    }
  }
}

const int64 = 'int64' as const;

export interface ToxicKind {
  spec: StructSpec;
  create(out: Pipe, attrs: Attributes, random: Random, state: LimitDataState): Stage;
}

function kind(goName: string, fields: string[], kindOf: 'int64' | 'int', create: ToxicKind['create']): ToxicKind {
  return {
    spec: { goType: `toxics.${goName}`, structName: goName, fields: fields.map((json) => ({ json, kind: kindOf })) },
    create,
  };
}

/** The toxic types Toxiproxy registers, with their attributes in Toxiproxy's field order. */
export const TOXIC_KINDS: Readonly<Record<string, ToxicKind>> = {
  noop: kind('NoopToxic', [], int64, (out) => new NoopStage(out)),
  latency: kind('LatencyToxic', ['latency', 'jitter'], int64, (out, a, r) => new LatencyStage(out, a, r)),
  bandwidth: kind('BandwidthToxic', ['rate'], int64, (out, a) => new BandwidthStage(out, a)),
  slow_close: kind('SlowCloseToxic', ['delay'], int64, (out, a) => new SlowCloseStage(out, a)),
  timeout: kind('TimeoutToxic', ['timeout'], int64, (out, a) => new TimeoutStage(out, a)),
  reset_peer: kind('ResetToxic', ['timeout'], int64, (out, a) => new ResetPeerStage(out, a)),
  limit_data: kind('LimitDataToxic', ['bytes'], int64, (out, a, _r, s) => new LimitDataStage(out, a, s)),
  slicer: kind('SlicerToxic', ['average_size', 'size_variation', 'delay'], 'int', (out, a, r) => new SlicerStage(out, a, r)),
};

export function toxicKind(type: string): ToxicKind | undefined {
  return Object.hasOwn(TOXIC_KINDS, type) ? TOXIC_KINDS[type] : undefined;
}
