// The consumer half of the JetStream API (`$JS.API.CONSUMER.*`): create (ephemeral, named,
// durable, with a filter in the subject), info, list, names, delete and MSG.NEXT, with
// nats-server's request checks, response shapes and error codes. Owns every stream's consumers,
// their files and their recovery at start-up.

import * as path from 'node:path';
import type { ApiError, ApiRequest, ConsumerApi, JsContext, StreamForConsumers } from '../seams.ts';
import type { ConsumerState } from '../store/index.ts';
import { subjectsCollide } from '../../routing/subjects.ts';
import {
  applyDefaults,
  checkConsumerConfig,
  checkUpdate,
  configsEqual,
  configToJson,
  filtersOf,
  MAX_NAME_LENGTH,
  parseConsumerConfig,
  type ConsumerConfig,
  type StreamLimitsForConsumers,
} from './config.ts';
import { Consumer, randomId, type ConsumerOptions } from './consumer.ts';
import { ConsumerErrors, isApiError } from './errors.ts';
import { readConsumerDirs, StatePersister, type ConsumerMeta } from './persistence.ts';
import type { ConsumerReplicator } from './replicator.ts';
import { rfc3339FromMs } from './time.ts';

export const ConsumerResponseType = {
  create: 'io.nats.jetstream.api.v1.consumer_create_response',
  info: 'io.nats.jetstream.api.v1.consumer_info_response',
  list: 'io.nats.jetstream.api.v1.consumer_list_response',
  names: 'io.nats.jetstream.api.v1.consumer_names_response',
  delete: 'io.nats.jetstream.api.v1.consumer_delete_response',
} as const;

/** nats-server JSApiNamesLimit / JSApiListLimit: page sizes. */
export const NAMES_PAGE_LIMIT = 1024;
export const LIST_PAGE_LIMIT = 256;
/** Length of generated ephemeral names (nats-server uses 8-character hashes). */
const EPHEMERAL_NAME_LENGTH = 8;

export const DEFAULT_CONSUMER_OPTIONS: ConsumerOptions = {
  flowControlMaxPendingBytes: 32 * 1024 * 1024,
};

interface Entry {
  consumer: Consumer;
  persister: StatePersister | null;
  stream: StreamForConsumers;
}

/** One replica of a replicated consumer (see replicator.ts for the wiring). */
export interface ReplicaOptions {
  replicator: ConsumerReplicator;
  /** The `cluster` object of consumer info. */
  clusterInfo?: () => Record<string, unknown> | undefined;
  /** The leader found it inactive past its threshold (default: delete it here). */
  onInactive?: (c: Consumer) => void;
}

export class ConsumerManager implements ConsumerApi {
  private readonly ctx: JsContext;
  private readonly options: ConsumerOptions;
  private readonly byStream = new Map<string, Map<string, Entry>>();
  /** File removals of deleted consumers still running (the delete answer does not wait for them). */
  private readonly removals = new Set<Promise<void>>();

  constructor(ctx: JsContext, options: Partial<ConsumerOptions> = {}) {
    this.ctx = ctx;
    this.options = { ...DEFAULT_CONSUMER_OPTIONS, ...options };
  }

  // ------------------------------------------------------------------ ConsumerApi

  handle(stream: StreamForConsumers, req: ApiRequest): Record<string, unknown> | ApiError | undefined {
    const t = req.tokens;
    if (t[0] !== 'CONSUMER') return ConsumerErrors.create('unknown consumer request');
    switch (t[1]) {
      case 'CREATE':
        return this.create(stream, req, t.length > 3 ? 'named' : 'legacy_ephemeral');
      case 'DURABLE':
        if (t[2] !== 'CREATE') break;
        return this.create(stream, req, 'legacy_durable');
      case 'INFO':
        return this.info(stream, req);
      case 'LIST':
        return this.list(stream, req);
      case 'NAMES':
        return this.names(stream, req);
      case 'DELETE':
        return this.deleteRequest(stream, req);
      case 'MSG':
        if (t[2] === 'NEXT') {
          this.next(stream, req);
          return undefined;
        }
        break;
    }
    return ConsumerErrors.create('unknown consumer request');
  }

