// The leaf kind of connection: a link between a leaf node and its hub, speaking nats-server's
// leafnode protocol on the shared transport (server/leafnode.go). Each side binds the connection
// to one of its accounts; the leaf node (the "spoke") announces its own subscribers' interest,
// the hub everything the account has (its clients, its cluster, other leaf nodes, other
// clusters through its gateways), and each side forwards what the other wants:
//
// - a leaf node dials its hub (the main thread hands the socket over) and waits for the hub's
//   INFO, answers with CONNECT (credentials from the URL, the remote's settings or a .creds
//   file signing the nonce) and waits for the hub's second INFO (connect_info), then announces
//   its interest; the hub side checks the CONNECT (leafnode authorization, or the client users
//   when it has none), binds the account and answers;
// - interest (LS+/LS-) becomes subscriptions owned by this connection, of kind HUB on the leaf
//   node and LEAF on the hub, so the router's rules decide where the other side's messages go;
// - each side announces `$LDS.<id>` for its account: seeing its own come back is a loop, which
//   closes the connection and delays redialling (nats-server's "Loop detected");
// - JetStream's API subjects never cross (`$JS.API.>`, `$KV.>`, `$OBJ.>` denied both ways, as
//   nats-server); another side's JetStream is reached through its domain, `$JS.<domain>.API.>`.

import type net from 'node:net';
import type tls from 'node:tls';
import { tlsModule } from '../server/tls_module.ts';
import { LEAF_PROTOCOL } from '../protocol/leaf_parser.ts';
import { LinkParser } from '../protocol/route_parser.ts';
import type { RemoteInterest, RoutedMsgArgs } from '../protocol/route_parser.ts';
import { latin1String } from '../protocol/bytes.ts';
import { leafInterestLine, routedMsgLine } from '../protocol/route_encode.ts';
import { SubKind } from '../routing/router.ts';
import type { Subscription } from '../routing/router.ts';
import type { InterestExport } from '../routing/interest_export.ts';
import { leafExports } from '../routing/link_rules.ts';
import { subjectMatches } from '../routing/subjects.ts';
import type { LeafNodeOptions, TlsOptions } from '../config/options.ts';
import type { ConnectionHost } from '../server/connection.ts';
import type { ClientAuth } from '../server/client_auth.ts';
import { AUTHORIZATION_VIOLATION } from '../auth/authenticator.ts';
import { verifyPassword } from '../auth/password.ts';
import { readCreds } from '../auth/creds.ts';
import { signWithSeed } from '../auth/nkeys.ts';
import { NATS_COMPAT_VERSION } from '../version.ts';
import { GLOBAL_ACCOUNT } from '../server/accounts.ts';
import { ServerLink } from './server_link.ts';
import {
  CONNECT_PROCESS_TIMEOUT_MS,
  ERR_CLIENT_ON_LEAF_PORT,
  ERR_SAME_CLUSTER_NAME,
  ERR_WRONG_PORT,
  gatewayOnLeafPort,
  JETSTREAM_LEAF_DENY,
  LDS_PREFIX,
  LeafClose,
  LOOP_RECONNECT_DELAY_MS,
  loopDetected,
} from './leaf_info.ts';
import type { LeafConnect, LeafInfo } from './leaf_info.ts';
import { GW_REPLY_PREFIX, OLD_GW_REPLY_PREFIX } from './gateway_reply.ts';

/** How a leaf socket came to this worker. */
export interface LeafLink {
  /** Dialled by this server (it connects to a hub, or is the hub of a remote with `hub`). */
  solicited: boolean;
  /** Which leafnodes.remotes entry, and the URL dialled (credentials included). */
  remote?: number;
  url?: string;
}

/** This server's leafnode side, as a worker's leaf connections see it. */
export interface LeafSide {
  /** Our INFO on the leafnode port (client_id and nonce are added per connection). */
  info(): LeafInfo;
  /** The loop-detection subject this server announces for an account. */
  ldsFor(account: string): string;
  /** This server's cluster name ('' when not clustered). */
  readonly clusterName: string;
  /** Routed replies (`_GR_.`) are announced to leaf connections when this server has a gateway. */
  readonly gatewayEnabled: boolean;
}

