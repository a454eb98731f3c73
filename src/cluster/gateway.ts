// The gateway kind of connection: a link to a server of another cluster, speaking nats-server's
// gateway protocol on the shared transport (server/gateway.go). Each server keeps one outbound
// connection per remote cluster and accepts inbound ones; messages flow on outbound
// connections, interest on inbound ones:
//
// - outbound (dialled by the main thread): the remote's INFO comes first; a gateway of the
//   expected name is answered with CONNECT and our INFO and registered by the main thread (one
//   per remote cluster). The remote's interest (RS+/RS-, A+/A-, the interest-mode commands)
//   becomes subscriptions this connection owns, so every worker routes to the remote cluster
//   through them; a remote that does not switch to interest-only mode gets everything
//   (a catch-all subscription) except what it said it has no interest in.
// - inbound (accepted): INFO first, then CONNECT and the remote's INFO are expected; once
//   registered, the cluster's queue groups are announced and, as nats-server 2.9 does, every
//   account is switched to interest-only mode at once (its plain interest sent whole between
//   two INFO commands), then kept up to date. Messages published here come from GATEWAY.
// - replies: a request whose reply interest is fresh here goes out as `_GR_.<cluster>.<server>.`
//   reply so the answer comes straight back; such answers arriving here are delivered to the
//   server that asked.

import type net from 'node:net';
import type tls from 'node:tls';
import { GATEWAY_PROTOCOL } from '../protocol/gateway_parser.ts';
import { LinkParser } from '../protocol/route_parser.ts';
import type { RemoteInterest, RoutedMsgArgs } from '../protocol/route_parser.ts';
import { latin1String } from '../protocol/bytes.ts';
import { interestLine, routedMsgLine } from '../protocol/route_encode.ts';
import { SubKind } from '../routing/router.ts';
import type { GatewayOptions, TlsOptions } from '../config/options.ts';
import type { ConnectionHost } from '../server/connection.ts';
import { AUTHORIZATION_VIOLATION } from '../auth/authenticator.ts';
import { ServerLink } from './server_link.ts';
import { InterestAction, InboundInterest, OutboundInterest } from './gateway_interest.ts';
import {
  decodeCmdPayload,
  encodeCmdPayload,
  ERR_WRONG_PORT_FOR_GATEWAY,
  GATEWAY_MAX_PING_INTERVAL_MS,
  GatewayClose,
  GatewayCmd,
  unknownGatewayRejected,
  wrongGatewayDialled,
  wrongPortDialled,
} from './gateway_info.ts';
import type { GatewayConnect, GatewayInfo } from './gateway_info.ts';
import { GW_REPLY_PREFIX, gatewayHash, OLD_GW_REPLY_PREFIX, oldGatewayHash } from './gateway_reply.ts';

/** How a gateway socket came to this worker. */
export interface GatewayLink {
  /** Dialled by this server: an outbound gateway. */
  solicited: boolean;
  /** Outbound: the remote cluster's gateway name and the URL dialled (credentials included). */
  name?: string;
  url?: string;
  /** Outbound: the remote's own TLS settings, when its entry has a tls block. */
  tls?: TlsOptions;
}

/** This server's side of the super-cluster, as the gateway connections of a worker see it. */
export interface GatewaySide {
  readonly name: string;
  /** Our gateway INFO (a nonce is added per connection). */
  info(): GatewayInfo;
  /** `_GR_.<our cluster hash>.<our server hash>.` and the old `$GR.<hash>.`. */
  readonly replyPrefix: string;
  readonly oldReplyPrefix: string;
  isConfigured(name: string): boolean;
  readonly rejectUnknown: boolean;
  /** Every plain and queue interest of the cluster in an account, for the interest-only switch. */
  accountInterest(account: number): Iterable<[account: number, subject: string, queue: string | null, weight: number, origin: string | null]>;
  /** Whether the cluster has any interest in the account. */
  hasAccountInterest(account: number): boolean;
  /** Every queue group of the cluster (sent to an inbound gateway once registered). */
  queueInterest(): Iterable<[account: number, subject: string, queue: string | null, weight: number, origin: string | null]>;
  /** Routed replies: a `_GR_.` subject from a gateway; true when handled. */
  fromGateway(c: GatewayConnection, account: number, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): boolean;
}