  count(stream: string): number {
    return this.byStream.get(stream)?.size ?? 0;
  }

  infos(stream: string): Record<string, unknown>[] {
    return this.sorted(stream).map((e) => e.consumer.info());
  }

  /** The live consumer (tests, /jsz). */
  get(stream: string, name: string): Consumer | undefined {
    return this.byStream.get(stream)?.get(name)?.consumer;
  }

  /** The durable consumer's state saver (tests count its saves). */
  persisterOf(stream: string, name: string): StatePersister | null {
    return this.byStream.get(stream)?.get(name)?.persister ?? null;
  }

  async streamDeleted(stream: string): Promise<void> {
    const m = this.byStream.get(stream);
    if (!m) return;
    this.byStream.delete(stream);
    for (const e of m.values()) {
      e.consumer.stop(true);
      await e.persister?.remove();
    }
  }

  async recover(stream: StreamForConsumers): Promise<void> {
    if (stream.consumerDir === null) return;
    const found = await readConsumerDirs(stream.consumerDir, (name, err) =>
      this.ctx.logger.error(`JetStream consumer '${stream.name} > ${name}' could not be recovered: ${String(err)}`),
    );
    for (const r of found) {
      const parsed = parseConsumerConfig(r.meta.config);
      if (isApiError(parsed)) {
        this.ctx.logger.error(`JetStream consumer '${stream.name} > ${r.name}' has an unreadable config, skipped`);
        continue;
      }
      if (r.stateError !== undefined) {
        this.ctx.logger.error(`JetStream consumer '${stream.name} > ${r.name}' state is damaged (${String(r.stateError)}); starting from its deliver policy`);
      }
      const created = Date.parse(r.meta.created);
      let state = r.state;
      if (state === null && r.stateError === undefined && r.meta.start) {
        // Created but stopped before its first state save: resume where it started.
        state = { delivered: { ...r.meta.start }, ackFloor: { ...r.meta.start }, pending: new Map(), redelivered: new Map() };
      }
      this.start(stream, parsed, Number.isNaN(created) ? this.ctx.scheduler.now() : created, state, false);
    }
  }

  async stop(): Promise<void> {
    const all = [...this.byStream.values()].flatMap((m) => [...m.values()]);
    this.byStream.clear();
    for (const e of all) e.consumer.stop(false);
    await Promise.all(all.map((e) => e.persister?.close()));
  }

  /** Resolves once every consumer's state so far is on disk, and deleted consumers' files are gone. */
  async flush(): Promise<void> {
    const all = [...this.byStream.values()].flatMap((m) => [...m.values()]);
    await Promise.all([...all.map((e) => e.persister?.flush()), ...this.removals]);
  }

  /**
   * A replica of a replicated consumer on this node: its state comes from its replicator's log
   * (nothing is read from or written to the stream's consumer directory). `cfg` is complete and
   * checked (defaults applied), as the meta group assigned it.
   */
  addReplica(stream: StreamForConsumers, cfg: ConsumerConfig, createdMs: number, replica: ReplicaOptions): Consumer | ApiError {
    if (this.consumersOf(stream.name).has(cfg.name)) return ConsumerErrors.nameExist();
    return this.start(stream, cfg, createdMs, null, false, replica);
  }

  /** A config update the meta group decided, on every replica (the consumer leader proposes it). */
  updateReplicaConfig(stream: string, name: string, cfg: ConsumerConfig): boolean {
    const c = this.get(stream, name);
    if (!c) return false;
    c.updateConfig(cfg);
    return true;
  }

