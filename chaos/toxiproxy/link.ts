// One direction of one proxied connection: bytes read from `source` pass through the chain of toxic
// stages of that direction and are written to `dest`.
//
// With no toxics the chain is empty and a read goes straight into a write (the path a NATS route
// takes at full speed). Backpressure is TCP's: the source is paused while the destination's buffer
// is full or the stages hold more than HIGH_WATER bytes (bandwidth, latency), and resumed below
// LOW_WATER — so a slow link slows the sender instead of filling memory, as Toxiproxy's blocking
// channels do.
//
// The end of the stream travels the chain like data (a slow_close holds it back). When it reaches
// the destination, the destination is closed fully, as Toxiproxy closes its net.Conn: a half-close
// is not forwarded, and the other direction ends once it sees its source close.

import type net from 'node:net';
import { NoopStage, toxicKind } from './toxics.ts';
import type { Held, LimitDataState, Pipe, Random, Stage } from './toxics.ts';
import type { Toxic } from './toxic_collection.ts';

/** Bytes the toxics of one link may hold before the source is paused. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = HIGH_WATER >> 1;

/** One toxic in one link: the stage doing the work, and where its output goes. */
class Slot {
  readonly toxic: Toxic;
  next: Pipe;
  stage: Stage;
  /** limit_data counts across updates of its toxic, per connection. */
  readonly state: LimitDataState = { transmitted: 0 };
  readonly out: Pipe = {
    push: (data, ts) => this.next.push(data, ts),
    end: (reset) => this.next.end(reset),
  };

  constructor(toxic: Toxic, next: Pipe, random: Random) {
    this.toxic = toxic;
    this.next = next;
    this.stage = this.build(random);
  }

  /** The toxicity roll happens here: per connection and direction, again on each update. */
  build(random: Random): Stage {
    if (random() < this.toxic.toxicity) {
      return toxicKind(this.toxic.type)!.create(this.out, this.toxic.attributes, random, this.state);
    }
    return new NoopStage(this.out);
  }
}

/** State the two links of one connection share. */
export interface ConnectionState {
  /** Close both sockets with RST rather than FIN (a reset_peer fired, or was there from the start). */
  abortive: boolean;
}

/** Counters of one direction of a proxy, summed over its connections (live and closed). */
export interface LinkStats {
  /** Bytes read from sources. */
  bytesIn: number;
  /** Bytes written to destinations. */
  bytesOut: number;
  /** Writes to destinations (a slicer makes many). */
  writes: number;
  /** Links whose source has ended. */
  inputsEnded: number;
  /** Links whose destination has been closed. */
  outputsEnded: number;
}

export function emptyLinkStats(): LinkStats {
  return { bytesIn: 0, bytesOut: 0, writes: 0, inputsEnded: 0, outputsEnded: 0 };
}

/** The sockets of one link; each is the other link's opposite end. */
export interface LinkEnds {
  readonly source: net.Socket;
  readonly dest: net.Socket;
  readonly shared: ConnectionState;
  readonly stats: LinkStats;
}

export class Link {
  private readonly ends: LinkEnds;
  private readonly random: Random;
  private slots: Slot[] = [];
  private input!: Pipe;
  private paused = false;
  private inputEnded = false;
  private outputEnded = false;

  private readonly writer: Pipe = {
    push: (data) => {
      // A disabled proxy destroys its sockets under running links.
      if (this.outputEnded || this.ends.dest.destroyed) return;
      this.ends.stats.bytesOut += data.length;
      this.ends.stats.writes++;
      this.ends.dest.write(data);
      if (this.paused) this.maybeResume();
    },
    end: (reset) => {
      if (this.outputEnded) return;
      this.outputEnded = true;
      this.ends.stats.outputsEnded++;
      const dest = this.ends.dest;
      if (reset) this.ends.shared.abortive = true;
      if (dest.destroyed) return;
      if (this.ends.shared.abortive) dest.resetAndDestroy();
      else dest.destroySoon();
    },
  };

  constructor(ends: LinkEnds, toxics: readonly Toxic[], random: Random) {
    this.ends = ends;
    this.random = random;
    for (const t of toxics) this.append(t);
    this.rewire();
    ends.dest.on('drain', () => this.maybeResume());
  }

  /** Starts moving bytes; call once both sockets are connected. */
  start(): void {
    const src = this.ends.source;
    src.on('data', (buf: Buffer) => this.onData(buf));
    src.on('end', () => this.onInputEnd());
    src.on('close', () => this.onInputEnd());
    src.resume();
  }

  private onData(buf: Buffer): void {
    this.ends.stats.bytesIn += buf.length;
    const ts = this.slots.length > 0 ? performance.now() : 0;
    this.input.push(buf, ts);
    if (!this.paused && this.mustPause()) {
      this.paused = true;
      this.ends.source.pause();
    }
  }

  private onInputEnd(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    this.ends.stats.inputsEnded++;
    this.input.end(false);
  }

  private heldBytes(): number {
    let n = 0;
    for (const s of this.slots) n += s.stage.held;
    return n;
  }

  private mustPause(): boolean {
    return this.ends.dest.writableNeedDrain || (this.slots.length > 0 && this.heldBytes() > HIGH_WATER);
  }

  private maybeResume(): void {
    if (!this.paused || this.ends.dest.writableNeedDrain) return;
    if (this.slots.length > 0 && this.heldBytes() > LOW_WATER) return;
    this.paused = false;
    if (!this.ends.source.destroyed) this.ends.source.resume();
  }

  private append(toxic: Toxic): void {
    this.slots.push(new Slot(toxic, this.writer, this.random));
  }

  /** Points each slot at its successor and the source at the first slot. */
  private rewire(): void {
    for (let i = 0; i < this.slots.length; i++) this.slots[i]!.next = this.slots[i + 1]?.stage ?? this.writer;
    this.input = this.slots[0]?.stage ?? this.writer;
  }

  addToxic(toxic: Toxic): void {
    if (this.outputEnded) return;
    this.append(toxic);
    this.rewire();
  }

  updateToxic(toxic: Toxic): void {
    const slot = this.slots.find((s) => s.toxic === toxic);
    if (!slot || slot.stage.closed) return;
    const held = slot.stage.interrupt();
    slot.stage = slot.build(this.random);
    this.rewire();
    replay(held, slot.stage);
  }

  removeToxic(toxic: Toxic): void {
    const i = this.slots.findIndex((s) => s.toxic === toxic);
    if (i < 0) return;
    const slot = this.slots[i]!;
    const stage = slot.stage;
    if (toxic.type === 'timeout' && !stage.closed) {
      // Toxiproxy's timeout cleanup closes the stream even when the toxicity roll had missed.
      stage.closeOutput();
      return;
    }
    const held = stage.closed ? { chunks: [], ended: false } : stage.interrupt();
    this.slots.splice(i, 1);
    this.rewire();
    replay(held, slot.next);
    if (this.paused) this.maybeResume();
  }

  /** Stops every timer: the connection is gone. */
  dispose(): void {
    for (const s of this.slots) s.stage.interrupt();
  }
}

function replay(held: Held, into: Pipe): void {
  for (const c of held.chunks) into.push(c.data, c.ts);
  if (held.ended) into.end(false);
}
