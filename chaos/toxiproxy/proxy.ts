// One proxy: a listener that accepts clients, dials the upstream for each and joins the two with an
// upstream and a downstream Link. Enabled means listening; disabling closes the listener (new
// clients are refused) and every open connection, as Toxiproxy's stop() does.
//
// As in Toxiproxy, a client is accepted before the upstream is dialled: when the upstream refuses,
// the client sees its connection close rather than a refusal.

import net from 'node:net';
import type { Logger } from 'pino';
import { formatAddress, joinHostPort, listenErrorText, resolveHost, resolveTcpAddr, splitHostPort } from './addr.ts';
import { internalError } from './errors.ts';
import { emptyLinkStats, Link } from './link.ts';
import type { ConnectionState, LinkStats } from './link.ts';
import { ToxicCollection, toxicJson } from './toxic_collection.ts';
import type { ToxicJson } from './toxic_collection.ts';
import type { Random } from './toxics.ts';

export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxicJson[];
}

export interface ProxyFields {
  listen: string;
  upstream: string;
  enabled: boolean;
}

class Connection implements ConnectionState {
  abortive = false;
  readonly client: net.Socket;
  upstream: net.Socket | null = null;
  links: Link[] = [];

  constructor(client: net.Socket) {
    this.client = client;
  }

  close(): void {
    for (const s of [this.client, this.upstream]) {
      if (!s || s.destroyed) continue;
      if (this.abortive) s.resetAndDestroy();
      else s.destroy();
    }
  }
}

export class Proxy {
  readonly name: string;
  listen: string;
  upstream: string;
  enabled = false;
  readonly toxics = new ToxicCollection();
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();
  /** Per direction, over the proxy's life: for tests' sync points and the chaos runner's progress. */
  readonly stats: { upstream: LinkStats; downstream: LinkStats } = {
    upstream: emptyLinkStats(),
    downstream: emptyLinkStats(),
  };
  private readonly log: Logger;
  private readonly random: Random;

  constructor(name: string, listen: string, upstream: string, log: Logger, random: Random) {
    this.name = name;
    this.listen = listen;
    this.upstream = upstream;
    this.log = log.child({ proxy: name });
    this.random = random;
  }

  toJSON(): ProxyJson {
    return {
      name: this.name,
      listen: this.listen,
      upstream: this.upstream,
      enabled: this.enabled,
      toxics: this.toxics.list().map(toxicJson),
    };
  }

  /** Open connections (for tests and the chaos runner's progress line). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening; Go's error texts on failure. Resolves with `listen` updated to the bound address. */
  async start(): Promise<void> {
    if (this.enabled) return;
    let hp;
    let ip: string;
    try {
      hp = splitHostPort(this.listen);
      ip = await resolveHost(hp.host);
    } catch (e) {
      throw internalError(`listen tcp: ${(e as Error).message}`);
    }
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    server.on('connection', (client) => this.accept(server, client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(internalError(listenErrorText(joinHostPort(ip, hp.port), err))));
      server.listen({ host: ip === '' ? undefined : ip, port: hp.port }, () => resolve());
    });
    server.on('error', (err) => this.log.warn({ err }, 'listener error'));
    this.server = server;
    this.listen = formatAddress(server.address());
    this.enabled = true;
    this.log.info({ listen: this.listen, upstream: this.upstream }, 'Started proxy');
  }

  /** Closes the listener and every connection; their buffered bytes are dropped. */
  stop(): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.server?.close();
    this.server = null;
    for (const c of this.connections) c.close();
    this.log.info('Terminated proxy');
  }

  /** Toxiproxy's Differs: the listen address resolved and compared, and the upstream as text. */
  async differs(other: { listen: string; upstream: string }): Promise<boolean> {
    let resolved: string;
    try {
      resolved = await resolveTcpAddr(other.listen);
    } catch (e) {
      throw internalError((e as Error).message);
    }
    return this.listen !== resolved || this.upstream !== other.upstream;
  }

  /** A change of listen or upstream restarts the proxy; `enabled` starts or stops it. */
  async update(input: ProxyFields): Promise<void> {
    if (await this.differs(input)) {
      this.stop();
      this.listen = input.listen;
      this.upstream = input.upstream;
    }
    if (input.enabled !== this.enabled) {
      if (input.enabled) await this.start();
      else this.stop();
    }
  }

  private accept(server: net.Server, client: net.Socket): void {
    if (this.server !== server) {
      client.destroy();
      return;
    }
    const conn = new Connection(client);
    this.connections.add(conn);
    client.on('error', (err) => this.log.debug({ err }, 'client socket error'));
    client.once('close', () => this.closed(conn));
    let target;
    try {
      target = splitHostPort(this.upstream);
    } catch (err) {
      this.log.error({ err, upstream: this.upstream }, 'Unable to open connection to upstream');
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host || 'localhost', port: target.port, allowHalfOpen: true, noDelay: true });
    conn.upstream = upstream;
    upstream.on('error', (err) => this.log.debug({ err }, 'upstream socket error'));
    upstream.once('close', () => this.closed(conn));
    upstream.once('connect', () => {
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.join(conn, client, upstream);
    });
    upstream.once('error', () => {
      if (upstream.connecting || !conn.links.length) client.destroy();
    });
  }

  private join(conn: Connection, client: net.Socket, upstream: net.Socket): void {
    const up = this.toxics.chain('upstream');
    const down = this.toxics.chain('downstream');
    // Toxiproxy sets SO_LINGER 0 on both sockets when a link starts with a reset_peer in its chain.
    if ([...up, ...down].some((t) => t.type === 'reset_peer')) conn.abortive = true;
    const upLink = new Link({ source: client, dest: upstream, shared: conn, stats: this.stats.upstream }, up, this.random);
    const downLink = new Link({ source: upstream, dest: client, shared: conn, stats: this.stats.downstream }, down, this.random);
    conn.links = [upLink, downLink];
    this.toxics.attach('upstream', upLink);
    this.toxics.attach('downstream', downLink);
    upLink.start();
    downLink.start();
  }

  private closed(conn: Connection): void {
    if (!conn.client.destroyed || (conn.upstream && !conn.upstream.destroyed)) return;
    if (!this.connections.delete(conn)) return;
    const [upLink, downLink] = conn.links;
    if (upLink) this.toxics.detach('upstream', upLink);
    if (downLink) this.toxics.detach('downstream', downLink);
    for (const l of conn.links) l.dispose();
  }
}
