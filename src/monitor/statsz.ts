// A server's statsz (nats-server's ServerStatsMsg): what it answers on `$SYS.REQ.SERVER.PING`,
// with nats-server's JSON names.

import os from 'node:os';
import type { PetrelServer } from '../server/server.ts';
import { sumVarz } from './http.ts';
import { NATS_COMPAT_VERSION } from '../version.ts';

export async function buildStatsz(s: PetrelServer, seq: number): Promise<Record<string, unknown>> {
  const o = s.options;
  const t = sumVarz(await s.varz());
  const routes = await s.routez(false);
  const statsz: Record<string, unknown> = {
    start: s.startTime.toISOString(),
    mem: process.memoryUsage().rss,
    cores: os.availableParallelism(),
    cpu: 0,
    connections: t.connections,
    total_connections: s.totalConnections,
    active_accounts: 0,
    subscriptions: t.subscriptions,
    sent: { msgs: t.outMsgs, bytes: t.outBytes },
    received: { msgs: t.inMsgs, bytes: t.inBytes },
    slow_consumers: t.slowConsumers,
    active_servers: 1 + routes.length,
  };
  if (routes.length > 0) {
    statsz.routes = routes.map((r) => ({
      rid: r.rid,
      name: r.remote_name,
      sent: { msgs: r.out_msgs, bytes: r.out_bytes },
      received: { msgs: r.in_msgs, bytes: r.in_bytes },
      pending: r.pending_size,
    }));
  }
  const server: Record<string, unknown> = {
    name: o.serverName || s.serverId,
    host: o.host,
    id: s.serverId,
    ver: NATS_COMPAT_VERSION,
    seq,
    jetstream: o.jetstream.enabled,
    time: new Date().toISOString(),
  };
  if (s.cluster) server.cluster = s.cluster.clusterName;
  if (o.jetstream.domain) server.domain = o.jetstream.domain;
  if (o.serverTags.length > 0) server.tags = o.serverTags;
  return { server, statsz };
}
