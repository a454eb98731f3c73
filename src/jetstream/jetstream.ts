// The JetStream engine of one account (`$G` unless configured otherwise): owns the account's
// streams, recovers them from the store directory at start-up, serves the JSON API through JsApi,
// and reports account info and /jsz. Consumers are a separate engine behind the ConsumerApi seam.
// A server runs one engine per JetStream-enabled account, each on a bus bound to that account.
//
// Layout on disk: <storeDir>/<account>/streams/<stream>/ holds the file store's segments (msgs/), the
// stream's config and creation time (meta.json, checksummed, written atomically) and the
// consumers' state (obs/). Memory streams keep nothing on disk and, as in nats-server's
// single-server mode, do not survive a restart.

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import { subjectsCollide } from '../routing/subjects.ts';
import type { JsBus, Scheduler, BusSubscription } from './bus.ts';
import type { ApiError, ConsumerApi, JsContext } from './seams.ts';
import { FileStore, MemoryStore, storeCache, type FileStoreOptions, type RecoveryReport } from './store/index.ts';
import { readFramedFile } from '../storage/atomic_file.ts';
import type { StreamStore } from './store/index.ts';
import { JS_ERR, isApiError, streamCreateFailed, streamDeleteFailed } from './errors.ts';
import { API_PREFIX, JsApi, type ApiHost } from './api.ts';
import { ConsumerManager } from './consumers/index.ts';
import { rfc3339Nano } from './json_time.ts';
import { STREAM_META_FILE, STREAM_META_MAGIC, Stream, storeLimitsFor, type StreamEnv } from './stream.ts';
import {
  checkStreamConfig,
  checkStreamUpdate,
  sameStreamConfig,
  streamConfigFromJson,
  type StreamConfig,
} from './stream_config.ts';

export const GLOBAL_ACCOUNT = '$G';
const STREAMS_DIR = 'streams';
const ADVISORY_PREFIX = '$JS.EVENT.ADVISORY.';
/** How long a computed storage usage answers the per-publish resource check, ms. */
const USAGE_CACHE_MS = 100;
/**
 * A replicated stream's store syncs on this interval (nats-server's default sync_interval): its
 * operations are already fsynced in the Raft log, and a snapshot waits for the store's flush.
 */
const REPLICA_SYNC_INTERVAL_MS = 120_000;
const STREAM_ACTION_ADVISORY_TYPE = 'io.nats.jetstream.advisory.v1.stream_action';
/** Account limits when none are configured: nats-server's dynamic limits, all unlimited. */
const UNLIMITED_ACCOUNT_LIMITS = Object.freeze({
  max_memory: -1,
  max_storage: -1,
  max_streams: -1,
  max_consumers: -1,
  max_ack_pending: -1,
  memory_max_stream_bytes: -1,
  storage_max_stream_bytes: -1,
  max_bytes_required: false,
});

export interface JetStreamOptions {
  bus: JsBus;
  scheduler: Scheduler;
  logger: Logger;
  storeDir: string;
  /** Server-wide memory store limit, bytes (< 0: unlimited). */
  maxMemory: number;
  /** Server-wide file store limit, bytes (< 0: unlimited). */
  maxStore: number;
  domain?: string;
  /** > 0: lazy fsync every this many ms (nats-server sync_interval); 0: fsync before every ack. */
  syncIntervalMs: number;
  /**
   * The consumer engine, or a factory given the engine's JsContext (e.g.
   * `(ctx) => new ConsumerManager(ctx)`, the default). Pass `new NoConsumers()` for none.
   */
  consumers?: ConsumerApi | ((ctx: JsContext) => ConsumerApi);
  /** Reported as the stream leader and in /jsz. */
  serverName?: string;
  serverId?: string;
  /** The account this engine serves (default `$G`): names its directory, logs and /jsz entry. */
  account?: string;
  /**
   * Storage in use on the whole server, for the server-wide limits when several accounts share
   * them. Default: this engine's own usage.
   */
  serverUsage?: () => StorageUsage;
  /**
   * Memory budget for the file stores' offset tables, bytes, shared by every stream of this
   * thread (store_cache.ts). Default DEFAULT_CACHE_BYTES.
   */
  storeCacheBytes?: number;
  /** The file stores' data fsync (FileStoreOptions.sync); tests gate or fail it. Default: datasync. */
  storeSync?: FileStoreOptions['sync'];
}

