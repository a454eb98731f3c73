// The monitoring HTTP endpoints, with nats-server's paths and JSON field names so dashboards and
// prometheus-nats-exporter work unchanged, plus native Prometheus text at /metrics.

import type http from 'node:http';
import os from 'node:os';
import net, { type AddressInfo } from 'node:net';
import type { PetrelServer } from '../server/server.ts';
import { goUptime } from '../server/conn_state.ts';
import { authConfigured } from '../server/client_auth.ts';
import { NATS_COMPAT_VERSION, PETREL_VERSION, PROTO_VERSION } from '../version.ts';
import type { WorkerVarz } from '../server/worker_protocol.ts';
import { clusterVarz } from './cluster_varz.ts';
import { gatewayMetrics, gatewayVarz, leafMetrics, leafVarz } from './link_varz.ts';

/**
 * node:http itself, on the first monitoring connection: a node nobody polls never loads it (a few
 * MB). Not an ESM import: its facade reads every export of node:http, and one of them loads undici
 * (~20 ms at start-up and its code in memory) for a fetch this server never makes.
 */
function httpModule(): typeof http {
  return process.getBuiltinModule('node:http');
}

const MS_TO_NS = 1_000_000;
const CONNZ_DEFAULT_LIMIT = 1024;

type Json = Record<string, unknown>;

const CONNZ_SORTS: Record<string, (e: Json) => number> = {
  cid: (e) => e.cid as number,
  start: (e) => Date.parse(e.start as string),
  subs: (e) => e.subscriptions as number,
  pending: (e) => e.pending_bytes as number,
  msgs_to: (e) => e.out_msgs as number,
  msgs_from: (e) => e.in_msgs as number,
  bytes_to: (e) => e.out_bytes as number,
  bytes_from: (e) => e.in_bytes as number,
  last: (e) => Date.parse(e.last_activity as string),
  idle: (e) => -Date.parse(e.last_activity as string),
  uptime: (e) => -Date.parse(e.start as string),
  stop: (e) => (e.stop ? Date.parse(e.stop as string) : 0),
  reason: (e) => String(e.reason ?? '').length,
};
/** Sorts nats-server applies in descending order; cid and start ascend. */
const ASCENDING = new Set(['cid', 'start']);

export function sumVarz(parts: WorkerVarz[]): WorkerVarz {
  const t: WorkerVarz = { connections: 0, leafnodes: 0, totalConnections: 0, inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0, slowConsumers: 0, subscriptions: 0 };
  for (const p of parts) {
    t.connections += p.connections;
    t.leafnodes += p.leafnodes;
    t.totalConnections += p.totalConnections;
    t.inMsgs += p.inMsgs;
    t.inBytes += p.inBytes;
    t.outMsgs += p.outMsgs;
    t.outBytes += p.outBytes;
    t.slowConsumers += p.slowConsumers;
  }
  // Every worker holds the whole interest: one count is the node's count.
  t.subscriptions = parts[0]?.subscriptions ?? 0;
  return t;
}

/** The file stores' in-memory caches (the store_cache object of /jsz). */
const STORE_CACHE_SERIES: [string, 'gauge' | 'counter', string][] = [
  ['budget_bytes', 'gauge', 'Memory budget for file store offset tables'],
  ['table_bytes', 'gauge', 'Bytes held by file store offset tables'],
  ['tables', 'gauge', 'File store offset tables in memory'],
  ['table_loads', 'counter', 'Offset tables rebuilt from segment files'],
  ['table_evictions', 'counter', 'Offset tables evicted to stay within the budget'],
  ['read_window_bytes', 'gauge', 'Bytes held by read-ahead windows'],
];

export class MonitorServer {
  private readonly server: PetrelServer;
  /** Accepts the port's connections; each goes to the HTTP server, created on the first one. */
  private readonly listener: net.Server;
  private http: http.Server | null = null;
  /** Open monitoring connections, closed at shutdown (keep-alive scrapers would hold it up). */
  private readonly sockets = new Set<net.Socket>();
  private readonly reqStats: Record<string, number> = {};
  private lastCpu = process.cpuUsage();
  private lastCpuAt = Date.now();

