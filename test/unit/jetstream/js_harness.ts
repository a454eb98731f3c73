// Test harness for the JetStream engine: an InMemoryBus, a scheduler whose clock only moves when
// the test says so, a silent logger, a temp store directory, and request helpers that wait for the
// (asynchronous, fsync-gated) reply.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach } from 'vitest';
import { InMemoryBus, type Scheduler } from '../../../src/jetstream/bus.ts';
import { JetStream, type JetStreamOptions } from '../../../src/jetstream/jetstream.ts';
import { buildHeaders, parseHeaders } from '../../../src/protocol/headers.ts';

export const silentLogger = pino({ level: 'silent' });

interface Timer {
  at: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that starts at a fixed instant and moves only through advance(). */
export class FakeScheduler implements Scheduler {
  ms = Date.UTC(2026, 0, 2, 3, 4, 5);
  private timers: Timer[] = [];

  now(): number {
    return this.ms;
  }

  nowNs(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const t: Timer = { at: this.ms + Math.max(0, ms), fn, cancelled: false };
    this.timers.push(t);
    return t;
  }

  clearTimeout(handle: unknown): void {
    (handle as Timer).cancelled = true;
  }

  /** Moves the clock, running due timers in time order. */
  advance(ms: number): void {
    const end = this.ms + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.ms = Math.max(this.ms, due.at);
      due.cancelled = true;
      due.fn();
    }
    this.ms = end;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }
}

export interface Reply {
  subject: string;
  hdr: Uint8Array | null;
  data: Buffer;
  json<T = Record<string, unknown>>(): T;
  status(): number;
  header(key: string): string | undefined;
}

function toReply(subject: string, hdr: Uint8Array | null, data: Uint8Array): Reply {
  const body = Buffer.from(data);
  const h = hdr === null ? null : new Uint8Array(hdr);
  return {
    subject,
    hdr: h,
    data: body,
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
    status: () => (h === null ? 0 : (parseHeaders(h)?.status ?? 0)),
    header: (key) => (h === null ? undefined : parseHeaders(h)?.headers.get(key)?.[0]),
  };
}

export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export class Harness {
  readonly bus = new InMemoryBus();
  readonly sched = new FakeScheduler();
  readonly dir: string;
  js!: JetStream;
  private inboxSeq = 0;

  constructor(dir?: string) {
    this.dir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-js-'));
  }

  async start(extra: Partial<JetStreamOptions> = {}): Promise<JetStream> {
    this.js = new JetStream({
      bus: this.bus,
      scheduler: this.sched,
      logger: silentLogger,
      storeDir: this.dir,
      maxMemory: 1 << 30,
      maxStore: 1 << 30,
      syncIntervalMs: 0,
      serverName: 'test-server',
      serverId: 'NTESTSERVER',
      ...extra,
    });
    await this.js.start();
    return this.js;
  }

  /** A fresh engine on the same directory and bus (restart). */
  async restart(extra: Partial<JetStreamOptions> = {}): Promise<JetStream> {
    await this.js.stop();
    return this.start(extra);
  }

  async close(): Promise<void> {
    await this.js?.stop().catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Publishes with a reply inbox and waits for the first reply (or null after `waitMs`). */
  async request(subject: string, body: string | Uint8Array | object = '', hdr: Record<string, string> | Uint8Array | null = null, waitMs = 5000): Promise<Reply | null> {
    const inbox = `_INBOX.h.${++this.inboxSeq}`;
    let got: Reply | null = null;
    const sub = this.bus.subscribe(inbox, null, (s, _r, h, d) => {
      if (got === null) got = toReply(s, h, d);
    });
    const data = typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body));
    const h = hdr === null ? null : hdr instanceof Uint8Array ? hdr : buildHeaders({ headers: hdr });
    this.bus.publish(subject, inbox, h, data);
    const deadline = Date.now() + waitMs;
    while (got === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    sub.unsubscribe();
    return got;
  }

  async api(op: string, body: string | object = ''): Promise<Record<string, unknown>> {
    const r = await this.request(`$JS.API.${op}`, body);
    if (r === null) throw new Error(`no reply to ${op}`);
    return r.json();
  }

  async createStream(cfg: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.api(`STREAM.CREATE.${String(cfg['name'])}`, cfg);
  }

  /** Publishes and returns the parsed publish ack. */
  async publish(subject: string, data: string | Uint8Array = '', hdr: Record<string, string> | null = null): Promise<Record<string, unknown>> {
    const r = await this.request(subject, data, hdr);
    if (r === null) throw new Error(`no ack for ${subject}`);
    return r.json();
  }

  /** Collects every message published on `subject` until stopped. */
  collect(subject: string): { msgs: Reply[]; stop(): void } {
    const msgs: Reply[] = [];
    const sub = this.bus.subscribe(subject, null, (s, _r, h, d) => msgs.push(toReply(s, h, d)));
    return { msgs, stop: () => sub.unsubscribe() };
  }
}

export function errCode(resp: Record<string, unknown>): number | undefined {
  return (resp['error'] as { err_code?: number } | undefined)?.err_code;
}

/** Polls `check` until it returns true (async work like mirror copies goes through real fsyncs). */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Gives each test of the calling file a started Harness (handed over through `use`) and closes it after. */
export function harnessPerTest(use: (h: Harness) => void): void {
  let current: Harness;
  beforeEach(async () => {
    current = new Harness();
    await current.start();
    use(current);
  });
  afterEach(async () => {
    await current.close();
  });
}