  /** Deletes a consumer (API delete, inactivity, a replica leaving this node). */
  async deleteConsumer(stream: string, name: string): Promise<boolean> {
    const m = this.byStream.get(stream);
    const e = m?.get(name);
    if (!m || !e) return false;
    m.delete(name);
    const leader = e.consumer.isLeader;
    e.consumer.stop(true);
    if (leader) e.consumer.advisory(`CONSUMER.DELETED.${stream}.${name}`, 'io.nats.jetstream.advisory.v1.consumer_action', { action: 'delete' });
    if (e.persister) {
      const removal = e.persister.remove().catch((err: unknown) => this.ctx.logger.error(`JetStream consumer '${stream} > ${name}' files not removed: ${String(err)}`));
      this.removals.add(removal);
      await removal;
      this.removals.delete(removal);
    }
    return true;
  }

  // ------------------------------------------------------------------ requests

  private create(stream: StreamForConsumers, req: ApiRequest, kind: CreateKind): Record<string, unknown> | ApiError {
    const decoded = decodeCreateRequest(req.tokens, req.data, kind);
    if (isApiError(decoded)) return decoded;
    const { cfg, action } = decoded;
    if (cfg.numReplicas > 1) return ConsumerErrors.replicasNotSupported();

    const result = this.addConsumer(stream, cfg, action);
    if (isApiError(result)) return result;
    // nats-server answers create with the info snapshotted before the consumer starts watching
    // its deliver subject, so push_bound is never set here; clients that subscribed to the
    // deliver subject before creating the consumer (KV watch) refuse a "bound" consumer.
    const info = result.info();
    delete info['push_bound'];
    return { type: ConsumerResponseType.create, ...info };
  }

  /** nats-server addConsumerWithAction for one server. */
  private addConsumer(stream: StreamForConsumers, cfg: ConsumerConfig, action: CreateAction): Consumer | ApiError {
    const consumers = this.consumersOf(stream.name);
    const existing = new Map([...consumers].map(([n, e]) => [n, e.consumer.cfg]));
    const checked = checkConsumerCreate(streamLimits(stream), cfg, action, existing, (subject) => this.ctx.bus.hasInterest(subject));
    if (isApiError(checked)) return checked;
    if (checked.existing) {
      const e = consumers.get(cfg.name)!;
      const cur = e.consumer;
      if (!configsEqual(cfg, cur.cfg)) {
        if (e.persister) {
          const failed = this.writeMeta(e.persister, stream.name, { config: configToJson(cfg), created: rfc3339FromMs(cur.createdMs) });
          if (failed) return failed;
        }
        cur.updateConfig(cfg);
      }
      return cur;
    }
    const c = this.start(stream, cfg, this.ctx.scheduler.now(), null, true);
    if (isApiError(c)) return c;
    c.advisory(`CONSUMER.CREATED.${stream.name}.${c.name}`, 'io.nats.jetstream.advisory.v1.consumer_action', { action: 'create' });
    return c;
  }

  private start(
    stream: StreamForConsumers,
    cfg: ConsumerConfig,
    createdMs: number,
    state: ConsumerState | null,
    isNew: boolean,
    replica: ReplicaOptions | null = null,
  ): Consumer | ApiError {
    const consumers = this.consumersOf(stream.name);
    const persistent = replica === null && stream.consumerDir !== null && cfg.durable !== '' && !cfg.memStorage;
    let consumer: Consumer | null = null;
    const persister = persistent
      ? new StatePersister(
          path.join(stream.consumerDir!, cfg.name),
          () => consumer!.snapshotState(),
          (err) => this.persistError(stream.name, cfg.name, err),
        )
      : null;
    consumer = new Consumer(
      {
        ctx: this.ctx,
        stream,
        options: this.options,
        persister,
        ...(replica ? { replicator: replica.replicator, clusterInfo: replica.clusterInfo } : {}),
        onInactive: replica?.onInactive ?? ((c) => void this.deleteConsumer(stream.name, c.name)),
      },
      cfg,
      createdMs,
      state,
    );
    if (persister && isNew) {
      const s = consumer.snapshotState();
      const failed = this.writeMeta(persister, stream.name, { config: configToJson(cfg), created: rfc3339FromMs(createdMs), start: s.delivered });
      if (failed) {
        consumer.stop(false);
        return failed;
      }
    }
    consumers.set(cfg.name, { consumer, persister, stream });
    consumer.start();
    return consumer;
  }

