// A mirror's or source's origin in another JetStream domain (`external: { api, deliver }`), fed
// the way nats-server's setupMirrorConsumer/setSourceConsumer do it: a direct push consumer is
// created on the origin through `<api>.CONSUMER.CREATE.<stream>` (no acks, flow control, a
// heartbeat every second) delivering to `<deliver>.M|S.<id>`; every delivery's ack reply names
// its origin sequence, so the copy resumes where it stopped, and a consumer that goes quiet for
// three heartbeats is created again from the next sequence. The copying itself (mirror at the
// origin's sequence, source through the normal checks) is the stream's.

import type { StoredMessage } from './store/index.ts';
import type { BusSubscription } from './bus.ts';
import type { JsContext } from './seams.ts';
import type { StreamSourceConfig } from './stream_config.ts';
import { ACK_PREFIX } from './consumers/wire.ts';

/** nats-server's sourceHealthCheckInterval: the origin consumer's heartbeat. */
const HEARTBEAT_MS = 1000;
/** Three missed heartbeats and the origin consumer is created again. */
const STALE_MS = 3 * HEARTBEAT_MS;
/** nats-server's sourceConsumerRetryThreshold: the least time between two create requests. */
const RETRY_MS = 2000;
/** nats-server asks for this ack wait (a direct consumer never waits on it). */
const ACK_WAIT_NS = 22 * 3600 * 1e9;
const EMPTY = new Uint8Array(0);

/** The follower an external feed copies into. */
export interface FeedTarget {
  readonly kind: 'mirror' | 'source';
  readonly spec: StreamSourceConfig;
  /** The next origin sequence wanted. */
  nextSeq: number;
  lastActiveMs: number;
  /** Copies one origin message (mirror: at its sequence; source: through the stream's checks). */
  copy(msg: StoredMessage): Promise<void>;
  /** The stream this follower belongs to, for log lines. */
  readonly streamName: string;
}

/** A random token as nats-server puts in its sync subjects. */
function token(n = 8): string {
  const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let s = '';
  for (let i = 0; i < n; i++) s += digits[Math.floor(Math.random() * digits.length)];
  return s;
}

/** The numbers of `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>`. */
function ackNumbers(reply: string): { seq: number; timeNs: bigint; pending: number } | null {
  if (!reply.startsWith(ACK_PREFIX)) return null;
  const t = reply.split('.');
  if (t.length < 9) return null;
  const seq = Number(t[t.length - 4]);
  const pending = Number(t[t.length - 1]);
  let timeNs: bigint;
  try {
    timeNs = BigInt(t[t.length - 2]!);
  } catch {
    return null;
  }
  return Number.isSafeInteger(seq) && seq > 0 ? { seq, timeNs, pending: Number.isFinite(pending) ? pending : 0 } : null;
}

export class ExternalFeed {
  private readonly target: FeedTarget;
  private readonly ctx: JsContext;
  private sub: BusSubscription | null = null;
  private inbox: BusSubscription | null = null;
  private consumer = '';
  private lastHeard = 0;
  private lastRequest = 0;
  private pending = 0;
  private timer: unknown = null;
  private stopped = false;
  /** Deliveries are copied one after another, in order (each copy may wait for an fsync). */
  private chain: Promise<void> = Promise.resolve();

  constructor(target: FeedTarget, ctx: JsContext) {
    this.target = target;
    this.ctx = ctx;
  }

  /** Messages the origin had not delivered yet at its last delivery. */
  lag(): number {
    return this.pending;
  }

  start(): void {
    this.create();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
    if (this.timer !== null) this.ctx.scheduler.clearTimeout(this.timer);
    this.timer = null;
  }

  private get api(): string {
    return this.target.spec.external!.api.replace(/\.$/, '');
  }

  private tick(): void {
    this.timer = this.ctx.scheduler.setTimeout(() => {
      if (this.stopped) return;
      const now = this.ctx.scheduler.now();
      if (now - this.lastHeard > STALE_MS && now - this.lastRequest >= RETRY_MS) this.create();
      this.tick();
    }, HEARTBEAT_MS);
  }