/** What a gateway connection needs from its worker beyond the transport's needs. */
export interface GatewayHost extends ConnectionHost {
  readonly gateway: GatewayOptions;
  readonly gatewaySide: GatewaySide;
  readonly serverId: string;
  secureContextFor(t: TlsOptions | undefined): tls.SecureContext | null;
  knownAccount(name: string): number | undefined;
  accountName(account: number): string;
  /** Every account of this server, by number. */
  accountNumbers(): Iterable<number>;
  /** An INFO for the main thread: the first asks to register, later ones gossip or update URLs. */
  gatewayInfoReceived(c: GatewayConnection, info: GatewayInfo, first: boolean): void;
  makeNonce(): Uint8Array;
}

export class GatewayConnection extends ServerLink {
  readonly kind = 'gateway' as const;
  readonly subKind = SubKind.GATEWAY;
  readonly echo = true;
  declare readonly host: GatewayHost;
  readonly parser: LinkParser;
  readonly link: GatewayLink;
  protected readonly peerLabel = 'Gateway';
  protected readonly msgLine = routedMsgLine;
  /** The remote's first INFO. */
  remote: GatewayInfo | null = null;
  /** The remote cluster's gateway name (outbound: the one dialled; inbound: from its INFO). */
  name: string;
  /** Outbound: the remote's interest by account; null on an inbound connection. */
  readonly outInterest: OutboundInterest | null = null;
  /** Inbound: what we told the remote it need not send; null on an outbound connection. */
  readonly inInterest: InboundInterest | null;
  /** Outbound to a server that only knows the old `$GR.` reply prefix. */
  private useOldPrefix = false;
  /** Accounts whose catch-all (optimistic) subscription this connection holds, by name. */
  private readonly catchAll = new Map<string, boolean>();

  constructor(host: GatewayHost, id: number, socket: net.Socket, remote: { ip: string; port: number }, link: GatewayLink) {
    super(host, id, socket, remote);
    this.link = link;
    this.name = link.name ?? '';
    this.parser = new LinkParser(this, GATEWAY_PROTOCOL);
    this.inInterest = link.solicited ? null : new InboundInterest();
  }

  get outbound(): boolean {
    return this.link.solicited;
  }

  protected get remoteLabel(): string | undefined {
    return this.remote?.server_id;
  }

  /** nats-server pings gateways at least every 15 s, whatever ping_interval says. */
  protected override get pingIntervalMs(): number {
    return Math.min(this.host.options.pingIntervalMs, GATEWAY_MAX_PING_INTERVAL_MS);
  }

  /** TLS first when configured; an inbound gateway then sends its INFO, an outbound one waits for the remote's. */
  start(): void {
    const h = this.host;
    const auth = h.gateway.authorization;
    if (!this.outbound && auth?.user) this.authDeadline = h.now() + auth.timeoutMs;
    const t = this.outbound ? (this.link.tls ?? h.gateway.tls) : h.gateway.tls;
    const ctx = h.secureContextFor(t);
    if (t && ctx) {
      // As nats-server: gateways always verify each other's certificates.
      this.upgradeTls({
        isServer: !this.outbound,
        secureContext: ctx,
        verify: true,
        timeoutMs: t.timeoutMs,
        host: this.link.url ? new URL(this.link.url).hostname.replace(/^\[|\]$/g, '') : undefined,
      });
      return;
    }
    if (!this.outbound) this.sendInfo();
    this.attach(this.socket);
  }

  protected override onSecure(): void {
    if (!this.outbound) this.sendInfo();
    this.flush();
  }

  private sendInfo(): void {
    const info: GatewayInfo = { ...this.host.gatewaySide.info(), nonce: Buffer.from(this.host.makeNonce()).toString('latin1') };
    this.enqueue(Buffer.from(`INFO ${JSON.stringify(info)}\r\n`));
  }