/** What a leaf connection needs from its worker beyond the transport's needs. */
export interface LeafHost extends ConnectionHost {
  readonly leafnodes: LeafNodeOptions;
  readonly leafSide: LeafSide;
  readonly serverId: string;
  readonly auth: ClientAuth;
  secureContextFor(t: TlsOptions | undefined): tls.SecureContext | null;
  knownAccount(name: string): number | undefined;
  accountName(account: number): string;
  /** Registered, closing with a redial delay, or new hub URLs: for the main thread. */
  leafEvent(c: LeafConnection, event: import('./worker_leafs.ts').LeafEvent): void;
  makeNonce(): Uint8Array;
}

/** A list of subjects a leaf connection does not carry one way (deny_imports, deny_exports, JetStream's). */
class DenyList {
  readonly subjects: readonly string[];
  /**
   * First bytes a denied subject may start with (all 256 when an entry starts with a wildcard):
   * checked on every message, so the common subject that cannot be denied costs one load.
   */
  private readonly firstBytes = new Uint8Array(256);

  constructor(subjects: readonly string[]) {
    this.subjects = subjects;
    for (const d of subjects) {
      if (d.charCodeAt(0) === 0x2a || d.charCodeAt(0) === 0x3e) this.firstBytes.fill(1);
      else this.firstBytes[d.charCodeAt(0) & 0xff] = 1;
    }
  }

  /** Whether a subject starting with byte `b` may be denied at all. */
  mayDeny(b: number): boolean {
    return this.firstBytes[b] === 1;
  }

  /** A message's (literal) subject is denied. */
  denies(subject: string): boolean {
    if (this.firstBytes[subject.charCodeAt(0) & 0xff] !== 1) return false;
    for (const d of this.subjects) if (subjectMatches(subject, d)) return true;
    return false;
  }

  /** Interest in `subject` (maybe a wildcard) lies wholly inside a denied subject. */
  coversInterest(subject: string): boolean {
    return this.denies(subject);
  }
}

/** Interest always exchanged whatever the deny lists say (loop detection, routed replies). */
function isControlSubject(subject: string): boolean {
  const c = subject.charCodeAt(0);
  return (c === 0x24 && (subject.startsWith(LDS_PREFIX) || subject.startsWith(OLD_GW_REPLY_PREFIX))) || (c === 0x5f && subject.startsWith(GW_REPLY_PREFIX));
}

export class LeafConnection extends ServerLink {
  readonly kind = 'leaf' as const;
  /** HUB when this server is the leaf node (spoke) on this connection, LEAF when it is the hub. */
  subKind: typeof SubKind.LEAF | typeof SubKind.HUB;
  readonly echo = false;
  declare readonly host: LeafHost;
  readonly parser: LinkParser;
  readonly link: LeafLink;
  protected readonly peerLabel = 'Leafnode';
  protected readonly msgLine = routedMsgLine;
  /** The account this connection is bound to (known once CONNECT is processed on the hub side). */
  account = 0;
  /** The remote server's name, cluster and JetStream domain. */
  remoteServer = '';
  remoteCluster = '';
  remoteDomain = '';
  /** The hub's first INFO (leaf node side). */
  hubInfo: LeafInfo | null = null;
  private nonce: Uint8Array | null = null;
  /** Leaf node side: CONNECT sent, waiting for the hub's answer until this time (0 = not waiting). */
  private connectDeadline = 0;
  /** What this side does not send (export) and not take (import). */
  private exportDeny: DenyList;
  private importDeny: DenyList;
  /** This connection's view of the account's interest (what it announces). */
  private view: InterestExport | null = null;

  constructor(host: LeafHost, id: number, socket: net.Socket, remote: { ip: string; port: number }, link: LeafLink) {
    super(host, id, socket, remote);
    this.link = link;
    this.parser = new LinkParser(this, LEAF_PROTOCOL);
    const cfg = this.remoteConfig;
    this.subKind = cfg !== undefined && !cfg.hub ? SubKind.HUB : SubKind.LEAF;
    this.exportDeny = new DenyList([...(cfg?.denyExports ?? [])]);
    this.importDeny = new DenyList([...(cfg?.denyImports ?? [])]);
  }

  private get remoteConfig(): LeafNodeOptions['remotes'][number] | undefined {
    return this.link.remote === undefined ? undefined : this.host.leafnodes.remotes[this.link.remote];
  }

  /** An accepted leaf connection must start with CONNECT. */
  protected override needsConnectFirst(): boolean {
    if (this.link.solicited || this.connectReceived) return false;
    this.sendErr(AUTHORIZATION_VIOLATION);
    this.close(LeafClose.AUTHENTICATION, true);
    return true;
  }