  private info(stream: StreamForConsumers, req: ApiRequest): Record<string, unknown> | ApiError {
    if (!isEmptyRequest(req.data)) return ConsumerErrors.notEmptyRequest();
    const c = this.get(stream.name, req.tokens[3] ?? '');
    if (!c) return ConsumerErrors.notFound();
    return { type: ConsumerResponseType.info, ...c.info() };
  }

  private list(stream: StreamForConsumers, req: ApiRequest): Record<string, unknown> | ApiError {
    const offset = pageOffset(req.data);
    if (isApiError(offset)) return offset;
    const all = this.sorted(stream.name);
    const from = Math.min(offset, all.length);
    const page = all.slice(from, from + LIST_PAGE_LIMIT).map((e) => e.consumer.info());
    return { type: ConsumerResponseType.list, total: all.length, offset: from, limit: LIST_PAGE_LIMIT, consumers: page };
  }

  private names(stream: StreamForConsumers, req: ApiRequest): Record<string, unknown> | ApiError {
    const offset = pageOffset(req.data);
    if (isApiError(offset)) return offset;
    const all = this.sorted(stream.name);
    const from = Math.min(offset, all.length);
    const page = all.slice(from, from + NAMES_PAGE_LIMIT).map((e) => e.consumer.name);
    return { type: ConsumerResponseType.names, total: all.length, offset: from, limit: NAMES_PAGE_LIMIT, consumers: page };
  }

  private deleteRequest(stream: StreamForConsumers, req: ApiRequest): Record<string, unknown> | ApiError {
    if (!isEmptyRequest(req.data)) return ConsumerErrors.notEmptyRequest();
    const name = req.tokens[3] ?? '';
    if (!this.byStream.get(stream.name)?.has(name)) return ConsumerErrors.notFound();
    void this.deleteConsumer(stream.name, name);
    return { type: ConsumerResponseType.delete, success: true };
  }

  private next(stream: StreamForConsumers, req: ApiRequest): void {
    if (!req.reply) return;
    const c = this.get(stream.name, req.tokens[4] ?? '');
    if (!c) {
      // nats-server has no subscriber for a missing consumer's next subject: the client sees no responders.
      this.ctx.bus.publish(req.reply, null, Buffer.from('NATS/1.0 503\r\n\r\n', 'latin1'), new Uint8Array(0));
      return;
    }
    c.processNextRequest(req.reply, req.data);
  }

  // ------------------------------------------------------------------ helpers

  private consumersOf(stream: string): Map<string, Entry> {
    let m = this.byStream.get(stream);
    if (!m) {
      m = new Map();
      this.byStream.set(stream, m);
    }
    return m;
  }

  private sorted(stream: string): Entry[] {
    return [...(this.byStream.get(stream)?.values() ?? [])].sort((a, b) => (a.consumer.name < b.consumer.name ? -1 : a.consumer.name > b.consumer.name ? 1 : 0));
  }

  private writeMeta(p: StatePersister, stream: string, meta: ConsumerMeta): ApiError | null {
    try {
      p.writeMetaSync(meta);
      return null;
    } catch (err) {
      this.ctx.logger.error(`JetStream consumer '${stream} > ${meta.config['name']}' config not saved: ${String(err)}`);
      return ConsumerErrors.storeFailed(String((err as Error).message ?? err));
    }
  }

  private persistError(stream: string, name: string, err: unknown): void {
    this.ctx.logger.error(`JetStream consumer '${stream} > ${name}' state not saved: ${String(err)}`);
  }
}

