// The seams between the parts of the JetStream engine, so streams (src/jetstream/stream*.ts,
// api.ts, jetstream.ts) and consumers (src/jetstream/consumers/) can be built and tested apart.
// A replicated version later drives both by applying Raft entries in order, so every state
// change goes through a method here, never through timers reading clocks directly.

import type { StreamStore } from './store/index.ts';
import type { JsBus, Scheduler } from './bus.ts';
import type { Logger } from '../log.ts';

export type Retention = 'limits' | 'interest' | 'workqueue';

/** What a consumer may see and do of its stream. Implemented by the stream. */
export interface StreamForConsumers {
  readonly name: string;
  readonly retention: Retention;
  readonly store: StreamStore;
  /** The stream's configured subjects (for filter validation). */
  readonly subjects: readonly string[];
  /** The stream config as JSON (what STREAM.INFO returns under `config`). */
  configJson(): Record<string, unknown>;
  /**
   * Called after each message is durably stored (and before the publisher's ack is sent),
   * and after purges/removals so pull waiters and push consumers can react.
   */
  onChange(listener: (ev: StreamChange) => void): () => void;
  /**
   * Interest / workqueue retention: tells the stream this consumer is finished with `seq`
   * (acked, or terminated). The stream removes the message when no registered consumer
   * whose filter matches it still needs it (interest), or at once (workqueue).
   */
  consumerDone(consumerName: string, seq: number): void;
  /** Consumers register so interest retention can ask them. */
  registerConsumer(c: ConsumerForStream): void;
  unregisterConsumer(name: string): void;
  /** Where consumer state files live (file storage), or null for memory streams. */
  readonly consumerDir: string | null;
}

export type StreamChange =
  | { kind: 'append'; seq: number; subject: string }
  | { kind: 'remove'; seq: number }
  | { kind: 'purge'; firstSeq: number }
  | { kind: 'delete' };

/** What the stream asks of each consumer (interest retention, limits, info). */
export interface ConsumerForStream {
  readonly name: string;
  /** Subject filters; empty = the whole stream. */
  readonly filters: readonly string[];
  /** True when this consumer no longer needs `seq` (acked, or below its ack floor). */
  isDone(seq: number): boolean;
}

/** Everything the engine hands to consumers and API handlers. */
export interface JsContext {
  readonly bus: JsBus;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  /** JetStream domain, if configured (publish acks and API responses carry it). */
  readonly domain: string | undefined;
  /** Publishes an advisory on `$JS.EVENT.ADVISORY.<suffix>` with the given JSON body. */
  advisory(suffix: string, body: Record<string, unknown>): void;
}

/** A JetStream API error as nats-server sends it: {"code":404,"err_code":10059,"description":"stream not found"}. */
export interface ApiError {
  code: number;
  err_code: number;
  description: string;
}

/** One API request, already parsed out of `$JS.API.<...>`. */
export interface ApiRequest {
  /** Tokens after `$JS.API.` (e.g. ['CONSUMER', 'CREATE', 'ORDERS', 'dur']). */
  readonly tokens: readonly string[];
  readonly reply: string | null;
  /** Raw request body (JSON or empty). */
  readonly data: Uint8Array;
  readonly hdr: Uint8Array | null;
}

/**
 * The consumer half of the API, implemented in src/jetstream/consumers/. The API dispatcher
 * (api.ts) calls it for `CONSUMER.*` subjects after looking up the stream; it answers with the
 * response object (or an error), or returns undefined when it answers itself later (MSG.NEXT).
 */
export interface ConsumerApi {
  handle(stream: StreamForConsumers, req: ApiRequest): Record<string, unknown> | ApiError | undefined;
  /** Names, infos and count of a stream's consumers (STREAM.INFO, /jsz, account info). */
  count(stream: string): number;
  /** Called when a stream is deleted: stop and remove its consumers and their state. */
  streamDeleted(stream: string): Promise<void>;
  /** Recover durable consumers of a stream from disk at start-up. */
  recover(stream: StreamForConsumers): Promise<void>;
  /** /jsz consumer details. */
  infos(stream: string): Record<string, unknown>[];
  stop(): Promise<void>;
}