  constructor(server: PetrelServer) {
    this.server = server;
    this.listener = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.httpServer().emit('connection', socket);
    });
  }

  private httpServer(): http.Server {
    if (this.http !== null) return this.http;
    this.http = httpModule().createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(err) }));
      });
    });
    // Node starts its per-connection request timeouts (headersTimeout, requestTimeout) when its
    // server starts listening; this one listens through `listener`, so it is told here.
    this.http.emit('listening');
    return this.http;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen({ host, port: port < 0 ? 0 : port }, () => resolve((this.listener.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.listener.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname.replace(/\/+$/, '') || '/';
    this.reqStats[p] = (this.reqStats[p] ?? 0) + 1;
    const q = url.searchParams;
    let body: Json | string;
    switch (p) {
      case '/':
        body = 'Petrel monitoring: /varz /connz /subsz /routez /gatewayz /leafz /jsz /healthz /metrics /replicaz\n';
        break;
      case '/varz':
        body = await this.varz();
        break;
      case '/connz':
        body = await this.connz(q);
        break;
      case '/subsz':
      case '/subscriptionsz':
        body = await this.subsz(q);
        break;
      case '/routez':
        body = await this.routez(q);
        break;
      case '/gatewayz':
        body = await this.gatewayz(q);
        break;
      case '/leafz':
        body = await this.leafz(q);
        break;
      case '/healthz': {
        const h = await this.healthz(q);
        if (h.error !== undefined) {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(h));
          return;
        }
        body = h;
        break;
      }
      case '/replicaz':
        body = (await this.server.askJetStream<Json>('replicaz', Object.fromEntries(q))) ?? { error: 'JetStream not enabled' };
        break;
      case '/jsz':
        body = await this.jsz(q);
        break;
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(await this.metrics());
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('404 page not found\n');
        return;
    }
    if (typeof body === 'string') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(body);
      return;
    }
    // nats-server supports JSONP through ?callback=
    const cb = q.get('callback');
    const json = JSON.stringify(body, null, 2);
    res.writeHead(200, { 'content-type': cb ? 'application/javascript' : 'application/json' });
    res.end(cb ? `${cb}(${json})` : json);
  }

  private cpuPercent(): number {
    const now = Date.now();
    const used = process.cpuUsage(this.lastCpu);
    const elapsed = Math.max(1, now - this.lastCpuAt) * 1000;
    this.lastCpu = process.cpuUsage();
    this.lastCpuAt = now;
    return Math.round(((used.user + used.system) / elapsed) * 1000) / 10;
  }

  async varz(): Promise<Json> {
    const s = this.server;
    const o = s.options;
    const t = sumVarz(await s.varz());
    const now = new Date();
    return {
      server_id: s.serverId,
      server_name: o.serverName || s.serverId,
      version: NATS_COMPAT_VERSION,
      petrel_version: PETREL_VERSION,
      proto: PROTO_VERSION,
      go: `node${process.version}`,
      host: o.host,
      port: s.clientPort,
      auth_required: authConfigured(o.auth) || undefined,
      tls_required: o.tls ? true : undefined,
      tls_verify: o.tls?.verify || undefined,
      max_connections: o.maxConnections,
      max_subscriptions: o.maxSubscriptions || undefined,
      ping_interval: o.pingIntervalMs * MS_TO_NS,
      ping_max: o.pingMax,
      http_host: o.httpHost,
      http_port: s.httpPort,
      http_base_path: '',
      https_port: 0,
      auth_timeout: o.auth.timeoutMs / 1000,
      max_control_line: o.maxControlLine,
      max_payload: o.maxPayload,
      max_pending: o.maxPending,
      cluster: this.clusterVarz(),
      gateway: gatewayVarz(o.gateway, s.gateway?.port ?? 0, s.gateway?.varzGateways() ?? []),
      leaf: leafVarz(o.leafnodes, s.leaf?.port ?? 0),
      mqtt: {},
      websocket: {},
      jetstream: o.jetstream.enabled
        ? {
            config: {
              max_memory: o.jetstream.maxMemoryStore,
              max_storage: o.jetstream.maxFileStore,
              store_dir: o.jetstream.storeDir,
              sync_interval: o.jetstream.syncIntervalMs * MS_TO_NS,
              ...(o.jetstream.domain ? { domain: o.jetstream.domain } : {}),
            },
          }
        : {},
      tls_timeout: (o.tls?.timeoutMs ?? 2000) / 1000,
      write_deadline: o.writeDeadlineMs * MS_TO_NS,
      start: s.startTime.toISOString(),
      now: now.toISOString(),
      uptime: goUptime(now.getTime() - s.startTime.getTime()),
      mem: process.memoryUsage().rss,
      cores: os.availableParallelism(),
      gomaxprocs: s.workerCount,
      cpu: this.cpuPercent(),
      connections: t.connections,
      total_connections: s.totalConnections,
      routes: s.cluster?.routeCount ?? 0,
      remotes: s.cluster?.routeCount ?? 0,
      leafnodes: t.leafnodes,
      in_msgs: t.inMsgs,
      out_msgs: t.outMsgs,
      in_bytes: t.inBytes,
      out_bytes: t.outBytes,
      slow_consumers: t.slowConsumers,
      subscriptions: t.subscriptions,
      connect_urls: s.cluster?.connectUrls(),
      http_req_stats: { ...this.reqStats },
      config_load_time: s.configLoadTime.toISOString(),
      tags: o.serverTags.length ? o.serverTags : undefined,
      workers: s.workerCount,
    };
  }

  /** nats-server's ClusterOptsVarz (empty when the node is not clustered). */
  private clusterVarz(): Json {
    const s = this.server;
    const c = s.options.cluster;
    if (!c || !s.cluster) return clusterVarz(c);
    // The bound port (for `port: -1`) and the name in force (a dynamic one when none was configured).
    return { ...clusterVarz(c, s.cluster.port), name: s.cluster.clusterName };
  }


  /** nats-server's Routez; `subs=1` lists each route's subscriptions. */
  async routez(q: URLSearchParams): Promise<Json> {
    const s = this.server;
    const subs = q.get('subs') === '1' || q.get('subs') === 'true' || q.get('subs') === 'detail';
    const routes = await s.routez(subs);
    const out: Json = { server_id: s.serverId, now: new Date().toISOString() };
    const perms = s.options.cluster?.permissions;
    if (perms?.import) out.import = perms.import;
    if (perms?.export) out.export = perms.export;
    out.num_routes = routes.length;
    out.routes = routes;
    return out;
  }

  /** nats-server's Gatewayz: `accs=1` adds each connection's accounts, `acc_name` one account, `gw_name` one gateway. */
  async gatewayz(q: URLSearchParams): Promise<Json> {
    const flag = (k: string) => q.get(k) === '1' || q.get(k) === 'true';
    const accName = q.get('acc_name') ?? undefined;
    return this.server.gatewayz(flag('accs') || accName !== undefined, accName, q.get('gw_name') ?? undefined);
  }

  /** nats-server's Leafz: `subs=1` lists each connection's subscriptions, `acc` one account. */
  async leafz(q: URLSearchParams): Promise<Json> {
    const subs = q.get('subs') === '1' || q.get('subs') === 'true' || q.get('subs') === 'detail';
    return this.server.leafz(subs, q.get('acc') ?? undefined);
  }

  async connz(q: URLSearchParams): Promise<Json> {
    const s = this.server;
    const stateParam = (q.get('state') ?? 'open').toLowerCase();
    const state = stateParam === 'closed' ? 'closed' : stateParam === 'all' || stateParam === 'any' ? 'any' : 'open';
    const cidParam = q.get('cid');
    const cid = cidParam ? Number(cidParam) : undefined;
    const subs = q.get('subs') === '1' || q.get('subs') === 'true' || q.get('subs') === 'detail';
    const parts = await s.connz({ state, cid, subs });
    let conns = parts.flatMap((p) => p.conns);
    const sortKey = q.get('sort') ?? 'cid';
    const sorter = CONNZ_SORTS[sortKey] ?? CONNZ_SORTS.cid!;
    const dir = ASCENDING.has(sortKey) ? 1 : -1;
    conns.sort((a, b) => dir * (sorter(a) - sorter(b)) || (a.cid as number) - (b.cid as number));
    const total = conns.length;
    const offset = Math.max(0, Number(q.get('offset') ?? 0) || 0);
    const limit = Math.max(1, Number(q.get('limit') ?? CONNZ_DEFAULT_LIMIT) || CONNZ_DEFAULT_LIMIT);
    conns = conns.slice(offset, offset + limit);
    return {
      server_id: s.serverId,
      now: new Date().toISOString(),
      num_connections: conns.length,
      total,
      offset,
      limit,
      connections: conns,
    };
  }

  async subsz(q: URLSearchParams): Promise<Json> {
    const s = this.server;
    const subs = q.get('subs') === '1' || q.get('subs') === 'true' || q.get('subs') === 'detail';
    const test = q.get('test') ?? undefined;
    const parts = await s.subsz({ subs, test });
    const first = parts[0];
    const stats = first?.stats;
    const out: Json = {
      server_id: s.serverId,
      now: new Date().toISOString(),
      num_subscriptions: first?.total ?? 0,
      num_cache: stats?.num_cache ?? 0,
      num_inserts: stats?.num_inserts ?? 0,
      num_removes: stats?.num_removes ?? 0,
      num_matches: parts.reduce((a, p) => a + (p.stats?.num_matches ?? 0), 0),
      cache_hit_rate: stats?.cache_hit_rate ?? 0,
      max_fanout: stats?.max_fanout ?? 0,
      avg_fanout: stats?.avg_fanout ?? 0,
    };
    if (subs || test !== undefined) {
      const list = parts.flatMap((p) => p.list).map((e) => ({ account: '$G', ...e }));
      const offset = Math.max(0, Number(q.get('offset') ?? 0) || 0);
      const limit = Math.max(1, Number(q.get('limit') ?? CONNZ_DEFAULT_LIMIT) || CONNZ_DEFAULT_LIMIT);
      out.total = list.length;
      out.offset = offset;
      out.limit = limit;
      out.subscriptions_list = list.slice(offset, offset + limit);
    }
    return out;
  }

  /**
   * nats-server's /healthz: with JetStream, unavailable (503) until it is current here:
   * `js-enabled-only` (or the older `js-enabled`) only that JetStream runs, `js-server-only` the
   * node's meta state, the plain probe also every stream and consumer replica it hosts.
   */
  async healthz(q: URLSearchParams): Promise<{ status: string; error?: string }> {
    const flag = (k: string) => q.get(k) === '1' || q.get(k) === 'true';
    const h = await this.server.askJetStream<{ status: string; error?: string }>('jshealth', {
      jsEnabledOnly: flag('js-enabled-only') || flag('js-enabled'),
      jsServerOnly: flag('js-server-only'),
    });
    return h ?? { status: 'ok' };
  }

  async jsz(q: URLSearchParams): Promise<Json> {
    const s = this.server;
    const flag = (k: string) => q.get(k) === '1' || q.get(k) === 'true';
    const r = await s.jsz({
      raft: flag('raft'),
      accounts: flag('accounts'),
      streams: flag('streams'),
      consumers: flag('consumers'),
      config: flag('config'),
      offset: Number(q.get('offset') ?? 0) || 0,
      limit: Number(q.get('limit') ?? 1024) || 1024,
    });
    if (!r) return { server_id: s.serverId, now: new Date().toISOString(), disabled: true };
    return { server_id: s.serverId, now: new Date().toISOString(), ...r };
  }

  /** Prometheus text, named like prometheus-nats-exporter's gnatsd_varz_* series. */
  async metrics(): Promise<string> {
    const v = await this.varz();
    const series: [string, 'gauge' | 'counter', string][] = [
      ['connections', 'gauge', 'Current client connections'],
      ['subscriptions', 'gauge', 'Current subscriptions'],
      ['mem', 'gauge', 'Resident memory in bytes'],
      ['cpu', 'gauge', 'CPU usage percent'],
      ['workers', 'gauge', 'Routing worker threads'],
      ['routes', 'gauge', 'Routes to other servers of the cluster'],
      ['remotes', 'gauge', 'Servers of the cluster connected by a route'],
      ['leafnodes', 'gauge', 'Leaf node connections'],
      ['total_connections', 'counter', 'Client connections accepted'],
      ['in_msgs', 'counter', 'Messages received from clients'],
      ['out_msgs', 'counter', 'Messages delivered to clients'],
      ['in_bytes', 'counter', 'Payload bytes received'],
      ['out_bytes', 'counter', 'Payload bytes delivered'],
      ['slow_consumers', 'counter', 'Connections cut as slow consumers'],
    ];
    const labels = `{server_id="${v.server_id}"}`;
    let out = '';
    for (const [n, type, help] of series) {
      out += `# HELP gnatsd_varz_${n} ${help}\n# TYPE gnatsd_varz_${n} ${type}\ngnatsd_varz_${n}${labels} ${v[n] as number}\n`;
    }
    const cache = (await this.server.jsz({}))?.['store_cache'] as Record<string, number> | undefined;
    if (cache !== undefined) {
      for (const [n, type, help] of STORE_CACHE_SERIES) {
        const name = `petrel_jetstream_store_cache_${n}`;
        out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${labels} ${cache[n] ?? 0}\n`;
      }
    }
    const s = this.server;
    if (s.gateway) out += gatewayMetrics(await s.gatewayz(false), s.serverId);
    if (s.leaf) out += leafMetrics(await s.leafz(false), s.serverId);
    const js = await this.server.askJetStream<Record<string, number>>('jsmetrics');
    if (js) {
      for (const [n, value] of Object.entries(js)) {
        const type = JS_COUNTERS.has(n) ? 'counter' : 'gauge';
        out += `# HELP petrel_jetstream_cluster_${n} ${JS_METRIC_HELP[n] ?? n}\n# TYPE petrel_jetstream_cluster_${n} ${type}\npetrel_jetstream_cluster_${n}${labels} ${value}\n`;
      }
    }
    return out;
  }
}

/** JetStream cluster series in /metrics (Raft and replication). */
const JS_COUNTERS = new Set(['raft_msgs_out', 'raft_msgs_in', 'raft_publishes', 'raft_bytes_out', 'raft_bad_envelopes']);
const JS_METRIC_HELP: Record<string, string> = {
  meta_leader: '1 when this node leads the meta group',
  meta_term: 'Raft term of the meta group',
  meta_commit: 'Commit index of the meta group',
  meta_cluster_size: 'Voters of the meta group',
  stream_replicas: 'Stream replicas on this node',
  stream_leaders: 'Streams this node leads',
  stream_replicas_catching_up: 'Replicas fetching messages they miss',
  stream_max_follower_lag: 'Largest follower lag (entries) of the streams this node leads',
  consumer_replicas: 'Consumer replicas on this node',
  consumer_leaders: 'Consumers this node leads',
  raft_msgs_out: 'Raft messages sent',
  raft_msgs_in: 'Raft messages received',
  raft_publishes: 'Internal publishes carrying Raft messages',
  raft_bytes_out: 'Bytes of Raft traffic sent',
  raft_bad_envelopes: 'Raft envelopes dropped as undecodable or of another version',
};