export type CreateKind = 'legacy_ephemeral' | 'legacy_durable' | 'named';
export type CreateAction = '' | 'create' | 'update';

/**
 * The checks nats-server makes of a CONSUMER.CREATE / DURABLE.CREATE request before looking at
 * the stream: the body, the names in the subject against the config, the filter in the subject.
 * `tokens` are the subject's tokens after `$JS.API.`.
 */
export function decodeCreateRequest(t: readonly string[], data: Uint8Array, kind: CreateKind): { cfg: ConsumerConfig; action: CreateAction } | ApiError {
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return ConsumerErrors.invalidJson();
    body = parsed as Record<string, unknown>;
  } catch {
    return ConsumerErrors.invalidJson();
  }
  const action = body['action'] ?? '';
  if (action !== '' && action !== 'create' && action !== 'update') return ConsumerErrors.invalidJson();
  const reqStream = body['stream_name'] ?? '';
  if (typeof reqStream !== 'string') return ConsumerErrors.invalidJson();
  const cfg = parseConsumerConfig(body['config']);
  if (isApiError(cfg)) return cfg;

  let consumerName = '';
  let filteredSubject = '';
  if (kind === 'legacy_durable') {
    if (t.length !== 5) return ConsumerErrors.durableNameNotInSubject();
    consumerName = t[4]!;
  } else if (kind === 'named') {
    consumerName = t[3]!;
    if (t.length > 4) filteredSubject = t.slice(4).join('.');
  }
  const streamName = kind === 'legacy_durable' ? t[3] : t[2];
  if (streamName !== reqStream) return ConsumerErrors.streamMismatch();
  if (consumerName !== '' && /[\\/]/.test(consumerName)) return ConsumerErrors.nameContainsPathSeparators();
  if (kind === 'legacy_durable') {
    if (cfg.durable === '') return ConsumerErrors.durableNameNotSet();
    if (consumerName !== cfg.durable) return ConsumerErrors.durableNameNotMatchSubject();
  }
  if (kind === 'named') {
    if (cfg.durable !== '' && consumerName !== cfg.durable) return ConsumerErrors.durableNameNotMatchSubject();
    cfg.name = consumerName;
  }
  if (kind === 'legacy_ephemeral' && cfg.durable !== '') return ConsumerErrors.ephemeralWithDurableName();
  if (filteredSubject !== '' && cfg.filterSubjects.length > 0) return ConsumerErrors.multipleFiltersNotAllowed();
  if (filteredSubject !== '' && cfg.filterSubject !== filteredSubject) return ConsumerErrors.createFilterSubjectMismatch();
  return { cfg, action: action as CreateAction };
}

/**
 * nats-server addConsumerWithAction's checks against the stream and its other consumers (by
 * name), without creating anything: completes `cfg` (defaults, an ephemeral's generated name)
 * and says whether it updates an existing consumer. Shared by a single server and a cluster's
 * meta leader.
 */
