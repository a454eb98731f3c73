// Helpers shared by the JetStream integration tests: a JetStream-enabled server, servers
// shared per worker count within a file, connection bookkeeping and failure bounds. Timeouts
// here only bound a failing test; a passing test never waits on time unless time is the feature.

import type { NatsConnection } from '@nats-io/nats-core';
import { startServer, tempDir } from '../../support/server.ts';
import type { RunningServer, StartOptions } from '../../support/server.ts';
import type { JsConnectOpts, JsGeneration } from './js_clients.ts';

/** How long an expected event may take before the test fails (generous: CI boxes are slow). */
export const EVENT_BOUND_MS = 5_000;

export function within<T>(p: Promise<T>, label: string, ms = EVENT_BOUND_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

/** Starts a server with JetStream storing under `<dir>/js`; pass `dir` to restart on one store. */
export function startJsServer(opts: StartOptions & { dir?: string } = {}): Promise<RunningServer> {
  const dir = opts.dir ?? tempDir('petrel-js-');
  const config = `jetstream { store_dir: "${dir}/js" }\n${opts.config ?? ''}`;
  return startServer({ ...opts, dir, config });
}

/** Servers shared by the describe blocks of one file: one per key (e.g. per worker count). */
export class SharedServers {
  private readonly started = new Map<string, Promise<RunningServer>>();

  get(key: string, start: () => Promise<RunningServer>): Promise<RunningServer> {
    let s = this.started.get(key);
    if (!s) {
      s = start();
      this.started.set(key, s);
    }
    return s;
  }

  async stopAll(): Promise<void> {
    const all = [...this.started.values()];
    this.started.clear();
    await Promise.all(all.map((p) => p.then((s) => s.stop(), () => undefined)));
  }
}

/** Opens connections and closes whatever is still open at the end of a test. */
export class JsConnectionPool {
  private readonly open: NatsConnection[] = [];
  private readonly gen: JsGeneration;

  constructor(gen: JsGeneration) {
    this.gen = gen;
  }

  async connect(opts: JsConnectOpts): Promise<NatsConnection> {
    const nc = await this.gen.connect(opts);
    this.open.push(nc);
    return nc;
  }

  async closeAll(): Promise<void> {
    const all = this.open.splice(0);
    await Promise.all(all.map((nc) => (nc.isClosed() ? undefined : nc.close().catch(() => undefined))));
  }
}

/** Runs `fn`, expecting it to reject; returns the rejection (fails the test if it resolved). */
export async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the call resolved');
}

/** Unique names per test, so tests sharing one server never collide. */
let nameCounter = 0;
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}_${process.pid}_${nameCounter}`;
}

/** Polls `check` until it returns true; only for features where time is the point (ttl, ack_wait). */
export async function pollUntil(check: () => Promise<boolean>, label: string, boundMs = EVENT_BOUND_MS, stepMs = 50): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${boundMs} ms: ${label}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nanoseconds from milliseconds, for JetStream config durations. */
export const nanos = (ms: number): number => ms * 1_000_000;
