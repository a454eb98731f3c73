// Test rig for consumers: a deterministic clock, a synchronous bus that can deliver under another
// subject (as the server's bus must), a small stream over a real store, and a recording client.

import type { Logger } from '../../../../src/log.ts';
import { InMemoryBus, type BusSub, type BusSubscription } from '../../../../src/jetstream/bus.ts';
import type { DeliverAsBus } from '../../../../src/jetstream/consumers/consumer.ts';
import { createConsumerApi, type ConsumerManager } from '../../../../src/jetstream/consumers/index.ts';
import type { ApiError, ConsumerForStream, JsContext, Retention, StreamChange, StreamForConsumers } from '../../../../src/jetstream/seams.ts';
import { MemoryStore, type StreamStore } from '../../../../src/jetstream/store/index.ts';
import { parseHeaders } from '../../../../src/protocol/headers.ts';
import { subjectMatches } from '../../../../src/routing/subjects.ts';
import { FakeScheduler } from '../../../support/fake_scheduler.ts';

export { FakeScheduler, START_MS } from '../../../support/fake_scheduler.ts';

/** The in-memory bus, with the first queue member always picked and every publish recorded. */
export class TestBus extends InMemoryBus implements DeliverAsBus {
  published: { subject: string; reply: string | null }[] = [];

  protected override pickMember(group: readonly BusSub[]): BusSub {
    return group[0]!;
  }
  override publish(subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    this.publishAs(subject, subject, reply, hdr, data);
  }
  publishAs(route: string, subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    this.published.push({ subject: route, reply });
    this.route(route, subject, reply, hdr, data);
  }
}

export interface Received {
  subject: string;
  reply: string | null;
  status: number;
  description: string;
  headers: Map<string, string[]>;
  data: string;
}

/** A subscriber that records what it gets. */
export class Inbox {
  readonly subject: string;
  readonly msgs: Received[] = [];
  private readonly sub: BusSubscription;
  /** Called for each message (e.g. to ack synchronously). */
  onMsg: ((m: Received) => void) | null = null;

  constructor(bus: TestBus, subject: string, queue: string | null = null) {
    this.subject = subject;
    this.sub = bus.subscribe(subject, queue, (s, reply, hdr, data) => {
      const h = hdr ? parseHeaders(hdr) : null;
      const m: Received = {
        subject: s,
        reply,
        status: h?.status ?? 0,
        description: h?.description ?? '',
        headers: h?.headers ?? new Map(),
        data: Buffer.from(data).toString('utf8'),
      };
      this.msgs.push(m);
      this.onMsg?.(m);
    });
  }
  /** Data messages (no status). */
  get data(): Received[] {
    return this.msgs.filter((m) => m.status === 0);
  }
  get statuses(): Received[] {
    return this.msgs.filter((m) => m.status !== 0);
  }
  clear(): void {
    this.msgs.length = 0;
  }
  close(): void {
    this.sub.unsubscribe();
  }
}

export class FakeStream implements StreamForConsumers {
  readonly name: string;
  readonly retention: Retention;
  readonly store: StreamStore;
  readonly subjects: readonly string[];
  readonly consumerDir: string | null;
  private readonly listeners = new Set<(ev: StreamChange) => void>();
  readonly registered = new Map<string, ConsumerForStream>();
  readonly done: [string, number][] = [];
  extraConfig: Record<string, unknown> = {};
  private readonly sched: FakeScheduler;

