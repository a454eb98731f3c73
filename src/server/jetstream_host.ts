// The JetStream host: a peer worker on the lanes, with no sockets, running on the main thread
// (InThreadJetStream; see PetrelServer.jsSlot for why not a thread of its own). Its Router
// carries the engines' internal subscriptions ($JS.API.>, stream subjects, acks) and publishes;
// each engine (src/jetstream/) only sees its bus. There is one engine per JetStream-enabled
// account, on a bus bound to that account; the other accounts get nats-server's answer to
// $JS.API.INFO (JetStream not enabled for account).

import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Router } from '../routing/router.ts';
import type { Doorbell } from '../routing/ring.ts';
import { RouterBus } from './router_bus.ts';
import { joinLanes, workerLogger } from './lane_member.ts';
import { LanePump } from './lane_pump.ts';
import type { Logger } from '../log.ts';
import type { WorkerInit } from './worker_host.ts';
import type { MainToWorker, WorkerToMain } from './worker_protocol.ts';
import { realScheduler } from '../jetstream/bus.ts';
import { JetStream, mergeJsz, type StorageUsage } from '../jetstream/jetstream.ts';
import type { JszOptions } from '../jetstream/jetstream.ts';
import { createConsumerApi } from '../jetstream/consumers/index.ts';
import { JS_ERR } from '../jetstream/errors.ts';
import { accountNumbers, jetStreamAccounts } from './accounts.ts';
import { jetStreamClustered } from '../config/options.ts';
import type { JetStreamCluster } from '../jetstream/cluster/cluster.ts';
import { serveReplica } from '../jetstream/cluster/replica_read.ts';
import * as path from 'node:path';


export class JetStreamHost {
  private readonly port: MessagePort;
  private readonly router: Router;
  /** By account number. */
  private readonly buses = new Map<number, RouterBus>();
  private readonly logger: Logger;
  private readonly closeLog: () => void;
  private readonly reopenLog: () => void;
  private readonly ownBell: Doorbell;
  private readonly pump: LanePump;
  readonly engines: JetStream[] = [];
  /** Set when JetStream runs clustered on this node, once started. */
  cluster: JetStreamCluster | null = null;
  private openCluster: (() => Promise<JetStreamCluster>) | null = null;
  private started = false;

  constructor(port: MessagePort, init: WorkerInit) {
    this.port = port;
    const o = init.options;
    const log = workerLogger(o, 'jetstream');
    this.logger = log.logger;
    this.closeLog = log.close;
    this.reopenLog = log.reopen;
    ({ router: this.router, ownBell: this.ownBell } = joinLanes(init));
    this.pump = new LanePump(this.router, this.ownBell);
    const flush = () => this.pump.scheduleFlush();
    this.router.onInterestChange = (subject, account) => this.buses.get(account)?.interestChanged(subject);
    const serverUsage = (): StorageUsage => {
      const total = { file: 0, memory: 0 };
      for (const e of this.engines) {
        const u = e.storageUsage();
        total.file += u.file;
        total.memory += u.memory;
      }
      return total;
    };
    const enabled = new Set(jetStreamAccounts(o));
    const clustered = jetStreamClustered(o);
    this.router.exportJetStream = clustered;
    const byName = new Map<string, JetStream>();
    let sysBus: RouterBus | null = null;
    for (const [name, number] of accountNumbers(o)) {
      // The system account has no JetStream; its internal traffic is the cluster's (Raft, announcements).
      if (name === o.systemAccount) {
        this.router.systemAccount = number;
        if (clustered) {
          sysBus = new RouterBus(this.router, flush, number);
          this.buses.set(number, sysBus);
        }
        continue;
      }
      const bus = new RouterBus(this.router, flush, number);
      this.buses.set(number, bus);
      if (!enabled.has(name)) {
        answerNotEnabled(bus);
        continue;
      }
      this.engines.push(
        new JetStream({
          bus,
          scheduler: realScheduler,
          logger: this.logger,
          storeDir: o.jetstream.storeDir,
          maxMemory: o.jetstream.maxMemoryStore,
          maxStore: o.jetstream.maxFileStore,
          domain: o.jetstream.domain,
          syncIntervalMs: o.jetstream.syncIntervalMs,
          storeCacheBytes: o.jetstream.storeCacheBytes,
          serverName: o.serverName || String(init.info.server_id ?? ''),
          serverId: String(init.info.server_id ?? ''),
          consumers: (ctx) => createConsumerApi(ctx),
          account: name,
          serverUsage,
        }),
      );
      byName.set(name, this.engines[this.engines.length - 1]!);
    }
    if (clustered && sysBus !== null) {
      const serverName = o.serverName || String(init.info.server_id ?? '');
      const clusterName = o.cluster?.name || init.cluster?.name || '';
      // The cluster's modules (Raft, the meta group...) load only on a clustered node: start().
      this.openCluster = async () => {
        const { JetStreamCluster, RAFT_DIR } = await import('../jetstream/cluster/cluster.ts');
        const { loadNodeIdentity } = await import('../jetstream/cluster/identity.ts');
        const identity = loadNodeIdentity(path.join(o.jetstream.storeDir, RAFT_DIR), serverName);
        const cluster = new JetStreamCluster({
          sysBus,
          engines: byName,
          self: identity.id,
          serverName,
          clusterName,
          tags: o.serverTags,
          domain: o.jetstream.domain ?? '',
          uniqueTag: o.jetstream.uniqueTag ?? '',
          expectedSize: Math.max(2, o.cluster?.routes.length ?? 0),
          maxPayload: o.maxPayload,
          storeDir: o.jetstream.storeDir,
          scheduler: realScheduler,
          logger: this.logger,
        });
        for (const e of this.engines) e.attachCluster(cluster);
        return cluster;
      };
    }
    port.on('message', (m: MainToWorker) => void this.onMain(m));
    void this.pump.run();
  }