  /** An INFO the main thread wants the remote to see (gossip of other gateways, new URLs). */
  sendInfoJson(info: GatewayInfo): void {
    if (!this.closed) this.enqueue(Buffer.from(`INFO ${JSON.stringify(info)}\r\n`));
  }

  /** nats-server's sendGatewayConnect: credentials from the URL or the gateway authorization. */
  private connectJson(): GatewayConnect {
    const h = this.host;
    const url = this.link.url ? new URL(this.link.url) : null;
    const c: GatewayConnect = { echo: false, verbose: false, pedantic: false };
    if (url?.username) {
      c.user = decodeURIComponent(url.username);
      c.pass = decodeURIComponent(url.password);
    } else if (h.gateway.authorization?.user) {
      c.user = h.gateway.authorization.user;
      c.pass = h.gateway.authorization.password ?? '';
    }
    c.tls_required = Boolean(this.link.tls ?? h.gateway.tls);
    c.headers = true;
    c.name = h.serverId;
    c.gateway = h.gatewaySide.name;
    return c;
  }

  // --- handshake -------------------------------------------------------------------

  /** An inbound gateway must start with CONNECT (nats-server answers anything else as an auth error). */
  protected override needsConnectFirst(): boolean {
    if (this.outbound || this.connectReceived) return false;
    this.authViolation();
    return true;
  }

  onConnect(json: Uint8Array): boolean | void {
    if (this.outbound) return;
    let c: GatewayConnect;
    try {
      c = JSON.parse(Buffer.from(json).toString('utf8')) as GatewayConnect;
    } catch {
      this.protocolViolation('gateway CONNECT is not valid JSON', GatewayClose.PROTOCOL_VIOLATION);
      return true;
    }
    const h = this.host;
    // A client or a route dialled the gateway port.
    if (typeof c.gateway !== 'string' || c.gateway === '') {
      h.logger.error({ cid: this.id }, ERR_WRONG_PORT_FOR_GATEWAY);
      this.sendErr(ERR_WRONG_PORT_FOR_GATEWAY);
      this.close(GatewayClose.WRONG_PORT, true);
      return true;
    }
    const auth = h.gateway.authorization;
    if (auth?.user && (c.user !== auth.user || c.pass !== (auth.password ?? ''))) {
      h.logger.error({ cid: this.id, user: c.user }, `authentication error - User ${JSON.stringify(c.user ?? '')}`);
      this.authViolation();
      return true;
    }
    const side = h.gatewaySide;
    if (side.rejectUnknown && !side.isConfigured(c.gateway)) {
      h.logger.error({ cid: this.id }, `Rejecting connection from gateway ${JSON.stringify(c.gateway)}`);
      this.sendErr(unknownGatewayRejected(side.name));
      this.close(GatewayClose.WRONG_GATEWAY, true);
      return true;
    }
    this.connectReceived = true;
    this.authDeadline = 0;
  }

  onInfo(json: Uint8Array): void {
    if (this.needsConnectFirst()) return;
    let info: GatewayInfo;
    try {
      info = JSON.parse(Buffer.from(json).toString('utf8')) as GatewayInfo;
    } catch {
      this.protocolViolation('gateway INFO is not valid JSON', GatewayClose.PROTOCOL_VIOLATION);
      return;
    }
    if (this.outbound) this.outboundInfo(info);
    else this.inboundInfo(info);
  }

