// The durability promise under SIGKILL, as a scenario the crash test files run per client
// generation: a publisher awaits every ack while the server is killed at seeded-random moments
// (with one publish in flight), restarted on the same port and store, and the publisher carries
// on through the same connection. At the end every acknowledged message is in the stream exactly
// once, at its acked sequence, in order; and a durable consumer that confirmed acks (ackAck)
// before a crash never gets those again and loses nothing else.
import { expect } from 'vitest';
import { AckPolicy } from '@nats-io/jetstream';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { tempDir } from '../../support/server.ts';
import type { RunningServer } from '../../support/server.ts';
import type { NatsConnection } from '@nats-io/nats-core';
import type { JsGeneration } from './js_clients.ts';
import { nanos, sleep, startJsServer } from './js_util.ts';

const ROUNDS = 3;
/** Concurrent publishes on the wire when an odd round's kill comes. */
const PUBLISH_WINDOW = 64;
/** Acked publishes between crashes: a seeded draw in [MIN, MIN + SPREAD). */
const MIN_ACKED_PER_ROUND = 50;
const SPREAD_ACKED_PER_ROUND = 251;
/** Short ack_wait so a message delivered but not acked before a crash comes back quickly. */
const ACK_WAIT_MS = 1000;
/** Per-publish request bound: a publish lost in the crash fails fast and is retried. */
const PUBLISH_TIMEOUT_MS = 1500;
/** Bound on one settle probe after a restart (see settle()). */
const SETTLE_REQUEST_TIMEOUT_MS = 500;
/** How long the publisher keeps retrying one message while the server comes back. */
const RETRY_BOUND_MS = 15_000;
/** Bound on the final read of the durable (covers one ack_wait for the unacked leftovers). */
const FINAL_READ_BOUND_MS = 10_000;
const STREAM = 'CRASH';
/** Per-case vitest timeout: the scenario takes ~10 s alone, more beside other servers. */
export const CRASH_TEST_TIMEOUT_MS = 60_000;

/** mulberry32: small, seedable, good enough to pick crash moments reproducibly. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const payloadOf = (id: number) => `msg-${id}`;
const publishOf = (js: JetStreamClient, id: number) =>
  js.publish(`crash.${id % 5}`, payloadOf(id), { msgID: `id-${id}`, timeout: PUBLISH_TIMEOUT_MS });

/** Publishes with a message id, retrying (same id, so the stream deduplicates) until acked. */
async function publishUntilAcked(js: JetStreamClient, id: number): Promise<PubAck> {
  const deadline = Date.now() + RETRY_BOUND_MS;
  for (;;) {
    try {
      return await publishOf(js, id);
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`publish ${id} never acked: ${String(err)}`);
      await sleep(50);
    }
  }
}

/**
 * Waits until a request round-trips on the reconnected connection. The harness sees the new
 * server's ports file before the client has redialled; a request made in that gap is buffered by
 * the client and dropped when it starts the new connection (a wire capture shows the new
 * connection carries CONNECT, PING and the SUBs but never that request), so it would only time
 * out. Client behaviour, not the server's: absorbed here so later checks start connected.
 */