  /** Drops the current origin consumer (best effort: an unwatched direct consumer also expires there). */
  private cancel(): void {
    this.sub?.unsubscribe();
    this.inbox?.unsubscribe();
    this.sub = null;
    this.inbox = null;
    if (this.consumer !== '') {
      this.ctx.bus.publish(`${this.api}.CONSUMER.DELETE.${this.target.spec.name}.${this.consumer}`, null, null, EMPTY);
      this.consumer = '';
    }
  }

  /** nats-server's setSourceConsumer / setupMirrorConsumer: a direct push consumer from the next sequence. */
  private create(): void {
    this.cancel();
    const { spec, kind } = this.target;
    const ext = spec.external!;
    const letter = kind === 'mirror' ? 'M' : 'S';
    const deliver = ext.deliver ? `${ext.deliver}.${letter}.${token()}`.replace(/\.\./g, '.') : `$JS.${letter}.${token()}`;
    const start = this.target.nextSeq;
    const config: Record<string, unknown> = {
      deliver_subject: deliver,
      ack_policy: 'none',
      ack_wait: ACK_WAIT_NS,
      max_deliver: 1,
      idle_heartbeat: HEARTBEAT_MS * 1e6,
      flow_control: true,
      direct: true,
    };
    if (start > 1) {
      config['deliver_policy'] = 'by_start_sequence';
      config['opt_start_seq'] = start;
    } else if (spec.opt_start_time) {
      config['deliver_policy'] = 'by_start_time';
      config['opt_start_time'] = spec.opt_start_time;
    } else {
      config['deliver_policy'] = 'all';
    }
    if (spec.filter_subject) config['filter_subject'] = spec.filter_subject;
    const now = this.ctx.scheduler.now();
    this.lastRequest = now;
    this.lastHeard = now;
    // Deliveries may start before the answer: subscribe first (as nats-server does).
    this.sub = this.ctx.bus.subscribe(deliver, null, (subject, reply, hdr, data) => this.delivery(subject, reply, hdr, data));
    const inbox = `$JS.I.${token(22)}`;
    this.inbox = this.ctx.bus.subscribe(inbox, null, (_s, _r, _h, data) => this.created(data));
    this.ctx.bus.publish(`${this.api}.CONSUMER.CREATE.${spec.name}`, inbox, null, Buffer.from(JSON.stringify({ stream_name: spec.name, config })));
  }

  private created(data: Uint8Array): void {
    this.inbox?.unsubscribe();
    this.inbox = null;
    let res: { error?: { description?: string }; name?: string };
    try {
      res = JSON.parse(Buffer.from(data).toString('utf8')) as typeof res;
    } catch {
      res = { error: { description: 'invalid JSON' } };
    }
    if (res.error || !res.name) {
      // Retried by the health check once the retry threshold has passed.
      this.ctx.logger.warn({ stream: this.target.streamName, origin: this.target.spec.name, error: res.error?.description }, `JetStream error response for create ${this.target.kind} consumer`);
      this.lastHeard = 0;
      return;
    }
    this.consumer = res.name;
  }

  private delivery(subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    this.lastHeard = this.ctx.scheduler.now();
    // Status messages: "NATS/1.0 100 ..." — a flow-control request is answered, a heartbeat only heard.
    if (hdr !== null && hdr.length >= 12 && hdr[9] === 0x31 && hdr[10] === 0x30 && hdr[11] === 0x30) {
      if (reply !== null) this.ctx.bus.publish(reply, null, null, EMPTY);
      return;
    }
    const at = reply === null ? null : ackNumbers(reply);
    if (at === null) return;
    this.pending = at.pending;
    if (at.seq < this.target.nextSeq) return;
    const msg: StoredMessage = { seq: at.seq, subject, hdr: hdr !== null && hdr.length > 0 ? Uint8Array.from(hdr) : null, data: Uint8Array.from(data), time: at.timeNs };
    this.target.nextSeq = at.seq + 1;
    this.chain = this.chain.then(async () => {
      if (this.stopped) return;
      await this.target.copy(msg);
      this.target.lastActiveMs = this.ctx.scheduler.now();
    });
    this.chain.catch((err: unknown) => {
      this.ctx.logger.error({ stream: this.target.streamName, origin: this.target.spec.name, err: String(err) }, `JetStream ${this.target.kind} copy failed`);
      // Start again from the last message copied.
      this.target.nextSeq = Math.min(this.target.nextSeq, at.seq);
      this.chain = Promise.resolve();
      this.lastHeard = 0;
    });
  }
}