/** The cluster side of an engine on a clustered server (src/jetstream/cluster/cluster.ts). */
export interface EngineCluster {
  /** True when the cluster took the API request (answered it, or another node answers it). */
  handleApi(engine: JetStream, tokens: readonly string[], reply: string | null, data: Uint8Array): boolean;
  /** /jsz's meta_cluster. */
  metaClusterInfo(): Record<string, unknown>;
  /** Consumers assigned to a stream, wherever their replicas run. */
  consumerCount(account: string, stream: string): number;
}

export interface StorageUsage {
  file: number;
  memory: number;
}

export interface JszOptions {
  accounts?: boolean;
  account?: string;
  streams?: boolean;
  consumers?: boolean;
  config?: boolean;
  offset?: number;
  limit?: number;
}

/** The JsContext handed to streams and consumers. */
class EngineContext implements JsContext {
  readonly bus: JsBus;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly domain: string | undefined;

  constructor(opts: JetStreamOptions) {
    this.bus = opts.bus;
    this.scheduler = opts.scheduler;
    this.logger = opts.logger;
    this.domain = opts.domain || undefined;
  }

  advisory(suffix: string, body: Record<string, unknown>): void {
    const subject = ADVISORY_PREFIX + suffix;
    if (!this.bus.hasInterest(subject)) return;
    // nats-server TypedEvent: type, id, timestamp first, then the event's own fields.
    const event: Record<string, unknown> = {
      type: body['type'],
      id: body['id'] ?? randomBytes(11).toString('base64url'),
      timestamp: body['timestamp'] ?? rfc3339Nano(this.scheduler.nowNs()),
      ...body,
    };
    if (this.domain && event['domain'] === undefined) event['domain'] = this.domain;
    this.bus.publish(subject, null, null, Buffer.from(JSON.stringify(event)));
  }
}

export class JetStream implements ApiHost {
  readonly ctx: JsContext;
  readonly consumers: ConsumerApi;
  private readonly opts: JetStreamOptions;
  readonly account: string;
  private readonly api: JsApi;
  private readonly streamMap = new Map<string, Stream>();
  private env: StreamEnv;
  private subs: BusSubscription[] = [];
  private apiTotal = 0;
  private usageCache = { file: 0, memory: 0 };
  private usageAt: number | null = null;
  private apiErrors = 0;
  private started = false;
  /** Set on a clustered server: streams are replicas the cluster opens, requests are routed. */
  private cluster: EngineCluster | null = null;

  constructor(opts: JetStreamOptions) {
    this.opts = opts;
    if (opts.storeCacheBytes !== undefined) storeCache.configure(opts.storeCacheBytes);
    this.account = opts.account ?? GLOBAL_ACCOUNT;
    this.ctx = new EngineContext(opts);
    const c = opts.consumers;
    this.consumers = c === undefined ? new ConsumerManager(this.ctx) : typeof c === 'function' ? c(this.ctx) : c;
    this.api = new JsApi(this);
    this.env = {
      ctx: this.ctx,
      serverName: opts.serverName ?? 'petrel',
      lookupStream: (name) => this.streamMap.get(name),
      consumerCount: (name) => this.consumers.count(name),
      resourcesExceeded: (storage) => this.resourcesExceeded(storage),
    };
  }

  get streamsDir(): string {
    return path.join(this.opts.storeDir, this.account, STREAMS_DIR);
  }

  /**
   * Makes this engine part of a JetStream cluster (before start): streams are replicas the
   * cluster opens from its assignments, and each API request is answered by the right node.
   */
  attachCluster(cluster: EngineCluster): void {
    this.cluster = cluster;
    this.env = { ...this.env, remoteOrigins: true, consumerCount: (name) => cluster.consumerCount(this.account, name) };
  }

