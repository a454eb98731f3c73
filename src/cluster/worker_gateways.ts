// A routing worker's side of the super-cluster: the gateway connections it owns, the gateway
// state the main thread tells it (our name, our gateway INFO, the configured remotes), the
// cluster's interest as inbound gateways announce it (the whole cluster's, nats-server's pasi
// map, one line per queue group), recent subscriptions for reply mapping, and routed replies
// (`_GR_.`) delivered to the server of this cluster that asked.

import type { Router } from '../routing/router.ts';
import type { InterestExport } from '../routing/interest_export.ts';
import { gatewayExports } from '../routing/link_rules.ts';
import { connzEntry } from '../server/conn_state.ts';
import type { GatewayConnection, GatewaySide } from './gateway.ts';
import type { GatewayInfo } from './gateway_info.ts';
import { GATEWAY_RECENT_SUB_MS, INTEREST_ONLY_THRESHOLD } from './gateway_info.ts';
import { INTEREST_MODE_NAMES } from './gateway_interest.ts';
import { GW_REPLY_PREFIX, gatewayHash, gatewayReplyPrefix, oldGatewayHash, oldGatewayReplyPrefix, parseRoutedReply } from './gateway_reply.ts';
import type { RouteConnection } from './route.ts';

/** What the main thread tells every routing worker about this server's gateway. */
export interface GatewayState {
  name: string;
  /** Our gateway INFO (a nonce is added per connection). */
  info: GatewayInfo;
  /** Names of the remote gateways in the configuration. */
  configured: string[];
  rejectUnknown: boolean;
}

/** Routed replies arriving on routes (the route kind asks its worker). */
export interface GatewayReplyRouting {
  routeRegistered(r: RouteConnection): void;
  routeClosed(r: RouteConnection): void;
  /** A `_GR_.` subject from a route: true when handled. */
  fromRoute(r: RouteConnection, account: number, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): boolean;
}

/** One gateway connection as /gatewayz shows it (the main thread adds `configured`). */
export interface WorkerGatewayz {
  cid: number;
  outbound: boolean;
  name: string;
  connection: Record<string, unknown>;
  accounts?: Record<string, unknown>[];
}

export class WorkerGateways implements GatewaySide, GatewayReplyRouting {
  state: GatewayState;
  readonly conns = new Map<number, GatewayConnection>();
  /** What inbound gateways announce: the cluster's interest, queue groups on first and last member. */
  readonly interest: InterestExport;
  private readonly router: Router;
  private readonly clusterHash: string;
  private readonly oldClusterHash: string;
  readonly replyPrefix: string;
  readonly oldReplyPrefix: string;
  private readonly serverHash: string;

  constructor(router: Router, state: GatewayState, serverId: string, now: () => number) {
    this.router = router;
    this.state = state;
    this.clusterHash = gatewayHash(state.name);
    this.oldClusterHash = oldGatewayHash(state.name);
    this.serverHash = gatewayHash(serverId);
    this.replyPrefix = gatewayReplyPrefix(state.name, serverId);
    this.oldReplyPrefix = oldGatewayReplyPrefix(state.name);
    router.trackRecentInterest(GATEWAY_RECENT_SUB_MS, now);
    this.interest = router.exportInterest(
      (account, subject, queue, weight) => {
        for (const c of this.conns.values()) c.interestChanged(account, subject, queue, weight);
      },
      (sub) => gatewayExports(sub, router.systemAccount),
      false,
    );
  }

  get name(): string {
    return this.state.name;
  }

  get rejectUnknown(): boolean {
    return this.state.rejectUnknown;
  }

  info(): GatewayInfo {
    return this.state.info;
  }

  isConfigured(name: string): boolean {
    return this.state.configured.includes(name);
  }

  accountInterest(account: number): Iterable<[number, string, string | null, number, string | null]> {
    return this.interest.accountEntries(account);
  }

  hasAccountInterest(account: number): boolean {
    return this.interest.hasAccount(account);
  }

  queueInterest(): Iterable<[number, string, string | null, number, string | null]> {
    return this.interest.entries();
  }

  add(c: GatewayConnection): void {
    this.conns.set(c.id, c);
  }

  remove(c: GatewayConnection): void {
    this.conns.delete(c.id);
  }

  /** The main thread's new state: inbound gateways hear our new URLs (nats-server's sendAsyncGatewayInfo). */
  changed(state: GatewayState, announce: boolean): void {
    this.state = state;
    if (!announce) return;
    for (const c of this.conns.values()) if (!c.outbound && c.open) c.sendInfoJson(state.info);
  }

  // --- routed replies ------------------------------------------------------------------------

  /** A route's server can be reached with `_GR_.<our cluster>.<its hash>.`: the route owns that subject. */
  routeRegistered(r: RouteConnection): void {
    const id = r.remote?.server_id;
    if (!id) return;
    r.addRoutedReplyInterest(`${GW_REPLY_PREFIX}${this.clusterHash}.${gatewayHash(id)}.>`);
  }

  routeClosed(_r: RouteConnection): void {}

  /**
   * nats-server's handleGatewayReply for a message from a gateway: a reply for another cluster is
   * dropped; one for another server of this cluster goes to it over the route; one for this server
   * (or a server no route leads to) is delivered here under its original subject.
   */
  fromGateway(c: GatewayConnection, account: number, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): boolean {
    const r = parseRoutedReply(subject);
    if (r === null) return false;
    if (r.clusterHash !== (r.old ? this.oldClusterHash : this.clusterHash)) return true;
    if (!r.old && r.serverHash !== this.serverHash && this.router.publish(c, subject, reply, hdrLen, msg, subject, account) > 0) return true;
    this.router.publish(c, r.subject, reply, hdrLen, msg, r.subject, account, null, 0);
    return true;
  }

  /** A routed reply a server of this cluster forwarded here: delivered under its original subject. */
  fromRoute(route: RouteConnection, account: number, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): boolean {
    const r = parseRoutedReply(subject);
    if (r === null) return false;
    if (r.clusterHash !== (r.old ? this.oldClusterHash : this.clusterHash)) return true;
    this.router.publish(route, r.subject, reply, hdrLen, msg, r.subject, account);
    return true;
  }

  // --- monitoring --------------------------------------------------------------------------------

  gatewayz(now: number, accounts: boolean, accountName?: string): WorkerGatewayz[] {
    const out: WorkerGatewayz[] = [];
    for (const c of this.conns.values()) {
      if (!c.open) continue;
      const e: WorkerGatewayz = {
        cid: c.id,
        outbound: c.outbound,
        name: c.name,
        connection: connzEntry(c.state, now, { pendingBytes: c.out.pending, subscriptions: c.subs.size, kind: 'Gateway' }),
      };
      if (accounts) {
        const list = c.outbound
          ? (c.outInterest?.describe() ?? []).map((a) => ({
              name: a.name,
              interest_mode: INTEREST_MODE_NAMES[a.mode],
              no_interest_count: a.noInterest || undefined,
              interest_only_threshold: INTEREST_ONLY_THRESHOLD,
              num_subs: a.subs || undefined,
              num_queue_subs: a.qsubs || undefined,
            }))
          : (c.inInterest?.describe() ?? []).map((a) => ({
              name: a.name,
              interest_mode: INTEREST_MODE_NAMES[a.mode],
              no_interest_count: a.noInterest || undefined,
              interest_only_threshold: INTEREST_ONLY_THRESHOLD,
            }));
        e.accounts = list.filter((a) => accountName === undefined || a.name === accountName);
      }
      out.push(e);
    }
    return out;
  }
}