async function settle(nc: NatsConnection): Promise<void> {
  const deadline = Date.now() + RETRY_BOUND_MS;
  for (;;) {
    try {
      await nc.request('$JS.API.INFO', '', { timeout: SETTLE_REQUEST_TIMEOUT_MS });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no request round-trips after restart: ${String(err)}`);
    }
  }
}

/** Runs the scenario; a failure names the phase it happened in and the seed. */
export async function runCrashScenario(gen: JsGeneration, workers: number, seed: number): Promise<void> {
  const rand = prng(seed);
  const dir = tempDir('petrel-js-crash-');
  let phase = 'start';
  let srv: RunningServer = await startJsServer({ workers, dir });
  const port = srv.port;
  const nc = await gen.connect({ servers: srv.url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
  try {
    const js = gen.js(nc);
    const jsm = await gen.jsm(nc);
    phase = 'setup';
    await jsm.streams.add({ name: STREAM, subjects: ['crash.*'], duplicate_window: nanos(120_000) });
    await jsm.consumers.add(STREAM, { durable_name: 'reader', ack_policy: AckPolicy.Explicit, ack_wait: nanos(ACK_WAIT_MS) });

    const acked: { seq: number; id: number }[] = [];
    /** Stream sequences whose ack the server confirmed (ackAck resolved true). */
    const confirmed = new Set<number>();
    const redeliveredConfirmed: number[] = [];
    let nextId = 0;

    for (let round = 0; round < ROUNDS; round++) {
      phase = `round ${round}: publishing`;
      const target = MIN_ACKED_PER_ROUND + rand(SPREAD_ACKED_PER_ROUND);
      for (let i = 0; i < target; i++) {
        const id = nextId++;
        const ack = await publishUntilAcked(js, id);
        acked.push({ seq: ack.seq, id });
      }

      // The durable reads some, confirms all but the last, which stays delivered-unacked.
      phase = `round ${round}: consuming`;
      const c = await js.consumers.get(STREAM, 'reader');
      const take = 5 + rand(40);
      const batch: { seq: number; ack: () => Promise<boolean> }[] = [];
      for await (const m of await c.fetch({ max_messages: take, expires: 3000 })) {
        if (confirmed.has(m.seq)) redeliveredConfirmed.push(m.seq);
        batch.push({ seq: m.seq, ack: () => m.ackAck() });
      }
      for (const b of batch.slice(0, -1)) {
        expect(await b.ack()).toBe(true);
        confirmed.add(b.seq);
      }

      // The crash. Even rounds: one publish on the wire, a random sliver of time, SIGKILL.
      // Odd rounds: a window of concurrent publishes (one group commit after another) and the
      // kill as soon as a seeded number of them has been acked, the rest still in flight.
      phase = `round ${round}: crash and restart`;
      const windowIds = Array.from({ length: round % 2 === 0 ? 1 : PUBLISH_WINDOW }, () => nextId++);
      const killAfterAcks = round % 2 === 0 ? 0 : rand(PUBLISH_WINDOW / 2);
      let kill: Promise<void> | undefined;
      let acksSeen = 0;
      const results = windowIds.map((id) =>
        publishOf(js, id).then(
          (a) => {
            if (++acksSeen === killAfterAcks) kill ??= srv.kill();
            return a;
          },
          () => null,
        ),
      );
      if (killAfterAcks === 0) {
        await sleep(rand(3));
        kill ??= srv.kill();
      }
      const settled = await Promise.all(results);
      // A fast server may have acked the whole window before the seeded count fired the kill.
      await (kill ?? srv.kill());
      srv = await startJsServer({ workers, dir, port });
      // Acked before the kill, or retried in id order under the same id: exactly one copy each.
      phase = `round ${round}: in-flight publishes`;
      for (let i = 0; i < windowIds.length; i++) {
        const ack = settled[i] ?? (await publishUntilAcked(js, windowIds[i]!));
        acked.push({ seq: ack.seq, id: windowIds[i]! });
      }
      phase = `round ${round}: settle`;
      await settle(nc);
    }

    phase = 'verify acks';
    // Acks came back in publish order with strictly increasing sequences.
    for (let i = 1; i < acked.length; i++) expect(acked[i]!.seq).toBeGreaterThan(acked[i - 1]!.seq);

    // The stream: contiguous from 1 (nothing lost in the middle), each id at most once.
    phase = 'verify stream';
    const si = await jsm.streams.info(STREAM);
    const total = si.state.messages;
    expect(si.state.first_seq).toBe(1);
    expect(total).toBe(si.state.last_seq);
    const stored = new Map<number, string>();
    const seenBodies = new Set<string>();
    phase = 'verify stream: ordered consumer';
    const reader = await js.consumers.get(STREAM);
    phase = 'verify stream: ordered read';
    for await (const m of await reader.fetch({ max_messages: total, expires: 5000 })) {
      const body = m.string();
      expect(seenBodies.has(body), `payload ${body} stored twice`).toBe(false);
      seenBodies.add(body);
      stored.set(m.seq, body);
    }
    expect(stored.size).toBe(total);
    for (const { seq, id } of acked) expect(stored.get(seq), `acked seq ${seq}`).toBe(payloadOf(id));

    // The durable: everything it never confirmed comes (again), nothing it confirmed does.
    phase = 'verify durable';
    const c = await js.consumers.get(STREAM, 'reader');
    const rest = new Set<number>();
    const deadline = Date.now() + FINAL_READ_BOUND_MS;
    while (confirmed.size + rest.size < total && Date.now() < deadline) {
      const want = total - confirmed.size - rest.size;
      try {
        for await (const m of await c.fetch({ max_messages: want, expires: 3000 })) {
          if (confirmed.has(m.seq)) redeliveredConfirmed.push(m.seq);
          rest.add(m.seq);
          await m.ackAck();
        }
      } catch (err) {
        // On a loaded box v3's fetch may give up on a late heartbeat; whatever that request was
        // sent comes again after ack_wait, so just pull again (the loop is bounded).
        if (!/heartbeats missed/.test(String(err))) throw err;
      }
    }
    expect(redeliveredConfirmed, 'confirmed acks delivered again').toEqual([]);
    const all = [...confirmed, ...rest].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const ci = await jsm.consumers.info(STREAM, 'reader');
    expect(ci.num_pending).toBe(0);
    expect(ci.num_ack_pending).toBe(0);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message = `[seed ${seed}, ${phase}] ${e.message}`;
    throw e;
  } finally {
    await nc.close().catch(() => undefined);
    await srv.stop();
  }
}