  /** This server is the leaf node (spoke) on this connection. */
  get isSpoke(): boolean {
    return this.subKind === SubKind.HUB;
  }

  protected get remoteLabel(): string | undefined {
    return this.remoteServer || undefined;
  }

  protected override get messageOrigin(): string | null {
    return this.remoteCluster === '' ? null : this.remoteCluster;
  }

  /** The hub sends its INFO first (TLS follows it when the hub requires it); the leaf node waits for it. */
  start(): void {
    const h = this.host;
    if (this.link.solicited) {
      this.attach(this.socket);
      return;
    }
    this.authDeadline = h.now() + (h.leafnodes.authorization?.timeoutMs ?? 2000);
    this.nonce = h.makeNonce();
    const info: LeafInfo = { ...h.leafSide.info(), nonce: Buffer.from(this.nonce).toString('latin1'), client_id: this.id };
    this.enqueue(Buffer.from(`INFO ${JSON.stringify(info)}\r\n`));
    this.flush();
    const t = h.leafnodes.tls;
    const ctx = h.secureContextFor(t);
    if (t && ctx) {
      this.upgradeTls({ isServer: true, secureContext: ctx, verify: t.verify, timeoutMs: t.timeoutMs });
      return;
    }
    this.attach(this.socket);
  }

  // --- leaf node side (this server dialled its hub) -----------------------------------------

  onInfo(json: Uint8Array): void {
    if (this.needsConnectFirst()) return;
    let info: LeafInfo;
    try {
      info = JSON.parse(Buffer.from(json).toString('utf8')) as LeafInfo;
    } catch {
      this.protocolViolation('leafnode INFO is not valid JSON', LeafClose.PROTOCOL_VIOLATION);
      return;
    }
    if (!this.link.solicited) return;
    const h = this.host;
    const first = this.hubInfo === null;
    if (first) {
      // A leafnode port always sends a client id and its URLs; anything else is another port.
      if (!info.client_id || !Array.isArray(info.leafnode_urls)) {
        h.logger.error({ cid: this.id }, ERR_WRONG_PORT);
        this.close(LeafClose.WRONG_PORT, false);
        return;
      }
      this.hubInfo = info;
      this.nonce = info.nonce ? Buffer.from(info.nonce, 'latin1') : null;
      this.remoteServer = info.server_name || info.server_id || '';
      this.remoteDomain = info.domain ?? '';
      this.remoteCluster = info.cluster ?? '';
      this.state.name = this.remoteServer;
    }
    if (Array.isArray(info.leafnode_urls) && info.leafnode_urls.length > 0) h.leafEvent(this, { kind: 'urls', urls: info.leafnode_urls });
    if (first) {
      const cfg = this.remoteConfig;
      const t = cfg?.tls;
      if (info.tls_required || t) {
        this.startClientTls(t);
        return;
      }
      this.sendConnect();
      if (!info.info_on_connect) this.finishConnect(info);
      return;
    }
    if (info.connect_info) this.finishConnect(info);
  }

  /** TLS after the hub's INFO (nats-server's leafNodeResumeConnectProcess). */
  private startClientTls(t: TlsOptions | undefined): void {
    // Without a tls block of its own the remote verifies the hub against the system's CAs.
    const ctx = this.host.secureContextFor(t) ?? tlsModule().createSecureContext();
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('error');
    this.socket.pause();
    const host = this.link.url ? new URL(this.link.url).hostname.replace(/^\[|\]$/g, '') : undefined;
    this.upgradeTls({ isServer: false, secureContext: ctx, verify: true, timeoutMs: t?.timeoutMs ?? 2000, host });
  }

  protected override onSecure(): void {
    if (this.link.solicited) {
      this.sendConnect();
      if (!this.hubInfo?.info_on_connect) this.finishConnect(this.hubInfo!);
    }
    this.flush();
  }

