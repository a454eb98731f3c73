// The two official client generations' JetStream faces behind one small adapter, so every
// JetStream case runs against both: `nats` v2 (`nc.jetstream()`, `js.views.kv/os`) and v3
// (`@nats-io/jetstream`, `@nats-io/kv`, `@nats-io/obj`). Objects are typed with the v3 types;
// v2's are structurally the same for every call these tests make, and where they differ
// (connection, KV/object-store entry points, push subscriptions, error shapes) the adapter
// speaks each generation's own API.

import * as v2 from 'nats';
import * as v3 from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { KV, KvOptions } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { ObjectStore, ObjectStoreOptions } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/nats-core';

export interface JsConnectOpts {
  servers: string;
  name?: string;
  user?: string;
  pass?: string;
  reconnect?: boolean;
  maxReconnectAttempts?: number;
  reconnectTimeWait?: number;
  timeout?: number;
}

/** A running push subscription: what it received so far and how to stop it. */
export interface PushHandle {
  stop(): Promise<void>;
}

export interface JsGeneration {
  name: string;
  connect(opts: JsConnectOpts): Promise<NatsConnection>;
  js(nc: NatsConnection): JetStreamClient;
  jsm(nc: NatsConnection): Promise<JetStreamManager>;
  /** Creates the bucket (or binds to it when it exists with the same config). */
  kv(nc: NatsConnection, bucket: string, opts?: Partial<KvOptions>): Promise<KV>;
  /** Binds to an existing bucket without creating it. */
  openKv(nc: NatsConnection, bucket: string): Promise<KV>;
  os(nc: NatsConnection, bucket: string, opts?: Partial<ObjectStoreOptions>): Promise<ObjectStore>;
  /** The JetStream `err_code` carried by an API error, or undefined if it is not one. */
  errCode(err: unknown): number | undefined;
  /** The JetStream error description carried by an API error. */
  errDescription(err: unknown): string | undefined;
  /**
   * Consumes an existing push consumer (created with a deliver_subject, optionally a
   * deliver_group) through the generation's own push API; each message goes to `onMsg`.
   */
  consumePush(nc: NatsConnection, stream: string, durable: string, queue: string | undefined, onMsg: (m: JsMsg) => void): Promise<PushHandle>;
}

export const jsV2: JsGeneration = {
  name: 'nats v2',
  connect: async (opts) => (await v2.connect(opts)) as unknown as NatsConnection,
  js: (nc) => (nc as unknown as v2.NatsConnection).jetstream() as unknown as JetStreamClient,
  jsm: async (nc) => (await (nc as unknown as v2.NatsConnection).jetstreamManager()) as unknown as JetStreamManager,
  async kv(nc, bucket, opts) {
    const js = (nc as unknown as v2.NatsConnection).jetstream();
    return (await js.views.kv(bucket, opts as Partial<v2.KvOptions>)) as unknown as KV;
  },
  async openKv(nc, bucket) {
    const js = (nc as unknown as v2.NatsConnection).jetstream();
    return (await js.views.kv(bucket, { bindOnly: true })) as unknown as KV;
  },
  async os(nc, bucket, opts) {
    const js = (nc as unknown as v2.NatsConnection).jetstream();
    return (await js.views.os(bucket, opts as Partial<v2.ObjectStoreOptions>)) as unknown as ObjectStore;
  },
  errCode(err) {
    if (err instanceof v2.NatsError) return err.api_error?.err_code;
    return undefined;
  },
  errDescription(err) {
    if (err instanceof v2.NatsError) return err.api_error?.description;
    return undefined;
  },
  async consumePush(nc, stream, durable, queue, onMsg) {
    const js = (nc as unknown as v2.NatsConnection).jetstream();
    const opts = v2.consumerOpts();
    opts.bind(stream, durable);
    opts.manualAck();
    if (queue) opts.queue(queue);
    opts.callback((err, m) => {
      if (!err && m) onMsg(m as unknown as JsMsg);
    });
    const sub = await js.subscribe('', opts);
    return {
      async stop() {
        sub.unsubscribe();
      },
    };
  },
};

export const jsV3: JsGeneration = {
  name: '@nats-io v3',
  connect: (opts) => v3.connect(opts),
  js: (nc) => jetstream(nc),
  jsm: (nc) => jetstreamManager(nc),
  kv: (nc, bucket, opts) => new Kvm(nc).create(bucket, opts),
  openKv: (nc, bucket) => new Kvm(nc).open(bucket),
  os: (nc, bucket, opts) => new Objm(nc).create(bucket, opts),
  errCode(err) {
    if (err instanceof JetStreamApiError) return err.code;
    return undefined;
  },
  errDescription(err) {
    if (err instanceof JetStreamApiError) return err.apiError().description;
    return undefined;
  },
  async consumePush(nc, stream, durable, _queue, onMsg) {
    // v3 reads deliver_subject and deliver_group from the consumer's info itself.
    const c = await jetstream(nc).consumers.getPushConsumer(stream, durable);
    const iter = await c.consume({ callback: onMsg });
    return {
      async stop() {
        await iter.close();
      },
    };
  },
};

export const JS_GENERATIONS: readonly JsGeneration[] = [jsV2, jsV3];
export const JS_WORKER_COUNTS: readonly number[] = [1, 2];

/** Every (generation, workers) pair, for `describe` loops. */
export function jsMatrix(): { gen: JsGeneration; workers: number }[] {
  return JS_GENERATIONS.flatMap((gen) => JS_WORKER_COUNTS.map((workers) => ({ gen, workers })));
}
