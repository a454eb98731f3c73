// Small helpers shared by the integration tests: failure bounds for awaited events, message
// collection, connection bookkeeping and free ports. Timeouts here only bound a failing test;
// nothing waits on time to make a passing test pass.

import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import type { ClientGeneration, ConnectOpts } from './clients.ts';
import { restartablePorts } from '../../chaos/cluster/ports.ts';

/** How long an expected event may take before the test fails (generous: CI boxes are slow). */
export const EVENT_BOUND_MS = 5_000;

export function within<T>(p: Promise<T>, label: string, ms = EVENT_BOUND_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

/** Reads exactly `n` messages from an iterator subscription. */
export async function collect(sub: Subscription, n: number, label = `${n} messages on ${sub.getSubject()}`): Promise<Msg[]> {
  const got: Msg[] = [];
  if (n === 0) return got;
  const run = async () => {
    for await (const m of sub) {
      got.push(m);
      if (got.length === n) break;
    }
    return got;
  };
  return within(run(), `${label} (got ${got.length})`);
}

/** Resolves the returned promise when `settle` is called; handy to turn a callback into an await. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Anything that opens a connection from options: a core or a JetStream client generation. */
export interface Connector<Opts> {
  connect(opts: Opts): Promise<NatsConnection>;
}

/** Runs `fn`, expecting it to reject; returns the rejection (fails the test with `whenResolved` if it resolved). */
export async function rejection(fn: () => Promise<unknown>, whenResolved = 'expected a rejection, but the call resolved'): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error(whenResolved);
}

/** Connects once (no reconnects) expecting a refusal; an accepted connection is closed and fails the test with `whenAccepted`. */
export function connectRefusal(gen: ClientGeneration, opts: ConnectOpts, whenAccepted: string): Promise<unknown> {
  return rejection(async () => {
    const nc = await gen.connect({ ...opts, reconnect: false });
    await nc.close();
  }, whenAccepted);
}

/** Opens connections and closes whatever is still open at the end of a test. */
export class ConnectionPool<Opts = ConnectOpts> {
  private readonly open: NatsConnection[] = [];
  private readonly gen: Connector<Opts>;

  constructor(gen: Connector<Opts>) {
    this.gen = gen;
  }

  async connect(opts: Opts): Promise<NatsConnection> {
    const nc = await this.gen.connect(opts);
    this.open.push(nc);
    return nc;
  }

  async closeAll(): Promise<void> {
    const all = this.open.splice(0);
    await Promise.all(all.map((nc) => (nc.isClosed() ? undefined : nc.close().catch(() => undefined))));
  }
}

/** A port nobody listens on now, outside the kernel's ephemeral range (safe to restart a server on). */
export async function freePort(): Promise<number> {
  return (await restartablePorts(1))[0]!;
}

export const text = new TextEncoder();

/**
 * Servers shared by the describe blocks of one file (both client generations use the same
 * server per worker count), so a file starts each configuration once. Stop them in a top-level
 * afterAll, which runs after every describe's own afterAll has closed its clients.
 */
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

/**
 * The hooks of a describe block that runs one client generation against the file's shared
 * server for `workers` (made by `start` on first use): `onServer` gets the server before the
 * first test, and the returned pool's connections close after every test.
 */
export function onSharedServer<Opts = ConnectOpts>(
  servers: SharedServers,
  gen: Connector<Opts>,
  workers: number,
  onServer: (srv: RunningServer) => void,
  start: () => Promise<RunningServer> = () => startServer({ workers }),
): ConnectionPool<Opts> {
  const pool = new ConnectionPool(gen);
  beforeAll(async () => {
    onServer(await servers.get(`workers ${workers}`, start));
  });
  afterEach(() => pool.closeAll());
  afterAll(() => pool.closeAll());
  return pool;
}