  /** nats-server's sendLeafConnect. */
  private sendConnect(): void {
    const h = this.host;
    const cfg = this.remoteConfig;
    const c: LeafConnect = {
      version: NATS_COMPAT_VERSION,
      tls_required: Boolean(cfg?.tls || this.hubInfo?.tls_required),
      server_id: h.serverId,
      name: h.options.serverName || h.serverId,
      headers: true,
    };
    if (h.options.jetstream.domain) c.domain = h.options.jetstream.domain;
    if (cfg?.hub) c.is_hub = true;
    if (h.leafSide.clusterName) c.cluster = h.leafSide.clusterName;
    if (h.options.jetstream.enabled) c.jetstream = true;
    if (cfg && cfg.denyImports.length > 0) c.deny_pub = cfg.denyImports;
    const url = this.link.url ? new URL(this.link.url) : null;
    if (cfg?.credentials) {
      const creds = readCreds(cfg.credentials);
      const sig = 'error' in creds || this.nonce === null ? null : signWithSeed(creds.seed, this.nonce);
      if ('error' in creds || sig === null) {
        h.logger.error({ cid: this.id, file: cfg.credentials }, `Error reading LeafNode Remote Credentials file ${JSON.stringify(cfg.credentials)}: ${'error' in creds ? creds.error : 'malformed seed'}`);
        this.close(LeafClose.AUTHENTICATION, false);
        return;
      }
      c.jwt = creds.jwt;
      c.sig = sig;
    } else if (url?.username) {
      c.user = decodeURIComponent(url.username);
      c.pass = decodeURIComponent(url.password);
    } else {
      const withCreds = cfg?.urls.map((u) => safeUrl(u)).find((u) => u?.username);
      if (withCreds) {
        c.user = decodeURIComponent(withCreds.username);
        c.pass = decodeURIComponent(withCreds.password);
      }
    }
    this.enqueue(Buffer.from(`CONNECT ${JSON.stringify(c)}\r\n`));
    this.connectDeadline = h.now() + CONNECT_PROCESS_TIMEOUT_MS;
    const accountName = cfg?.account ?? GLOBAL_ACCOUNT;
    const account = h.knownAccount(accountName);
    if (account === undefined) {
      h.logger.error({ cid: this.id }, `Unable to lookup account ${accountName} for solicited leafnode connection`);
      this.close(LeafClose.MISSING_ACCOUNT, false);
      return;
    }
    this.account = account;
  }

  /** The hub answered CONNECT: register and announce our interest (nats-server's leafNodeFinishConnectProcess). */
  private finishConnect(info: LeafInfo): void {
    if (this.open || this.closed) return;
    this.connectDeadline = 0;
    this.connectReceived = true;
    const extra: string[] = [];
    // The hub's permissions for this connection: what it exports we may receive, what it imports we may send.
    if (info.export?.deny) extra.push(...info.export.deny);
    if (extra.length > 0) this.importDeny = new DenyList([...this.importDeny.subjects, ...extra]);
    if (info.import?.deny) this.exportDeny = new DenyList([...this.exportDeny.subjects, ...info.import.deny]);
    this.register();
  }

  // --- hub side (a leaf node connected to this server) ------------------------------------------

  onConnect(json: Uint8Array): boolean | void {
    if (this.link.solicited) return;
    let c: LeafConnect;
    try {
      c = JSON.parse(Buffer.from(json).toString('utf8')) as LeafConnect;
    } catch {
      this.protocolViolation('leafnode CONNECT is not valid JSON', LeafClose.PROTOCOL_VIOLATION);
      return true;
    }
    const h = this.host;
    if (typeof c.lang === 'string' && c.lang !== '') {
      h.logger.error({ cid: this.id }, ERR_CLIENT_ON_LEAF_PORT);
      this.sendErr(ERR_CLIENT_ON_LEAF_PORT);
      this.close(LeafClose.WRONG_PORT, true);
      return true;
    }
    const ours = h.leafSide.clusterName;
    if (ours !== '' && c.cluster === ours) {
      h.logger.error({ cid: this.id }, ERR_SAME_CLUSTER_NAME);
      this.sendErr(ERR_SAME_CLUSTER_NAME);
      this.close(LeafClose.CLUSTER_NAMES_IDENTICAL, true);
      return true;
    }
    if (typeof c.gateway === 'string' && c.gateway !== '') {
      const text = gatewayOnLeafPort(c.gateway);
      h.logger.error({ cid: this.id }, text);
      this.sendErr(text);
      this.close(LeafClose.WRONG_GATEWAY, true);
      return true;
    }
    const min = h.leafnodes.minVersion;
    if (min && !versionAtLeast(c.version ?? '', min)) {
      const text = `connection rejected since minimum version required is ${JSON.stringify(min)}`;
      h.logger.error({ cid: this.id }, text);
      this.sendErr(text);
      this.close(LeafClose.MINIMUM_VERSION, true);
      return true;
    }
    this.connectReceived = true;
    this.authDeadline = 0;
    // Checks may run off the event loop (bcrypt): reading waits for the answer.
    this.socket.pause();
    void this.authorize(c).then((account) => {
      if (this.closed) return;
      if (account === null) {
        h.logger.error({ cid: this.id, user: c.user }, `authentication error - User ${JSON.stringify(c.user ?? '')}`);
        this.sendErr(AUTHORIZATION_VIOLATION);
        this.close(LeafClose.AUTHENTICATION, true);
        return;
      }
      this.account = account;
      this.remoteServer = c.name ?? '';
      this.remoteCluster = c.cluster ?? '';
      this.remoteDomain = c.domain ?? '';
      this.state.name = this.remoteServer;
      // The other side declared itself the hub: this server is the spoke.
      if (c.is_hub) this.subKind = SubKind.HUB;
      if (Array.isArray(c.deny_pub) && c.deny_pub.length > 0) this.exportDeny = new DenyList([...this.exportDeny.subjects, ...c.deny_pub]);
      // nats-server's sendPermsAndAccountInfo.
      const info: LeafInfo = { ...h.leafSide.info(), client_id: this.id, remote_account: h.accountName(account), connect_info: true };
      this.enqueue(Buffer.from(`INFO ${JSON.stringify(info)}\r\n`));
      this.register();
      this.resumeReading();
    });
    return true;
  }

