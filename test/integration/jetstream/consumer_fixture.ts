// What each consumer test starts from, shared by consumers.test.ts and its time-driven half
// consumer_timing.test.ts: a fresh connection with a stream of its own, explicit-ack durables
// and an ordered publish.

import { AckPolicy } from '@nats-io/jetstream';
import type { ConsumerConfig, ConsumerInfo, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { JsGeneration } from './js_clients.ts';
import type { JsConnectionPool } from './js_util.ts';
import { uniqueName } from './js_util.ts';

export interface StreamFixture {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
}

/**
 * Connects through `pool` and adds a uniquely named stream, so tests sharing one server never
 * see each other's messages. `subjects` maps the stream's name to its subjects (default `<name>.>`).
 */
export async function connectWithStream(
  gen: JsGeneration,
  pool: JsConnectionPool,
  url: string,
  subjects?: (name: string) => string[],
): Promise<StreamFixture> {
  const nc = await pool.connect({ servers: url });
  const js = gen.js(nc);
  const jsm: JetStreamManager = await gen.jsm(nc);
  const stream = uniqueName('C');
  await jsm.streams.add({ name: stream, subjects: subjects ? subjects(stream) : [`${stream}.>`] });
  return { nc, js, jsm, stream };
}

/** Adds a consumer with explicit acks unless `cfg` says otherwise. */
export function durable(jsm: JetStreamManager, stream: string, cfg: Partial<ConsumerConfig>): Promise<ConsumerInfo> {
  return jsm.consumers.add(stream, { ack_policy: AckPolicy.Explicit, ...cfg });
}

/** Publishes in order, each awaited, so stream sequences follow the list. */
export async function publishAll(js: JetStreamClient, items: [subject: string, payload: string][]): Promise<void> {
  for (const [s, p] of items) await js.publish(s, p);
}