  async start(): Promise<void> {
    if (this.openCluster !== null) this.cluster = await this.openCluster();
    for (const e of this.engines) await e.start();
    this.cluster?.start();
    this.started = true;
    this.pump.scheduleFlush();
  }

  private post(m: WorkerToMain): void {
    this.port.postMessage(m);
  }

  private async onMain(m: MainToWorker): Promise<void> {
    switch (m.t) {
      case 'query':
        this.post({ t: 'reply', id: m.id, data: this.query(m.what, m.args) });
        return;
      case 'reopen-log':
        this.reopenLog();
        return;
      case 'shutdown':
        try {
          await this.cluster?.stop();
          for (const e of this.engines) await e.stop();
        } catch (err) {
          this.logger.error({ err }, 'JetStream stop failed');
        }
        this.router.commitLanes();
        this.closeLog();
        this.post({ t: 'stopped' });
        this.pump.stop();
        return;
      default:
        return;
    }
  }

  private query(what: string, args: unknown): unknown {
    switch (what) {
      case 'jsz':
        return this.jsz(args as JszOptions & { raft?: boolean });
      case 'jshealth':
        return this.health(args as { jsEnabledOnly?: boolean; jsServerOnly?: boolean });
      case 'jsmetrics':
        return this.cluster?.metrics() ?? null;
      case 'replicaz':
        return serveReplica(this.engines, this.cluster, args as Record<string, string>);
      default:
        return null;
    }
  }

  private jsz(opts: JszOptions & { raft?: boolean }): Record<string, unknown> | null {
    if (this.engines.length === 0) return null;
    const out = mergeJsz(this.engines, opts);
    if (opts.raft && this.cluster !== null) out['raft_groups'] = this.cluster.raftDetail();
    return out;
  }

  /**
   * /healthz (nats-server's healthz): ok once JetStream has started (all `jsEnabledOnly` asks: a
   * liveness probe must not restart a node cut off from its cluster), and, clustered, current
   * with a meta leader (all `jsServerOnly` asks) with every replica it hosts led and caught up.
   */
  private health(opts: { jsEnabledOnly?: boolean; jsServerOnly?: boolean }): { status: string; error?: string } {
    if (!this.started) return { status: 'unavailable', error: 'JetStream not enabled' };
    if (this.cluster === null || opts.jsEnabledOnly === true) return { status: 'ok' };
    const h = this.cluster.health(opts.jsServerOnly === true);
    return h.ok ? { status: 'ok' } : { status: 'unavailable', error: h.error };
  }
}

/**
 * A JetStream host on this thread, seen from the main thread as a worker: the same messages, over
 * a MessageChannel (so structured-cloned, as to a worker), 'ready' once its streams are open,
 * 'error' if opening them fails.
 */
export class InThreadJetStream extends EventEmitter {
  private readonly port: MessagePort;

  constructor(init: WorkerInit) {
    super();
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    port1.on('message', (m: WorkerToMain) => this.emit('message', m));
    // A copy, as a worker's workerData is: the host must not share the main thread's option objects.
    const host = new JetStreamHost(port2, structuredClone(init));
    host.start().then(
      () => port2.postMessage({ t: 'ready' } satisfies WorkerToMain),
      (err: unknown) => this.emit('error', err instanceof Error ? err : new Error(String(err))),
    );
  }

  postMessage(m: MainToWorker): void {
    this.port.postMessage(m);
  }

  /** Closes the channel; the host stopped on 'shutdown' already. */
  async terminate(): Promise<number> {
    this.port.close();
    return 0;
  }
}

/** An account without JetStream still answers $JS.API.INFO, with nats-server's error. */
function answerNotEnabled(bus: RouterBus): void {
  const body = Buffer.from(JSON.stringify({ type: 'io.nats.jetstream.api.v1.account_info_response', error: JS_ERR.NOT_ENABLED_FOR_ACCOUNT }));
  bus.subscribe('$JS.API.INFO', null, (_subject, reply) => {
    if (reply) bus.publish(reply, null, null, body);
  });
}