  /**
   * nats-server's isLeafNodeAuthorized: the leafnode authorization's user or users when given,
   * else the client users (their account), else the leafnode account or the global one. Resolves
   * the account number, or null when refused.
   */
  private async authorize(c: LeafConnect): Promise<number | null> {
    const h = this.host;
    const auth = h.leafnodes.authorization;
    const bind = (name: string | undefined): number | null => h.knownAccount(name || GLOBAL_ACCOUNT) ?? null;
    if (auth?.user) {
      if (c.user !== auth.user || !(await verifyPassword(c.pass ?? '', auth.password ?? ''))) return null;
      return bind(auth.account);
    }
    if (auth?.users && auth.users.length > 0) {
      const u = auth.users.find((x) => x.user === c.user);
      if (!u || !(await verifyPassword(c.pass ?? '', u.password))) return null;
      return bind(u.account);
    }
    if (!h.auth.required) return bind(auth?.account);
    const res = await h.auth.check({ user: c.user, pass: c.pass, sig: c.sig }, this.nonce, { verified: this.state.tlsVerified });
    if (!res.ok) return null;
    return bind(res.account);
  }

  // --- both sides ----------------------------------------------------------------------------

  /** Bound and answered: JetStream's API stays on each side, interest is announced, messages flow. */
  private register(): void {
    const h = this.host;
    if (h.accountName(this.account) !== h.options.systemAccount) {
      this.exportDeny = new DenyList([...this.exportDeny.subjects, ...JETSTREAM_LEAF_DENY]);
      this.importDeny = new DenyList([...this.importDeny.subjects, ...JETSTREAM_LEAF_DENY]);
    }
    this.open = true;
    h.leafEvent(this, { kind: 'registered', account: h.accountName(this.account), server: this.remoteServer, cluster: this.remoteCluster, spoke: this.isSpoke });
    h.logger.info({ cid: this.id, remote: this.remoteServer, account: h.accountName(this.account) }, `Leafnode connection registered${this.isSpoke ? ' (hub side is remote)' : ''}`);
    this.sendAllInterest();
  }

  /** nats-server's initLeafNodeSmapAndSendSubs: the interest of the account this side announces, whole. */
  private sendAllInterest(): void {
    const h = this.host;
    const toward = this.subKind;
    const cluster = this.remoteCluster === '' ? null : this.remoteCluster;
    this.view = h.router.exportInterest(
      (_account, subject, queue, weight) => this.sendInterest(subject, queue, weight),
      (sub: Subscription) => sub.account === this.account && sub.owner !== this && leafExports(sub, toward, cluster) && this.announces(sub.subject),
    );
    let batch = '';
    for (const [, subject, queue, weight] of this.view.entries()) batch += leafInterestLine(subject, queue, weight);
    if (h.leafSide.gatewayEnabled) batch += leafInterestLine(`${OLD_GW_REPLY_PREFIX}*.>`, null, 1) + leafInterestLine(`${GW_REPLY_PREFIX}>`, null, 1);
    batch += leafInterestLine(h.leafSide.ldsFor(h.accountName(this.account)), null, 1);
    this.enqueue(Buffer.from(batch, 'latin1'));
  }

