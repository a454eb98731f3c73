// Messages between the main thread and the routing workers (structured clone over MessagePort).
// Hot traffic never goes here: it uses the SharedArrayBuffer rings.

import type net from 'node:net';
import type { ServerOptions } from '../config/options.ts';
import type { ConnectionKind } from './connection.ts';
import type { RouteLink } from '../cluster/route.ts';
import type { RouteInfo } from '../cluster/route_info.ts';
import type { ClusterState } from '../cluster/worker_routes.ts';
import type { GatewayLink } from '../cluster/gateway.ts';
import type { GatewayInfo } from '../cluster/gateway_info.ts';
import type { GatewayState } from '../cluster/worker_gateways.ts';
import type { LeafLink } from '../cluster/leafnode.ts';
import type { LeafState, LeafEvent } from '../cluster/worker_leafs.ts';

/** How a dialled or accepted link socket came to its worker, by kind. */
export type LinkInfo = RouteLink | GatewayLink | LeafLink;

export interface ConnzQuery {
  state: 'open' | 'closed' | 'any';
  cid?: number;
  subs: boolean;
}

/** What the main thread asks workers for (the JetStream host answers the `js*` and `replicaz` ones). */
export type QueryKind = 'connz' | 'varz' | 'subsz' | 'jsz' | 'routez' | 'gatewayz' | 'leafz' | 'jshealth' | 'jsmetrics' | 'replicaz';

export type MainToWorker =
  /** A socket for the worker to own: accepted on a listener or dialled by the main thread. */
  | { t: 'conn'; kind: ConnectionKind; sock: net.Socket; cid: number; ip: string; port: number; link?: LinkInfo }
  /** The cluster's name, our route INFO, the connect URLs clients see. */
  | { t: 'cluster'; state: ClusterState; announce: boolean }
  /** The answer to a route's first INFO: registered, or closed for `reason`. */
  | { t: 'route-verdict'; cid: number; ok: boolean; reason?: string }
  /** An INFO for the route to send (gossip of a new route, lame duck). */
  | { t: 'route-send-info'; cid: number; info: RouteInfo }
  | { t: 'route-close'; cid: number; reason: string }
  /** This server's gateway name, INFO and configured remotes (`announce`: inbound gateways get the new INFO). */
  | { t: 'gateway'; state: GatewayState; announce: boolean }
  | { t: 'gateway-verdict'; cid: number; ok: boolean; reason?: string }
  | { t: 'gateway-send-info'; cid: number; info: GatewayInfo }
  /** This server's leafnode INFO (`announce`: connected leaf nodes get it, with new URLs). */
  | { t: 'leaf'; state: LeafState; announce: boolean }
  | { t: 'leaf-close'; cid: number; reason: string }
  /** The answer to a worker's statsz request. */
  | { t: 'statsz'; id: number; data: unknown }
  | { t: 'reload'; options: ServerOptions; info: Record<string, unknown> }
  | { t: 'query'; id: number; what: QueryKind; args: unknown }
  | { t: 'reopen-log' }
  | { t: 'lameduck'; graceMs: number; durationMs: number }
  | { t: 'shutdown' };

export type WorkerToMain =
  | { t: 'ready' }
  | { t: 'closed'; cid: number; kind: ConnectionKind }
  /** The system client needs this node's statsz. */
  | { t: 'statsz'; id: number }
  /** A route's INFO: the first asks the main thread to register the route, later ones gossip. */
  | { t: 'route-info'; cid: number; info: RouteInfo; first: boolean; solicited: boolean; url?: string; ip: string }
  /** A gateway's INFO: the first asks the main thread to register it, later ones gossip. */
  | { t: 'gateway-info'; cid: number; info: GatewayInfo; first: boolean }
  /** A leaf connection registered, or closed with a wait before redialling. */
  | { t: 'leaf-event'; cid: number; event: LeafEvent }
  | { t: 'reply'; id: number; data: unknown }
  | { t: 'lameduck-done' }
  | { t: 'stopped' };

export interface WorkerConnz {
  conns: Record<string, unknown>[];
}

export interface WorkerVarz {
  connections: number;
  leafnodes: number;
  totalConnections: number;
  inMsgs: number;
  inBytes: number;
  outMsgs: number;
  outBytes: number;
  slowConsumers: number;
  subscriptions: number;
}

export interface SublistStats {
  num_subscriptions: number;
  num_cache: number;
  num_inserts: number;
  num_removes: number;
  num_matches: number;
  cache_hit_rate: number;
  max_fanout: number;
  avg_fanout: number;
}

export interface WorkerSubsz {
  total: number;
  local: number;
  stats: SublistStats;
  list: { subject: string; qgroup?: string; sid: string; msgs: number; cid: number }[];
}