export function checkConsumerCreate(
  limits: StreamLimitsForConsumers,
  cfg: ConsumerConfig,
  action: CreateAction,
  consumers: ReadonlyMap<string, ConsumerConfig>,
  hasInterest: (subject: string) => boolean,
): { existing: boolean } | ApiError {
  applyDefaults(cfg, limits);
  const bad = checkConsumerConfig(cfg, limits);
  if (bad) return bad;
  const name = cfg.durable !== '' ? cfg.durable : cfg.name;
  if (name !== '') {
    const cur = consumers.get(name);
    if (cur !== undefined) {
      if (action === 'create' && !configsEqual(cfg, cur)) return ConsumerErrors.alreadyExists();
      if (limits.retention === 'workqueue' && !partitionUnique(consumers, name, filtersOf(cfg))) return ConsumerErrors.wqConsumerNotUnique();
      const deliverInterest = cur.deliverSubject !== '' && hasInterest(cur.deliverSubject);
      const notAllowed = checkUpdate(cur, cfg, deliverInterest);
      if (notAllowed) return notAllowed;
      cfg.name = name;
      return { existing: true };
    }
  }
  if (action === 'update') return ConsumerErrors.doesNotExist();
  if (limits.maxConsumers > 0 && consumers.size >= limits.maxConsumers) return ConsumerErrors.maximumConsumers();
  if (limits.retention === 'workqueue' && !cfg.direct) {
    if (cfg.ackPolicy !== 'explicit') return ConsumerErrors.wqRequiresExplicitAck();
    if (consumers.size > 0) {
      const filters = filtersOf(cfg);
      if (filters.length === 0) return ConsumerErrors.wqMultipleUnfiltered();
      if (!partitionUnique(consumers, name, filters)) return ConsumerErrors.wqConsumerNotUnique();
    }
    if (cfg.deliverPolicy !== 'all') return ConsumerErrors.wqConsumerNotDeliverAll();
  }
  if (cfg.durable !== '') {
    if (cfg.durable.length > MAX_NAME_LENGTH) return ConsumerErrors.nameTooLong(MAX_NAME_LENGTH);
  } else if (cfg.name === '') {
    do cfg.name = randomId(EPHEMERAL_NAME_LENGTH);
    while (consumers.has(cfg.name));
  }
  if (!isValidName(cfg.name)) return ConsumerErrors.badDurableName();
  return { existing: false };
}

/** nats-server partitionUnique: no other consumer of a workqueue stream may see the same subjects. */
function partitionUnique(consumers: ReadonlyMap<string, ConsumerConfig>, name: string, filters: readonly string[]): boolean {
  for (const f of filters) {
    for (const [n, c] of consumers) {
      if (n === name) continue;
      const theirs = filtersOf(c);
      if (theirs.length === 0) return false;
      for (const g of theirs) if (subjectsCollide(f, g)) return false;
    }
  }
  return true;
}

/** nats-server isValidName. */
function isValidName(name: string): boolean {
  return name !== '' && !/[ \t\r\n\f.*>]/.test(name);
}

function isEmptyRequest(data: Uint8Array): boolean {
  if (data.length === 0) return true;
  const text = Buffer.from(data).toString('utf8').trim();
  if (text === '' || text === '{}') return true;
  try {
    const j: unknown = JSON.parse(text);
    return typeof j === 'object' && j !== null && Object.keys(j).length === 0;
  } catch {
    return false;
  }
}

function pageOffset(data: Uint8Array): number | ApiError {
  if (isEmptyRequest(data)) return 0;
  try {
    const j = JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>;
    const off = j['offset'] ?? 0;
    if (typeof off !== 'number' || !Number.isInteger(off)) return ConsumerErrors.invalidJson();
    return Math.max(0, off);
  } catch {
    return ConsumerErrors.invalidJson();
  }
}

function streamLimits(stream: StreamForConsumers): StreamLimitsForConsumers {
  return streamLimitsFromJson(stream.configJson(), stream.retention, stream.subjects);
}

/** What consumer checks need of a stream, from its config JSON (a cluster's meta leader has only that). */
export function streamLimitsFromJson(j: Record<string, unknown>, retention: StreamForConsumers['retention'], subjects: readonly string[]): StreamLimitsForConsumers {
  const cl = (j['consumer_limits'] ?? {}) as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  return {
    retention,
    subjects,
    maxAckPendingLimit: n(cl['max_ack_pending']),
    inactiveThresholdLimitNs: n(cl['inactive_threshold']),
    maxConsumers: n(j['max_consumers']),
    replicas: Math.max(1, n(j['num_replicas'])),
  };
}

export function createConsumerApi(ctx: JsContext, options: Partial<ConsumerOptions> = {}): ConsumerManager {
  return new ConsumerManager(ctx, options);
}