  /** nats-server's processGatewayInfo for an outbound connection. */
  private outboundInfo(info: GatewayInfo): void {
    const h = this.host;
    const first = this.remote === null;
    if (typeof info.gateway !== 'string' || info.gateway === '') {
      const text = wrongPortDialled(this.name);
      h.logger.error({ cid: this.id }, text);
      this.sendErr(text);
      this.close(GatewayClose.WRONG_PORT, true);
      return;
    }
    if (info.gateway !== this.name) {
      if (!first && info.gateway_cmd === GatewayCmd.GOSSIP) {
        h.gatewayInfoReceived(this, info, false);
        return;
      }
      h.logger.error({ cid: this.id }, `Failing connection to gateway ${JSON.stringify(this.name)}, remote gateway name is ${JSON.stringify(info.gateway)}`);
      this.sendErr(wrongGatewayDialled(h.gatewaySide.name, this.name, info.gateway));
      this.close(GatewayClose.WRONG_GATEWAY, true);
      return;
    }
    if (first) {
      this.remote = info;
      // As nats-server: the connection is named after the remote server's id.
      this.state.name = info.server_id ?? '';
      (this as { outInterest: OutboundInterest | null }).outInterest = new OutboundInterest(info.gateway_iom === true);
      this.useOldPrefix = info.gateway_nrp !== true;
      this.enqueue(Buffer.from(`CONNECT ${JSON.stringify(this.connectJson())}\r\n`));
      this.sendInfo();
      // Registration is the main thread's decision (one outbound per remote cluster).
      this.parser.pause();
      this.socket.pause();
      h.gatewayInfoReceived(this, info, true);
      return;
    }
    const cmd = info.gateway_cmd ?? 0;
    if (cmd === GatewayCmd.ALL_SUBS_START || cmd === GatewayCmd.ALL_SUBS_COMPLETE) {
      const account = decodeCmdPayload(info.gateway_cmd_payload);
      if (account === null) {
        const text = `Account absent from receive-all-subscriptions-${cmd === GatewayCmd.ALL_SUBS_START ? 'start' : 'complete'} command`;
        h.logger.error({ cid: this.id }, text);
        this.sendErr(text);
        this.close(GatewayClose.PROTOCOL_VIOLATION, true);
        return;
      }
      if (cmd === GatewayCmd.ALL_SUBS_START) this.outInterest!.allSubsStart(account);
      else this.outInterest!.allSubsComplete(account);
      h.logger.debug({ cid: this.id }, `Gateway ${JSON.stringify(this.name)}: switching account ${JSON.stringify(account)} to Interest-Only mode${cmd === GatewayCmd.ALL_SUBS_COMPLETE ? ' complete' : ''}`);
      this.syncCatchAll(account);
      return;
    }
    if (cmd > 0) {
      h.logger.warn({ cid: this.id }, `Received unknown command ${cmd} from gateway ${JSON.stringify(this.name)}`);
      return;
    }
    // New URLs of the remote cluster.
    h.gatewayInfoReceived(this, info, false);
  }

  /** nats-server's processGatewayInfo for an inbound connection: the first registers it. */
  private inboundInfo(info: GatewayInfo): void {
    if (this.remote !== null) return;
    this.remote = info;
    this.name = info.gateway ?? '';
    this.state.name = info.server_id ?? '';
    this.parser.pause();
    this.socket.pause();
    this.host.gatewayInfoReceived(this, info, true);
  }

  /** The main thread's answer to the first INFO. */
  verdict(ok: boolean, reason?: string): void {
    if (this.closed) return;
    const log = this.host.logger;
    if (!ok) {
      log.debug({ cid: this.id, remote: this.remote?.server_id, reason }, 'Gateway refused');
      this.close(reason ?? GatewayClose.WRONG_GATEWAY, false);
      return;
    }
    this.open = true;
    if (this.outbound) {
      log.info({ cid: this.id }, `Outbound gateway connection to ${JSON.stringify(this.name)} (${this.remote?.server_id}) registered`);
      this.addReplySubscriptions();
      for (const account of this.host.accountNumbers()) this.syncCatchAll(this.host.accountName(account));
    } else {
      log.info({ cid: this.id }, `Inbound gateway connection from ${JSON.stringify(this.name)} (${this.remote?.server_id}) registered`);
      this.sendQueueInterest();
      // As nats-server 2.9: every account goes interest-only right away.
      for (const account of this.host.accountNumbers()) this.switchToInterestOnly(account);
    }
    this.resumeReading();
  }

