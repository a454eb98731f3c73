// The JSON two servers exchange when a route opens, with nats-server's field names (server.go
// Info, route.go connectInfo), and the close reasons and errors of the route protocol.

import type { SubjectPermission } from '../config/options.ts';
import { goQuote } from '../auth/go_quote.ts';

/** The INFO fields every server link shares (nats-server's Info struct). */
export interface ServerInfoBase {
  server_id?: string;
  server_name?: string;
  version?: string;
  proto?: number;
  go?: string;
  host?: string;
  port?: number;
  headers?: boolean;
  auth_required?: boolean;
  tls_required?: boolean;
  tls_verify?: boolean;
  max_payload?: number;
  nonce?: string;
}

/** What a server says about itself on a route (first INFO), and later updates (gossip, lame duck). */
export interface RouteInfo extends ServerInfoBase {
  server_id: string;
  jetstream?: boolean;
  /** nats-route://host:port/ to dial this server (advertise, or filled in by the gossiping server). */
  ip?: string;
  cluster?: string;
  cluster_dynamic?: boolean;
  domain?: string;
  /** The server's client URLs (host:port), left out under no_advertise. */
  connect_urls?: string[];
  ws_connect_urls?: string[];
  ldm?: boolean;
  import?: SubjectPermission;
  export?: SubjectPermission;
  /** Leaf-node origin cluster support (LS+/LMSG). */
  lnoc?: boolean;
  /** This server's gateway URL (host:port), for the cluster's list of gateway URLs. */
  gateway_url?: string;
  /** This server's leafnode URL (host:port), for the cluster's list of leafnode URLs. */
  leafnode_urls?: string[];
  // A gateway INFO forwarded on routes (nats-server's forwardNewGatewayToLocalCluster): the
  // remote cluster's name and URLs, with gateway_cmd 1 (gossip).
  gateway?: string;
  gateway_urls?: string[];
  gateway_cmd?: number;
  // nats-server 2.10+ (route pools, pinned accounts, compression): a peer that sees none of
  // them in our INFO treats us as a 2.9 server, one route and no compression.
  route_pool_size?: number;
  route_pool_idx?: number;
  route_account?: string;
  compression?: string;
}

/** What the CONNECT of a dialled route or gateway carries in common. */
export interface ServerConnectBase {
  echo?: boolean;
  verbose?: boolean;
  pedantic?: boolean;
  user?: string;
  pass?: string;
  tls_required?: boolean;
  headers?: boolean;
  /** The dialling server's id. */
  name?: string;
  cluster?: string;
  /** Set by a client library that dialled the port by mistake. */
  lang?: string;
}

/** The CONNECT a server sends on a route it dialled. */
export interface RouteConnect extends ServerConnectBase {
  cluster_dynamic?: boolean;
  lnoc?: boolean;
  /** Set by a gateway that dialled the route port by mistake. */
  gateway?: string;
}

/** nats-server's RouteProtoV2: accounts in RS+/RS-/RMSG. */
export const ROUTE_PROTO = 2;

/** Close reasons of routes, as nats-server names them in logs and monitoring. */
export const RouteClose = {
  DUPLICATE_ROUTE: 'Duplicate Route',
  CLUSTER_NAME_CONFLICT: 'Cluster Name Conflict',
  DUPLICATE_SERVER_NAME: 'Duplicate Server Name',
  AUTHENTICATION: 'Authentication Failure',
  AUTH_TIMEOUT: 'Authentication Timeout',
  WRONG_PORT: 'Incorrect Port',
  WRONG_GATEWAY: 'Wrong Gateway',
  PROTOCOL_VIOLATION: 'Protocol Violation',
  ROUTE_REMOVED: 'Route Removed',
  SHUTDOWN: 'Server Shutdown',
} as const;

/** The -ERR a server sends when a client library dials its route port (nats-server's text). */
export const ERR_CLIENT_ON_ROUTE_PORT = 'attempted to connect to route port';

export function clusterNameMismatch(theirs: string, ours: string): string {
  return `Rejecting connection, cluster name ${goQuote(theirs)} does not match ${goQuote(ours)}`;
}
