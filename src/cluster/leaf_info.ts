// The JSON a leaf node and its hub exchange (server.go Info, leafnode.go leafConnectInfo), with
// nats-server's field names, and the errors, close reasons and delays of the leaf protocol.

import type { SubjectPermission } from '../config/options.ts';
import { goQuote } from '../auth/go_quote.ts';
import type { ServerInfoBase } from './route_info.ts';

/** The hub's INFO on a leaf connection (the first, and the answer to CONNECT with connect_info). */
export interface LeafInfo extends ServerInfoBase {
  jetstream?: boolean;
  domain?: string;
  /** The connection's id on the hub: a leafnode port always sends one (a client port may not). */
  client_id?: number;
  cluster?: string;
  /** The hub cluster's leafnode URLs: where to reconnect. */
  leafnode_urls?: string[];
  /** The hub answers CONNECT with an INFO (nats-server 2.8+). */
  info_on_connect?: boolean;
  /** This INFO is that answer. */
  connect_info?: boolean;
  import?: SubjectPermission;
  export?: SubjectPermission;
  /** The account the hub bound the connection to. */
  remote_account?: string;
}

/** The CONNECT a leaf node sends its hub. */
export interface LeafConnect {
  version?: string;
  jwt?: string;
  sig?: string;
  user?: string;
  pass?: string;
  tls_required?: boolean;
  server_id?: string;
  domain?: string;
  name?: string;
  /** The dialling server is the hub of this connection. */
  is_hub?: boolean;
  cluster?: string;
  headers?: boolean;
  jetstream?: boolean;
  /** Subjects the leaf does not want (its deny_imports): the hub does not send them. */
  deny_pub?: string[];
  /** Set by a gateway that dialled the leafnode port by mistake. */
  gateway?: string;
  /** Set by a client library that dialled the leafnode port by mistake. */
  lang?: string;
}

export const LeafClose = {
  WRONG_PORT: 'Incorrect Port',
  WRONG_GATEWAY: 'Wrong Gateway',
  AUTHENTICATION: 'Authentication Failure',
  PROTOCOL_VIOLATION: 'Protocol Violation',
  STALE: 'Stale Connection',
  MISSING_ACCOUNT: 'Missing Account',
  DUPLICATE: 'Duplicate Remote LeafNode Connection',
  MINIMUM_VERSION: 'Minimum Version Required',
  CLUSTER_NAMES_IDENTICAL: 'Cluster Names Identical',
} as const;

/** nats-server's leafNodeLoopDetectionSubjectPrefix. */
export const LDS_PREFIX = '$LDS.';
/** nats-server's ErrClientConnectedToLeafNodePort. */
export const ERR_CLIENT_ON_LEAF_PORT = 'attempted to connect to leaf node port';
/** nats-server's ErrConnectedToWrongPort. */
export const ERR_WRONG_PORT = 'attempted to connect to wrong port';
/** nats-server's ErrLeafNodeHasSameClusterName. */
export const ERR_SAME_CLUSTER_NAME = 'remote leafnode has same cluster name';
/** nats-server's leafNodeReconnectDelayAfterLoopDetected (also after a same-cluster-name refusal). */
export const LOOP_RECONNECT_DELAY_MS = 30_000;
/** nats-server's connectProcessTimeout: the hub's answer to CONNECT must come this fast. */
export const CONNECT_PROCESS_TIMEOUT_MS = 2_000;

export function loopDetected(account: string, delayMs: number): string {
  return `Loop detected for leafnode account=${goQuote(account)}. Delaying attempt to reconnect for ${delayMs / 1000}s`;
}

export function gatewayOnLeafPort(name: string): string {
  return `Rejecting connection from gateway ${goQuote(name)} on the leafnode port`;
}

/**
 * Subjects a leaf connection never carries, either way, for an account other than the system
 * account (nats-server's denyAllClientJs): each side's JetStream API stays its own; other
 * domains are reached as `$JS.<domain>.API.>`.
 */
export const JETSTREAM_LEAF_DENY: readonly string[] = ['$JS.API.>', '$KV.>', '$OBJ.>'];