  /** Routed replies for the remote cluster go straight to it (nats-server's directSend). */
  private addReplySubscriptions(): void {
    for (const account of this.host.accountNumbers()) {
      const name = this.host.accountName(account);
      this.addInterest(`reply ${name}`, account, `${GW_REPLY_PREFIX}${gatewayHash(this.name)}.>`, null, 1, null);
      this.addInterest(`oldreply ${name}`, account, `${OLD_GW_REPLY_PREFIX}${oldGatewayHash(this.name)}.>`, null, 1, null);
    }
  }

  /** Outbound: hold a catch-all subscription for an account sent to on optimism, and only then. */
  private syncCatchAll(accountName: string): void {
    const account = this.host.knownAccount(accountName);
    if (account === undefined || !this.open || this.outInterest === null) return;
    const want = this.outInterest.sendsAll(accountName);
    const has = this.catchAll.get(accountName) === true;
    if (want === has) return;
    this.catchAll.set(accountName, want);
    if (want) this.addInterest(`optimistic ${accountName}`, account, '>', null, 1, null);
    else this.removeInterest(`optimistic ${accountName}`);
  }

  // --- interest ----------------------------------------------------------------------------

  /** RS+ from the remote (outbound only): nats-server's processGatewayRSub. */
  onRemoteSub(i: RemoteInterest): void {
    if (this.needsConnectFirst()) return;
    if (this.remoteInterestOnOutbound('RS+')) return;
    const accountName = latin1String(i.account);
    const subject = latin1String(i.subject);
    const queue = i.queue === null ? null : latin1String(i.queue);
    if (this.outInterest!.sub(accountName, subject, queue !== null) !== InterestAction.STORE) return;
    const account = this.host.knownAccount(accountName);
    if (account === undefined) {
      this.host.logger.debug({ cid: this.id }, `Unknown account ${JSON.stringify(accountName)} for gateway subject ${JSON.stringify(subject)}`);
      return;
    }
    this.addInterest(ServerLink.interestKey(accountName, i), account, subject, queue, queue === null ? 1 : Math.max(1, i.weight), null);
  }

  /** RS- from the remote (outbound only): nats-server's processGatewayRUnsub. */
  onRemoteUnsub(i: RemoteInterest): void {
    if (this.needsConnectFirst()) return;
    if (this.remoteInterestOnOutbound('RS-')) return;
    const accountName = latin1String(i.account);
    const key = ServerLink.interestKey(accountName, i);
    const action = this.outInterest!.unsub(accountName, latin1String(i.subject), i.queue !== null, this.subs.has(key));
    if (action === InterestAction.STORE) this.removeInterest(key);
  }

  /** A+/A- from the remote (outbound only). */
  onAccountInterest(account: Uint8Array, present: boolean): void {
    if (this.needsConnectFirst()) return;
    if (!this.outbound) return;
    const name = latin1String(account);
    if (present) {
      this.outInterest!.accountSub(name);
    } else if (this.outInterest!.accountUnsub(name)) {
      // No interest at all: the plain interest stored for the account goes too.
      for (const [key, sub] of [...this.subs]) {
        if (sub.queue === null && key.startsWith(`${name} `)) this.removeInterest(key);
      }
    }
    this.syncCatchAll(name);
  }

  /** nats-server closes an inbound gateway that sends interest (only inbound sides send it). */
  private remoteInterestOnOutbound(op: string): boolean {
    if (this.outbound) return false;
    this.host.logger.error({ cid: this.id }, `Received ${op} from gateway on inbound connection`);
    this.close(GatewayClose.PROTOCOL_VIOLATION, false);
    return true;
  }

  /** Inbound: a change of the cluster's interest (plain: first/last only; queue: first/last). */
  interestChanged(account: number, subject: string, queue: string | null, weight: number): void {
    if (!this.open || this.closed || this.outbound) return;
    const name = this.host.accountName(account);
    if (queue !== null) {
      if (weight > 0) this.inInterest!.queueAdded(name);
      this.enqueue(Buffer.from(interestLine(name, subject, queue, weight > 0 ? 1 : 0), 'latin1'));
      return;
    }
    const action = this.inInterest!.plainChanged(name, subject, weight > 0);
    if (action === 'RS+' || action === 'RS-') this.enqueue(Buffer.from(interestLine(name, subject, null, action === 'RS+' ? 1 : 0), 'latin1'));
    else if (action === 'A+') this.enqueue(Buffer.from(`A+ ${name}\r\n`, 'latin1'));
  }