  /** Recovers streams from the store directory (single server), then starts answering the API. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await fsp.mkdir(this.streamsDir, { recursive: true });
    if (this.cluster === null) await this.recover();
    const handler = (prefixTokens: number) => (subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array) => {
      const tokens = subject.split('.').slice(prefixTokens);
      try {
        if (this.cluster !== null && this.cluster.handleApi(this, tokens, reply, data)) return;
        this.api.dispatch(tokens, reply, hdr, data);
      } catch (err) {
        this.ctx.logger.error({ subject, err: String(err) }, 'JetStream API request failed');
      }
    };
    this.subs.push(this.ctx.bus.subscribe(`${API_PREFIX}.>`, null, handler(2)));
    if (this.ctx.domain) this.subs.push(this.ctx.bus.subscribe(`$JS.${this.ctx.domain}.API.>`, null, handler(3)));
  }

  /** Stops the API, the consumers and every stream (data stays on disk). */
  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    await this.api.idle();
    await this.consumers.stop();
    const streams = [...this.streamMap.values()];
    this.streamMap.clear();
    await Promise.all(streams.map((s) => s.stop()));
    this.started = false;
  }

  /** Resolves once queued stream create/update/delete requests are answered. */
  idle(): Promise<void> {
    return this.api.idle();
  }

  // ---- ApiHost ----

  stream(name: string): Stream | undefined {
    return this.streamMap.get(name);
  }

  streams(): Stream[] {
    return [...this.streamMap.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  noteApiCall(): void {
    this.apiTotal++;
  }

  noteApiError(): void {
    this.apiErrors++;
  }

  async createStream(input: StreamConfig): Promise<Stream | ApiError> {
    const cfg = checkStreamConfig(input, this.configEnv());
    if (isApiError(cfg)) return cfg;
    if (cfg.num_replicas > 1) return JS_ERR.STREAM_REPLICAS_NOT_SUPPORTED;
    const existing = this.streamMap.get(cfg.name);
    if (existing !== undefined) return sameStreamConfig(existing.config(), cfg) ? existing : JS_ERR.STREAM_NAME_IN_USE;
    const limitErr = this.checkReservation(cfg, null);
    if (limitErr !== null) return limitErr;
    if (this.overlapsOthers(cfg.subjects, null)) return JS_ERR.SUBJECTS_OVERLAP;

    let stream: Stream;
    try {
      stream = await this.openStream(cfg, this.ctx.scheduler.nowNs(), true);
      await stream.saveMeta();
    } catch (err) {
      this.ctx.logger.warn({ stream: cfg.name, err: String(err) }, 'Stream create failed');
      await fsp.rm(this.streamDir(cfg.name), { recursive: true, force: true }).catch(() => undefined);
      return streamCreateFailed('error creating store for stream');
    }
    // A concurrent create could not have slipped in: admin requests run one at a time.
    this.streamMap.set(cfg.name, stream);
    stream.start();
    for (const other of this.streamMap.values()) if (other !== stream && other.isSourcing(cfg.name)) other.originAvailable(stream);
    this.streamAdvisory('CREATED', cfg.name, 'create');
    return stream;
  }

  async updateStream(input: StreamConfig, nameInSubject: string): Promise<Stream | ApiError> {
    const checked = checkStreamConfig(input, this.configEnv());
    if (isApiError(checked)) return checked;
    if (checked.name !== nameInSubject) return JS_ERR.STREAM_MISMATCH;
    const stream = this.streamMap.get(nameInSubject);
    if (stream === undefined) return JS_ERR.STREAM_NOT_FOUND;
    const cfg = checkStreamUpdate(stream.config(), checked);
    if (isApiError(cfg)) return cfg;
    if (this.overlapsOthers(cfg.subjects, stream)) return JS_ERR.SUBJECTS_OVERLAP;
    const limitErr = this.checkReservation(cfg, stream);
    if (limitErr !== null) return limitErr;
    stream.update(cfg);
    try {
      await stream.saveMeta();
    } catch (err) {
      this.ctx.logger.error({ stream: cfg.name, err: String(err) }, 'Stream config could not be saved');
    }
    for (const other of this.streamMap.values()) if (other !== stream && stream.isSourcing(other.name)) stream.originAvailable(other);
    this.streamAdvisory('UPDATED', cfg.name, 'modify');
    return stream;
  }

  async deleteStream(name: string): Promise<ApiError | null> {
    const stream = this.streamMap.get(name);
    if (stream === undefined) return JS_ERR.STREAM_NOT_FOUND;
    this.streamMap.delete(name);
    try {
      await this.consumers.streamDeleted(name);
      await stream.destroy();
    } catch (err) {
      this.ctx.logger.error({ stream: name, err: String(err) }, 'Stream delete failed');
      return streamDeleteFailed(String((err as Error)?.message ?? err));
    }
    this.streamAdvisory('DELETED', name, 'delete');
    return null;
  }

  /** `$JS.API.INFO`: usage, limits and API counters of the account. */
  accountInfo(): Record<string, unknown> {
    const u = this.usage();
    return this.accountInfoWith({ ...u, streams: this.streamMap.size });
  }

  /** Account info from usage figures (a cluster's meta leader sums what the stream leaders report). */
  accountInfoWith(u: { memory: number; storage: number; reservedMemory: number; reservedStorage: number; streams: number; consumers: number }): Record<string, unknown> {
    const o: Record<string, unknown> = {
      memory: u.memory,
      storage: u.storage,
      reserved_memory: u.reservedMemory,
      reserved_storage: u.reservedStorage,
      streams: u.streams,
      consumers: u.consumers,
      limits: { ...UNLIMITED_ACCOUNT_LIMITS },
    };
    if (this.ctx.domain) o['domain'] = this.ctx.domain;
    o['api'] = { total: this.apiTotal, errors: this.apiErrors };
    return o;
  }

  /** The /jsz document (nats-server JSInfo). */
  jsz(opts: JszOptions = {}): Record<string, unknown> {
    const u = this.usage();
    const config: Record<string, unknown> = {
      max_memory: this.opts.maxMemory,
      max_storage: this.opts.maxStore,
      store_dir: this.opts.storeDir,
    };
    if (this.opts.syncIntervalMs > 0) config['sync_interval'] = this.opts.syncIntervalMs * 1_000_000;
    if (this.ctx.domain) config['domain'] = this.ctx.domain;
    const api = { total: this.apiTotal, errors: this.apiErrors };
    const o: Record<string, unknown> = {
      memory: u.memory,
      storage: u.storage,
      reserved_memory: u.reservedMemory,
      reserved_storage: u.reservedStorage,
      accounts: 1,
      ha_assets: 0,
      api,
      server_id: this.opts.serverId ?? '',
      now: rfc3339Nano(this.ctx.scheduler.nowNs()),
      config,
      streams: this.streamMap.size,
      consumers: u.consumers,
      messages: u.messages,
      bytes: u.bytes,
      // Petrel: what the file stores keep in memory beyond their summaries (one budget per thread).
      store_cache: storeCache.stats(),
    };
    if (this.cluster !== null) o['meta_cluster'] = this.cluster.metaClusterInfo();
    const wantAccount = opts.accounts || opts.account === this.account || opts.streams || opts.consumers || opts.config;
    if (wantAccount && (opts.account === undefined || opts.account === this.account)) {
      const detail: Record<string, unknown> = {
        name: this.account,
        id: this.account,
        memory: u.memory,
        storage: u.storage,
        reserved_memory: u.reservedMemory,
        reserved_storage: u.reservedStorage,
        accounts: 0,
        ha_assets: 0,
        api,
      };
      if (opts.streams || opts.consumers || opts.config) {
        let streams = this.streams();
        const offset = Math.max(0, opts.offset ?? 0);
        streams = streams.slice(offset, opts.limit && opts.limit > 0 ? offset + opts.limit : undefined);
        detail['stream_detail'] = streams.map((s) => this.streamDetail(s, opts));
      }
      o['account_details'] = [detail];
    }
    o['total'] = this.streamMap.size;
    return o;
  }

  // ---- cluster ----

  /**
   * A replica of a clustered stream: the store opened (lazily synced: the Raft log makes writes
   * durable), every record verified (damage found later could only be skipped), not started.
   */
  async openStreamReplica(cfg: StreamConfig, created: bigint): Promise<Stream> {
    const existing = this.streamMap.get(cfg.name);
    if (existing !== undefined) return existing;
    const stream = await this.openStream(cfg, created, false, REPLICA_SYNC_INTERVAL_MS, true);
    const damage = stream.corruptionReports();
    if (damage.length > 0) {
      // A replica never serves what it lost: it drops everything from the first damaged record
      // on and fetches it again from its group's leader (the snapshot and the log say what it had).
      const st = stream.store.state();
      const seqs = damage.map((d) => d.seq ?? -1);
      const known = seqs.every((q) => q >= st.firstSeq && q <= st.lastSeq);
      const keep = known ? Math.min(...seqs) - 1 : 0;
      const damaged = damage.length;
      stream.store.truncate(keep);
      stream.forgetCorruption();
      this.ctx.logger.warn({ stream: cfg.name, damaged, keptThrough: keep }, `JetStream stream '${this.account} > ${cfg.name}' replica found damaged records: refetching from its group`);
    }
    this.streamMap.set(cfg.name, stream);
    return stream;
  }

  /** Closes a replica (and deletes its data when `destroy`). */
  async dropStreamReplica(name: string, destroy: boolean): Promise<void> {
    const stream = this.streamMap.get(name);
    if (stream === undefined) return;
    this.streamMap.delete(name);
    await this.consumers.streamDeleted(name);
    if (destroy) await stream.destroy();
    else await stream.stop();
  }

  /** An API request the cluster decided this node answers, after what it had to wait for. */
  answerApi(tokens: readonly string[], reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    this.api.dispatch(tokens, reply, hdr, data);
  }

  /** A direct get that reached this replica through its queue group. */
  directRequest(subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    const prefix = subject.startsWith(`${API_PREFIX}.`) ? 2 : 3;
    this.api.dispatch(subject.split('.').slice(prefix), reply, hdr, data);
  }

  decodeStreamRequest(kind: 'create' | 'update', name: string, data: Uint8Array): StreamConfig | ApiError {
    return this.api.decodeStreamRequest(kind, name, data);
  }

  decodePage(data: Uint8Array, goType: string): { offset: number; subject: string } | ApiError {
    return this.api.pageRequest(data, goType);
  }

  // ---- internals ----

  private streamDetail(s: Stream, opts: JszOptions): Record<string, unknown> {
    const info = s.info();
    const d: Record<string, unknown> = { name: s.name, created: info['created'], cluster: info['cluster'] };
    if (opts.config) d['config'] = info['config'];
    d['state'] = info['state'];
    if (opts.consumers) {
      const consumers = this.consumers.infos(s.name);
      if (consumers.length > 0) d['consumer_detail'] = consumers;
    }
    if (info['mirror'] !== undefined) d['mirror'] = info['mirror'];
    if (info['sources'] !== undefined) d['sources'] = info['sources'];
    if (info['corruption'] !== undefined) d['corruption'] = info['corruption'];
    return d;
  }

  private usage(): {
    memory: number;
    storage: number;
    reservedMemory: number;
    reservedStorage: number;
    consumers: number;
    messages: number;
    bytes: number;
  } {
    const u = { memory: 0, storage: 0, reservedMemory: 0, reservedStorage: 0, consumers: 0, messages: 0, bytes: 0 };
    for (const s of this.streamMap.values()) {
      const st = s.store.state();
      const cfg = s.config();
      if (cfg.storage === 'memory') {
        u.memory += st.bytes;
        if (cfg.max_bytes > 0) u.reservedMemory += cfg.max_bytes;
      } else {
        u.storage += st.bytes;
        if (cfg.max_bytes > 0) u.reservedStorage += cfg.max_bytes;
      }
      u.messages += st.msgs;
      u.bytes += st.bytes;
      u.consumers += this.consumers.count(s.name);
    }
    return u;
  }

  /** nats-server checkBytesLimits: max_bytes reservations must fit the server's limit. */
  private checkReservation(cfg: StreamConfig, self: Stream | null): ApiError | null {
    const limit = cfg.storage === 'memory' ? this.opts.maxMemory : this.opts.maxStore;
    if (limit < 0) return null;
    let reserved = 0;
    for (const s of this.streamMap.values()) {
      const c = s.config();
      if (s === self || c.storage !== cfg.storage || c.max_bytes <= 0) continue;
      reserved += c.max_bytes;
    }
    const add = cfg.max_bytes > 0 ? cfg.max_bytes : 1;
    if (reserved > limit || add > limit - reserved) {
      return cfg.storage === 'memory' ? JS_ERR.MEMORY_RESOURCES_EXCEEDED : JS_ERR.STORAGE_RESOURCES_EXCEEDED;
    }
    return null;
  }

  /** File and memory bytes this engine's streams hold. */
  storageUsage(): StorageUsage {
    const u = this.usage();
    return { file: u.storage, memory: u.memory };
  }

  /**
   * nats-server limitsExceeded: usage already above the server's limit for that storage (all
   * accounts together). Summing every stream's bytes is too much work per publish, so the sum is
   * reused while the clock stays within USAGE_CACHE_MS.
   */
  private resourcesExceeded(storage: 'file' | 'memory'): boolean {
    const limit = storage === 'memory' ? this.opts.maxMemory : this.opts.maxStore;
    if (limit < 0) return false;
    const now = this.ctx.scheduler.now();
    if (this.usageAt === null || now - this.usageAt >= USAGE_CACHE_MS || now < this.usageAt) {
      this.usageCache = this.opts.serverUsage?.() ?? this.storageUsage();
      this.usageAt = now;
    }
    return this.usageCache[storage] > limit;
  }

  private overlapsOthers(subjects: readonly string[], self: Stream | null): boolean {
    for (const s of this.streamMap.values()) {
      if (s === self) continue;
      for (const a of s.subjects) for (const b of subjects) if (subjectsCollide(a, b)) return true;
    }
    return false;
  }

  private configEnv(): { lookup(name: string): StreamConfig | undefined } {
    return { lookup: (name) => this.streamMap.get(name)?.config() };
  }

  private streamDir(name: string): string {
    return path.join(this.streamsDir, name);
  }

  /** How a file stream's index came back: from its snapshot, or by reading every segment, and why. */
  private logRecovery(stream: string, r: RecoveryReport): void {
    const fields = { stream, index: r.index, scanned_bytes: r.scannedBytes, after_snapshot_bytes: r.afterSnapshotBytes, verified_bytes: r.verifiedBytes, segments: r.segments };
    const name = `'${this.account} > ${stream}'`;
    if (r.snapshotRejected !== undefined) {
      this.ctx.logger.warn({ ...fields, reason: r.snapshotRejected }, `JetStream stream ${name}: index snapshot not used (${r.snapshotRejected}), read every segment`);
    } else if (r.index === 'full-scan' && r.scannedBytes > 0) {
      this.ctx.logger.warn(fields, `JetStream stream ${name}: no index snapshot, read every segment`);
    } else if (r.index === 'snapshot' && r.afterSnapshotBytes > 0) {
      // After a crash: what was written since the last snapshot was read again.
      this.ctx.logger.info(fields, `JetStream stream ${name}: index restored from its snapshot, ${r.afterSnapshotBytes} bytes written after it read`);
    } else if (r.index === 'snapshot') {
      this.ctx.logger.debug(fields, `JetStream stream ${name}: index restored from its snapshot`);
    }
  }

  private async openStream(cfg: StreamConfig, created: bigint, fresh: boolean, syncIntervalMs = this.opts.syncIntervalMs, verifyRecords = false): Promise<Stream> {
    const limits = storeLimitsFor(cfg);
    let store: StreamStore;
    let dir: string | null = null;
    let corruption: FileStore['recovery']['corrupt'] = [];
    if (cfg.storage === 'file') {
      dir = this.streamDir(cfg.name);
      const fs = await FileStore.open({
        dir,
        limits,
        syncIntervalMs,
        verifyRecords,
        ...(this.opts.storeSync === undefined ? {} : { sync: this.opts.storeSync }),
        onCorruption: (r) =>
          this.ctx.logger.error({ stream: cfg.name, ...r }, `JetStream stream '${this.account} > ${cfg.name}' found a damaged record`),
      });
      corruption = fs.recovery.corrupt;
      store = fs;
      if (!fresh) this.logRecovery(cfg.name, fs.recovery);
    } else {
      store = new MemoryStore(limits);
    }
    if (fresh && cfg.first_seq > 1) store.compact(cfg.first_seq);
    return new Stream({ env: this.env, cfg, store, created, dir, corruption });
  }

  private async recover(): Promise<void> {
    let names: string[];
    try {
      names = (await fsp.readdir(this.streamsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return;
    }
    names.sort();
    for (const name of names) {
      const dir = this.streamDir(name);
      let cfg: StreamConfig;
      let created: bigint;
      try {
        const raw = await readFramedFile(path.join(dir, STREAM_META_FILE), STREAM_META_MAGIC);
        if (raw === null) {
          this.ctx.logger.warn({ dir }, 'JetStream stream directory without a config, skipped');
          continue;
        }
        const meta = JSON.parse(Buffer.from(raw).toString('utf8')) as { config: unknown; created: string };
        const parsed = streamConfigFromJson(meta.config);
        if (isApiError(parsed)) throw new Error(parsed.description);
        cfg = parsed;
        created = BigInt(meta.created);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        this.ctx.logger.error({ dir, err: why }, 'JetStream could not read a stream config, stream not recovered');
        continue;
      }
      try {
        const openedAt = performance.now();
        const stream = await this.openStream(cfg, created, false);
        const corrupt = stream.corruptionReports();
        if (corrupt.length > 0) {
          this.ctx.logger.warn({ stream: cfg.name, damaged: corrupt.length }, `JetStream stream '${this.account} > ${cfg.name}' recovered with damaged records skipped`);
        }
        this.streamMap.set(cfg.name, stream);
        const ms = Math.round(performance.now() - openedAt);
        this.ctx.logger.info({ stream: cfg.name, msgs: stream.store.state().msgs, ms }, `Restored stream '${this.account} > ${cfg.name}' in ${ms} ms`);
      } catch (err) {
        this.ctx.logger.error({ stream: cfg.name, err: String(err) }, 'JetStream could not open a stream store, stream not recovered');
      }
    }
    for (const stream of this.streams()) stream.start();
    for (const stream of this.streams()) {
      for (const other of this.streamMap.values()) if (other !== stream && stream.isSourcing(other.name)) stream.originAvailable(other);
      try {
        await this.consumers.recover(stream);
      } catch (err) {
        this.ctx.logger.error({ stream: stream.name, err: String(err) }, 'JetStream could not recover consumers');
      }
    }
  }

  private streamAdvisory(what: 'CREATED' | 'UPDATED' | 'DELETED', stream: string, action: string): void {
    this.ctx.advisory(`STREAM.${what}.${stream}`, { type: STREAM_ACTION_ADVISORY_TYPE, stream, action });
  }
}

const JSZ_SUMS = ['memory', 'storage', 'reserved_memory', 'reserved_storage', 'streams', 'consumers', 'messages', 'bytes', 'total'] as const;

/** One /jsz document for a server whose accounts each have an engine (nats-server sums them). */
export function mergeJsz(engines: readonly JetStream[], opts: JszOptions = {}): Record<string, unknown> {
  const docs = engines.map((e) => e.jsz(opts));
  const out = { ...docs[0]! };
  const api = { total: 0, errors: 0 };
  const details: unknown[] = [];
  for (const k of JSZ_SUMS) out[k] = 0;
  for (const d of docs) {
    for (const k of JSZ_SUMS) out[k] = (out[k] as number) + ((d[k] as number | undefined) ?? 0);
    const a = d['api'] as { total: number; errors: number };
    api.total += a.total;
    api.errors += a.errors;
    const ad = d['account_details'] as unknown[] | undefined;
    if (ad) details.push(...ad);
  }
  out['api'] = api;
  out['accounts'] = engines.length;
  if (details.length > 0) out['account_details'] = details;
  else delete out['account_details'];
  return out;
}