  constructor(opts: { name?: string; retention?: Retention; store?: StreamStore; subjects?: string[]; consumerDir?: string | null; sched: FakeScheduler }) {
    this.name = opts.name ?? 'S';
    this.retention = opts.retention ?? 'limits';
    this.store = opts.store ?? new MemoryStore();
    this.subjects = opts.subjects ?? ['foo.>'];
    this.consumerDir = opts.consumerDir ?? null;
    this.sched = opts.sched;
  }
  configJson(): Record<string, unknown> {
    return { name: this.name, subjects: [...this.subjects], retention: this.retention, num_replicas: 1, ...this.extraConfig };
  }
  onChange(listener: (ev: StreamChange) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  emit(ev: StreamChange): void {
    for (const l of [...this.listeners]) l(ev);
  }
  async publish(subject: string, data = '', hdr: Uint8Array | null = null): Promise<number> {
    const { seq } = await this.store.store(subject, hdr, Buffer.from(data), this.sched.nowNs());
    this.emit({ kind: 'append', seq, subject });
    return seq;
  }
  remove(seq: number): void {
    if (this.store.remove(seq)) this.emit({ kind: 'remove', seq });
  }
  consumerDone(consumerName: string, seq: number): void {
    this.done.push([consumerName, seq]);
    const msg = this.store.load(seq);
    if (msg === null) return;
    if (this.retention === 'workqueue') {
      this.remove(seq);
      return;
    }
    for (const c of this.registered.values()) {
      const interested = c.filters.length === 0 || c.filters.some((f) => subjectMatches(msg.subject, f));
      if (interested && !c.isDone(seq)) return;
    }
    this.remove(seq);
  }
  registerConsumer(c: ConsumerForStream): void {
    this.registered.set(c.name, c);
  }
  unregisterConsumer(name: string): void {
    this.registered.delete(name);
  }
}

export const silentLogger = {
  warn: () => {},
  error: () => {},
  info: () => {},
  debug: () => {},
  trace: () => {},
  fatal: () => {},
} as unknown as Logger;

export interface Rig {
  sched: FakeScheduler;
  bus: TestBus;
  stream: FakeStream;
  api: ConsumerManager;
  ctx: JsContext;
  advisories: { suffix: string; body: Record<string, unknown> }[];
  /** Sends a CONSUMER.* API request; returns the handler's answer. */
  call(tokens: string, body?: unknown): Record<string, unknown> | ApiError | undefined;
  /** Creates a consumer through CONSUMER.CREATE.<stream>.<name> (or DURABLE/legacy by tokens); throws on error. */
  create(config: Record<string, unknown>, tokens?: string): Record<string, unknown>;
  /** Pull request: MSG.NEXT with a reply inbox that must be subscribed already. */
  next(consumer: string, reply: string, body?: unknown): void;
}

export function makeRig(opts: { retention?: Retention; store?: StreamStore; subjects?: string[]; consumerDir?: string | null; sched?: FakeScheduler; bus?: TestBus; fcWindow?: number } = {}): Rig {
  const sched = opts.sched ?? new FakeScheduler();
  const bus = opts.bus ?? new TestBus();
  const stream = new FakeStream({ ...opts, sched });
  const advisories: Rig['advisories'] = [];
  const ctx: JsContext = {
    bus,
    scheduler: sched,
    logger: silentLogger,
    domain: undefined,
    advisory: (suffix, body) => void advisories.push({ suffix, body }),
  };
  const api = createConsumerApi(ctx, opts.fcWindow ? { flowControlMaxPendingBytes: opts.fcWindow } : {});
  const call: Rig['call'] = (tokens, body) => {
    const data = body === undefined ? new Uint8Array(0) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return api.handle(stream, { tokens: tokens.split('.'), reply: '_INBOX.api', data, hdr: null });
  };
  const create: Rig['create'] = (config, tokens) => {
    const name = (config['durable_name'] ?? config['name']) as string | undefined;
    const t = tokens ?? (name ? `CONSUMER.CREATE.${stream.name}.${name}` : `CONSUMER.CREATE.${stream.name}`);
    const r = call(t, { stream_name: stream.name, config });
    if (r === undefined || 'err_code' in r) throw new Error(`create failed: ${JSON.stringify(r)}`);
    return r;
  };
  const next: Rig['next'] = (consumer, reply, body) => {
    const data = body === undefined ? new Uint8Array(0) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const r = api.handle(stream, { tokens: ['CONSUMER', 'MSG', 'NEXT', stream.name, consumer], reply, data, hdr: null });
    if (r !== undefined) throw new Error(`MSG.NEXT answered ${JSON.stringify(r)}`);
  };
  return { sched, bus, stream, api, ctx, advisories, call, create, next };
}

/** Acks a received message by publishing `body` on its reply subject (optionally asking for a double-ack reply). */
export function ack(bus: TestBus, m: Received, body = '+ACK', reply: string | null = null): void {
  bus.publish(m.reply!, reply, null, Buffer.from(body));
}

export function seqOf(m: Received): { dc: number; sseq: number; dseq: number; pending: number } {
  const t = m.reply!.split('.');
  return { dc: Number(t[4]), sseq: Number(t[5]), dseq: Number(t[6]), pending: Number(t[8]) };
}

export const MS = 1_000_000;
export const SEC = 1_000_000_000;