  /** nats-server's sendQueueSubsToGateway: every queue group of the cluster, weight 1. */
  private sendQueueInterest(): void {
    let batch = '';
    for (const [account, subject, queue] of this.host.gatewaySide.queueInterest()) {
      if (queue === null) continue;
      batch += interestLine(this.host.accountName(account), subject, queue, 1);
    }
    if (batch) this.enqueue(Buffer.from(batch, 'latin1'));
  }

  /** nats-server's gatewaySwitchAccountToSendAllSubs: start command, every plain subscription, complete command. */
  private switchToInterestOnly(account: number): void {
    const name = this.host.accountName(account);
    if (!this.inInterest!.switchToInterestOnly(name)) return;
    const side = this.host.gatewaySide;
    const cmd = (c: number): string => `INFO ${JSON.stringify({ gateway: side.name, gateway_cmd: c, gateway_cmd_payload: encodeCmdPayload(name) })}\r\n`;
    let batch = cmd(GatewayCmd.ALL_SUBS_START);
    for (const [, subject, queue] of side.accountInterest(account)) if (queue === null) batch += interestLine(name, subject, null, 1);
    batch += cmd(GatewayCmd.ALL_SUBS_COMPLETE);
    this.inInterest!.switchComplete(name);
    this.enqueue(Buffer.from(batch, 'latin1'));
  }

  // --- messages ---------------------------------------------------------------------------

  protected messageAccount(a: RoutedMsgArgs): number | undefined {
    return this.host.knownAccount(this.lastAccount.get(a.src, a.accountStart, a.accountEnd));
  }

  protected wireAccount(account: number): string {
    return this.host.accountName(account);
  }

  /** An account this cluster does not have: tell the remote, once (A-). */
  protected override unknownAccount(a: RoutedMsgArgs): void {
    const name = latin1String(a.src, a.accountStart, a.accountEnd);
    this.host.logger.debug({ cid: this.id }, `Unknown account ${JSON.stringify(name)} for gateway message`);
    if (this.inInterest?.noInterest(name, '', false) === 'A-') this.enqueue(Buffer.from(`A- ${name}\r\n`, 'latin1'));
  }

  /** Nothing here wanted it: maybe tell the remote (RS-, A-, or switch the account). */
  protected override published(delivered: number, account: number, subject: string): void {
    if (delivered > 0 || this.inInterest === null) return;
    const name = this.host.accountName(account);
    const action = this.inInterest.noInterest(name, subject, this.host.gatewaySide.hasAccountInterest(account));
    if (action === 'RS-') this.enqueue(Buffer.from(interestLine(name, subject, null, 0), 'latin1'));
    else if (action === 'A-') this.enqueue(Buffer.from(`A- ${name}\r\n`, 'latin1'));
    else if (action === 'switch') this.switchToInterestOnly(account);
  }

  protected override routedReply(account: number, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): boolean {
    return this.host.gatewaySide.fromGateway(this, account, subject, reply, hdrLen, msg);
  }

  /** A reply whose interest is fresh here is routed back to this server (nats-server's reply mapping). */
  protected override outgoingReply(account: number, reply: string | null): string | null {
    if (reply === null || !this.host.router.hasRecentInterest(reply, account)) return reply;
    const side = this.host.gatewaySide;
    return (this.useOldPrefix ? side.oldReplyPrefix : side.replyPrefix) + reply;
  }

  /** Only an outbound gateway sends, and not what the remote said it has no interest in. */
  protected override holdsBack(account: number, subject: string, nQueues: number): boolean {
    const oi = this.outInterest;
    return oi === null || oi.suppressed(this.host.accountName(account), subject, nQueues > 0);
  }

  private authViolation(): void {
    this.sendErr(AUTHORIZATION_VIOLATION);
    this.close(GatewayClose.AUTHENTICATION, true);
  }
}