  /** Interest this side announces: not what it does not take from the other side. */
  private announces(subject: string): boolean {
    return isControlSubject(subject) || !this.importDeny.coversInterest(subject);
  }

  private sendInterest(subject: string, queue: string | null, weight: number): void {
    if (!this.open || this.closed) return;
    this.enqueue(Buffer.from(leafInterestLine(subject, queue, weight), 'latin1'));
  }

  onRemoteSub(i: RemoteInterest): void {
    if (this.needsConnectFirst() || !this.open) return;
    const h = this.host;
    const subject = latin1String(i.subject);
    if (subject.startsWith(LDS_PREFIX) && subject === h.leafSide.ldsFor(h.accountName(this.account))) {
      this.loopDetected(true);
      return;
    }
    if (!isControlSubject(subject) && this.exportDeny.coversInterest(subject)) {
      h.logger.debug({ cid: this.id }, `Not permitted to send ${JSON.stringify(subject)} to the leafnode, interest ignored`);
      return;
    }
    const queue = i.queue === null ? null : latin1String(i.queue);
    this.addInterest(ServerLink.interestKey('', i), this.account, subject, queue, i.weight, this.messageOrigin);
  }

  onRemoteUnsub(i: RemoteInterest): void {
    if (this.needsConnectFirst()) return;
    this.removeInterest(ServerLink.interestKey('', i));
  }

  /** nats-server's handleLeafNodeLoop: our own loop-detection subject came back. */
  private loopDetected(sendErr: boolean): void {
    const text = loopDetected(this.host.accountName(this.account), LOOP_RECONNECT_DELAY_MS);
    if (sendErr) this.sendErr(text);
    this.host.logger.error({ cid: this.id }, text);
    if (this.link.solicited) this.host.leafEvent(this, { kind: 'delay', ms: LOOP_RECONNECT_DELAY_MS });
    this.close(LeafClose.PROTOCOL_VIOLATION, true);
  }

  protected messageAccount(_a: RoutedMsgArgs): number | undefined {
    return this.open ? this.account : undefined;
  }

  protected wireAccount(): string {
    return '';
  }

  override onRoutedMsg(a: RoutedMsgArgs, headerSize: number, msg: Uint8Array): void {
    if (this.importDeny.mayDeny(a.src[a.subjectStart]!) && this.importDeny.denies(latin1String(a.src, a.subjectStart, a.subjectEnd))) return;
    super.onRoutedMsg(a, headerSize, msg);
  }

  protected override holdsBack(_account: number, subject: string): boolean {
    return this.exportDeny.denies(subject);
  }

  /** A hub's -ERR about a loop or our cluster name delays redialling (nats-server's leafProcessErr). */
  override onProtocolError(err: import('../protocol/errors.ts').ProtocolError): void {
    if (this.link.solicited && (err.message.includes('Loop detected') || err.message.includes(ERR_SAME_CLUSTER_NAME))) {
      this.host.leafEvent(this, { kind: 'delay', ms: LOOP_RECONNECT_DELAY_MS });
      this.host.logger.error({ cid: this.id }, err.message.includes('Loop detected') ? err.message : `Leafnode connection dropped with same cluster name error. Delaying attempt to reconnect for ${LOOP_RECONNECT_DELAY_MS / 1000}s`);
      this.close(LeafClose.PROTOCOL_VIOLATION, false);
      return;
    }
    super.onProtocolError(err);
  }

  override sweep(now: number): void {
    if (this.closed) return;
    if (this.connectDeadline > 0 && now >= this.connectDeadline) {
      this.sendErr('Stale Leaf Node Connection - Closing');
      this.close(LeafClose.STALE, true);
      return;
    }
    super.sweep(now);
  }

  protected override release(): void {
    if (this.view !== null) this.host.router.dropInterestExport(this.view);
    this.view = null;
    super.release();
  }
}

function safeUrl(u: string): URL | null {
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(u) ? u : `nats-leaf://${u}`);
  } catch {
    return null;
  }
}

/** nats-server's versionAtLeast for a `min_version` check. */
function versionAtLeast(version: string, min: string): boolean {
  const parse = (v: string): number[] => (/^v?(\d+)\.(\d+)\.(\d+)/.exec(v) ?? []).slice(1).map(Number);
  const a = parse(version);
  const b = parse(min);
  if (a.length < 3 || b.length < 3) return false;
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
}
