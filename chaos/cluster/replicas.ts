// Reading the cluster's state from outside the fault path: formation (full mesh, one meta leader),
// a stream's leader and whether its replicas caught up, and each node's own copy of a stream.
//
// A node's copy is read without going through the stream leader, so the checker compares replicas
// rather than one leader's view. Petrel serves it on monitoring (`/replicaz`: the node's store,
// read with no Raft round). Other servers are read through an R1 consumer placed on that node
// (nats-server places an R1 consumer on a random peer of the stream, so it is created again until
// it lands there): a consumer delivers from its own node's store. DIRECT.GET looks like the
// obvious tool but is not node-local on nats-server 2.9: requests sent to one node are answered
// by other replicas too, and a read of two diverged replicas interleaved shows duplicates and
// gaps that neither holds.

import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import type { ChaosCluster } from './nodes.ts';
import { sleep } from './nodes.ts';

const POLL_MS = 250;
const REPLICAZ_PAGE = 10_000;

type Json = Record<string, unknown>;

export async function monitor(c: ChaosCluster, i: number, pathAndQuery: string, timeoutMs = 2_000): Promise<Json> {
  const res = await fetch(`${c.monitorUrl(i)}${pathAndQuery}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok && res.status !== 503) throw new Error(`${c.members[i]!.name} ${pathAndQuery}: HTTP ${res.status}`);
  return (await res.json()) as Json;
}

/**
 * Polls `check` (a reason it is not there yet, or null once it is) until it passes or `boundMs`
 * elapse; returns the last reason on timeout, null on success.
 */
export async function settle(check: () => Promise<string | null>, boundMs: number, signal?: AbortSignal): Promise<string | null> {
  const deadline = Date.now() + boundMs;
  let reason: string | null = 'not checked';
  for (;;) {
    try {
      reason = await check();
    } catch (err) {
      reason = (err as Error).message;
    }
    if (reason === null || Date.now() > deadline || signal?.aborted) return reason;
    await sleep(POLL_MS);
  }
}

/** Every node routes to every other one. */
export async function fullMesh(c: ChaosCluster): Promise<string | null> {
  for (let i = 0; i < c.nodes; i++) {
    const r = await monitor(c, i, '/routez');
    const n = Number(r['num_routes'] ?? 0);
    if (n < c.nodes - 1) return `${c.members[i]!.name} has ${n} of ${c.nodes - 1} routes`;
  }
  return null;
}

/** Every node names the same JetStream meta leader. */
export async function metaLeader(c: ChaosCluster): Promise<string | null> {
  const leaders = new Set<string>();
  for (let i = 0; i < c.nodes; i++) {
    const j = await monitor(c, i, '/jsz');
    const meta = j['meta_cluster'] as Json | undefined;
    if (c.nodes > 1 && !meta) return `${c.members[i]!.name} reports no meta group`;
    leaders.add(String(meta?.['leader'] ?? (c.nodes === 1 ? 'self' : '')));
  }
  if (leaders.has('')) return 'no meta leader yet';
  if (leaders.size > 1) return `nodes disagree on the meta leader: ${[...leaders].join(', ')}`;
  return null;
}

/** The control connection: straight to every node's own client port, so no fault blinds it. */
export async function adminConnection(c: ChaosCluster): Promise<NatsConnection> {
  return connect({
    servers: c.directUrls(),
    name: 'chaos-admin',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ignoreClusterUpdates: true,
    pingInterval: 2_000,
    maxPingOut: 2,
    timeout: 5_000,
  });
}

export async function adminJsm(nc: NatsConnection, timeoutMs = 3_000): Promise<JetStreamManager> {
  return jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
}

/** The stream's leader as its server name, or null (no leader, or the info request failed). */
export async function streamLeader(jsm: JetStreamManager, stream: string): Promise<string | null> {
  try {
    const info = await jsm.streams.info(stream);
    return info.cluster?.leader || null;
  } catch {
    return null;
  }
}

/** The servers holding a replica of the stream (leader first), or null when the info request failed. */
export async function replicaNodes(jsm: JetStreamManager, stream: string): Promise<string[] | null> {
  try {
    const cl = (await jsm.streams.info(stream)).cluster;
    if (!cl) return null;
    return [...(cl.leader ? [cl.leader] : []), ...(cl.replicas ?? []).map((p) => p.name)];
  } catch {
    return null;
  }
}

/** Why the stream's replicas have not caught up, or null once a leader and every replica is current. */
export async function replicasCurrent(jsm: JetStreamManager, stream: string, replicas: number): Promise<string | null> {
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(stream);
  } catch (err) {
    return `stream info: ${(err as Error).message}`;
  }
  if (replicas <= 1) return null;
  const cl = info.cluster;
  if (!cl?.leader) return 'no stream leader';
  const peers = cl.replicas ?? [];
  if (peers.length < replicas - 1) return `the leader ${cl.leader} lists ${peers.length} of ${replicas - 1} followers`;
  const behind = peers.filter((p) => !p.current || p.offline || (p.lag ?? 0) > 0);
  if (behind.length > 0) return `not current: ${behind.map((p) => `${p.name}${p.offline ? ' (offline)' : ''} lag ${p.lag ?? '?'}`).join(', ')}`;
  return null;
}

export interface StoredCopy {
  node: string;
  /** Message payloads in stream order. */
  values: string[];
  via: 'replicaz' | 'local-consumer';
}

/** Node i's own copy of a stream. */
export async function readCopy(c: ChaosCluster, i: number, stream: string): Promise<StoredCopy> {
  return c.spec.petrel ? readReplicaz(c, i, stream) : readThroughLocalConsumer(c, i, stream);
}

async function readReplicaz(c: ChaosCluster, i: number, stream: string): Promise<StoredCopy> {
  const values: string[] = [];
  let seq = 1;
  for (;;) {
    const r = await monitor(c, i, `/replicaz?stream=${encodeURIComponent(stream)}&seq=${seq}&limit=${REPLICAZ_PAGE}`, 30_000);
    if (typeof r['error'] === 'string') throw new Error(`${c.members[i]!.name} /replicaz: ${r['error']}`);
    for (const m of r['messages'] as { data?: string }[]) values.push(Buffer.from(m.data ?? '', 'base64').toString());
    const next = Number(r['next_seq'] ?? 0);
    if (!next) return { node: c.members[i]!.name, values, via: 'replicaz' };
    seq = next;
  }
}

/** Attempts at placing the reading consumer on the wanted node (placement is random among the peers). */
const PLACEMENT_TRIES = 60;
const READ_BATCH = 1_000;

async function readThroughLocalConsumer(c: ChaosCluster, i: number, stream: string): Promise<StoredCopy> {
  const node = c.members[i]!.name;
  const nc = await connect({ servers: c.directUrls(), maxReconnectAttempts: -1, ignoreClusterUpdates: true, name: `chaos-read-${node}` });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
    for (let attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
      const name = `chaos-read-${node}-${attempt}`;
      const ci = await jsm.consumers.add(stream, {
        name,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
        num_replicas: 1,
        mem_storage: true,
        inactive_threshold: 120_000_000_000,
      });
      try {
        if (ci.cluster?.leader !== node) continue;
        const values: string[] = [];
        const consumer = await jetstream(nc, { timeout: 10_000 }).consumers.get(stream, name);
        for (let pending = ci.num_pending; pending > 0; ) {
          const batch = await consumer.fetch({ max_messages: READ_BATCH, expires: 5_000 });
          let got = 0;
          for await (const m of batch) {
            values.push(m.string());
            got++;
            pending = m.info.pending;
          }
          if (got === 0) throw new Error(`${node}: reading ${stream} stalled with ${pending} messages to go`);
        }
        return { node, values, via: 'local-consumer' };
      } finally {
        await jsm.consumers.delete(stream, name).catch(() => undefined);
      }
    }
    throw new Error(`${node}: no reading consumer of ${stream} was placed there in ${PLACEMENT_TRIES} tries`);
  } finally {
    await nc.close();
  }
}
