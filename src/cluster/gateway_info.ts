// The JSON two clusters' servers exchange when a gateway opens, with nats-server's field names
// (server.go Info, route.go connectInfo), the INFO commands of the interest-mode switch, and the
// errors and close reasons of the gateway protocol.

import { goQuote } from '../auth/go_quote.ts';
import type { ServerConnectBase, ServerInfoBase } from './route_info.ts';

/** A server's INFO on a gateway connection (the first, gossip, and the interest-mode commands). */
export interface GatewayInfo extends ServerInfoBase {
  /** The sending cluster's gateway name (a gossip INFO: the cluster it tells about). */
  gateway?: string;
  /** Gateway URLs (host:port) of that cluster. */
  gateway_urls?: string[];
  /** The sending server's own gateway URL. */
  gateway_url?: string;
  gateway_cmd?: number;
  /** The command's account, base64 (Go marshals []byte so). */
  gateway_cmd_payload?: string;
  /** Maps replies with `_GR_.` (not the old `$GR.`). */
  gateway_nrp?: boolean;
  /** Switches every account to interest-only mode right away (nats-server 2.9+). */
  gateway_iom?: boolean;
}

/** The CONNECT a server sends on a gateway it dialled. */
export interface GatewayConnect extends ServerConnectBase {
  /** The dialling server's gateway name; absent when a client or route dialled by mistake. */
  gateway?: string;
}

/** nats-server's gateway INFO commands. */
export const GatewayCmd = {
  /** Here are the URLs of a cluster: connect to it. */
  GOSSIP: 1,
  /** All subscriptions of an account follow (interest-only mode starts). */
  ALL_SUBS_START: 2,
  /** All subscriptions of an account were sent. */
  ALL_SUBS_COMPLETE: 3,
} as const;

/** Close reasons of gateways, as nats-server names them in logs and monitoring. */
export const GatewayClose = {
  WRONG_PORT: 'Incorrect Port',
  WRONG_GATEWAY: 'Wrong Gateway',
  DUPLICATE_SERVER_NAME: 'Duplicate Server Name',
  AUTHENTICATION: 'Authentication Failure',
  PROTOCOL_VIOLATION: 'Protocol Violation',
} as const;

/** nats-server's ErrClientOrRouteConnectedToGatewayPort. */
export const ERR_WRONG_PORT_FOR_GATEWAY = 'attempted to connect to gateway port';

export function wrongPortDialled(name: string): string {
  return `Attempt to connect to gateway ${goQuote(name)} using wrong port`;
}

export function wrongGatewayDialled(ours: string, wanted: string, theirs: string): string {
  return `Connection from ${goQuote(ours)} rejected, wanted to connect to ${goQuote(wanted)}, this is ${goQuote(theirs)}`;
}

export function unknownGatewayRejected(ours: string): string {
  return `Connection to gateway ${goQuote(ours)} rejected`;
}

/** nats-server's gatewayMaxRUnsubBeforeSwitch: RS- sent for an account before it switches to interest-only mode. */
export const INTEREST_ONLY_THRESHOLD = 1000;
/** nats-server's gwMaxPingInterval: gateways ping at least this often. */
export const GATEWAY_MAX_PING_INTERVAL_MS = 15_000;
/** nats-server's defaultSolicitGatewaysDelay: the cluster gets this long to form before gateways are dialled. */
export const SOLICIT_GATEWAYS_DELAY_MS = 1000;
/** nats-server's defaultGatewayConnectDelay (between rounds) and defaultGatewayReconnectDelay. */
export const GATEWAY_CONNECT_DELAY_MS = 1000;
export const GATEWAY_RECONNECT_DELAY_MS = 1000;
/** How long a subscription counts as recent, so replies matching it are routed (recSubExp). */
export const GATEWAY_RECENT_SUB_MS = 2000;

/** Encodes an account name as Go marshals a []byte payload. */
export function encodeCmdPayload(account: string): string {
  return Buffer.from(account, 'latin1').toString('base64');
}

export function decodeCmdPayload(payload: string | undefined): string | null {
  if (typeof payload !== 'string' || payload === '') return null;
  return Buffer.from(payload, 'base64').toString('latin1');
}
