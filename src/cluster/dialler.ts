// The main thread's machinery for the links a server opens itself (routes, gateways, leaf
// remotes): a listener whose sockets go to the routing workers untouched, dial attempts with a
// timeout, rounds of attempts with a wait between them until connected or given up, and every
// timer and pending socket stopped at shutdown. Each kind's membership decides what to dial and
// when to give up; how a dial is made and retried is the same for all (nats-server's
// connectToRoute, solicitGateway and connectToRemoteLeafNode share this shape).

import net from 'node:net';
import type { Logger } from '../log.ts';
import { LEAF_URL_SCHEMES, parseRouteUrl, redactRouteUrl, ROUTE_URL_SCHEMES } from '../config/route-url.ts';

/** nats-server's DEFAULT_ROUTE_DIAL: how long one dial may take (gateways and leaf nodes use it too). */
export const DIAL_TIMEOUT_MS = 1000;
/** A failing dial is logged as an error on the first attempt and then every this many (nats-server's connect_error_reports). */
export const CONNECT_ERROR_REPORTS = 3600;

export interface RetrySpec {
  /** The URLs to try this round, in order; null or empty ends the retries. */
  round(): string[] | null;
  /** Wait between rounds. */
  delayMs: number;
  /** A socket connected (paused: the worker that gets it reads everything). */
  connected(sock: net.Socket, url: string): void;
  /** A dial failed; `attempt` counts rounds from 1. */
  failed?(url: string, err: Error, attempt: number): void;
  /** After a round failed: false ends the retries. */
  again?(attempt: number): boolean;
}

/** Schemes a dialled link URL may carry (routes, gateways, leaf remotes); nats-server dials host:port whatever it says. */
const DIAL_SCHEMES: readonly string[] = [...new Set([...ROUTE_URL_SCHEMES, ...LEAF_URL_SCHEMES])];

/** host and port of a URL (IPv6 brackets removed), a bare host:port too; null when it does not parse. */
export function dialAddress(url: string): { host: string; port: number } | null {
  const parsed = parseRouteUrl(url, { schemes: DIAL_SCHEMES });
  return parsed.ok ? { host: parsed.url.host, port: parsed.url.port } : null;
}

/** Whether an attempt's failure is worth an error line (first of a first connect, then every so often). */
export function reportConnectError(firstConnect: boolean, attempt: number): boolean {
  return firstConnect ? attempt === 1 || attempt % CONNECT_ERROR_REPORTS === 0 : attempt === 1;
}

export class Dialler {
  private readonly logger: Logger;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<net.Socket>();
  private readonly listeners: net.Server[] = [];
  private stopping = false;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  /**
   * Listens on host:port (-1 or 0 picks a free port) and hands every accepted socket, paused,
   * to `accept`. Resolves with the bound port.
   */
  listen(host: string, port: number, what: string, accept: (sock: net.Socket) => void): Promise<number> {
    const srv = net.createServer({ pauseOnConnect: true, noDelay: true }, (sock) => {
      if (this.stopping) sock.destroy();
      else accept(sock);
    });
    this.listeners.push(srv);
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host, port: port < 0 ? 0 : port, backlog: 1024 }, () => {
        srv.off('error', reject);
        srv.on('error', (err) => this.logger.error({ err }, `${what} listener error`));
        resolve((srv.address() as net.AddressInfo).port);
      });
    });
  }

  /** Runs `fn` after `ms` unless stopped first. */
  later(ms: number, fn: () => void): void {
    if (this.stopping) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopping) fn();
    }, ms);
    this.timers.add(t);
  }

  /** One dial; `done` gets the connected socket (paused) or the error. */
  dial(url: string, done: (err: Error | null, sock: net.Socket | null) => void): void {
    const addr = dialAddress(url);
    if (addr === null || !Number.isInteger(addr.port) || addr.port <= 0) {
      done(new Error(`invalid URL ${redactRouteUrl(url)}`), null);
      return;
    }
    const sock = net.connect({ host: addr.host, port: addr.port, noDelay: true });
    // Not read here: the worker that gets it reads everything, the peer's INFO included.
    sock.pause();
    this.pending.add(sock);
    const timer = setTimeout(() => sock.destroy(new Error('i/o timeout')), DIAL_TIMEOUT_MS);
    sock.once('connect', () => {
      clearTimeout(timer);
      this.pending.delete(sock);
      sock.removeAllListeners('error');
      if (this.stopping) {
        sock.destroy();
        return;
      }
      done(null, sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      this.pending.delete(sock);
      sock.destroy();
      done(err, null);
    });
  }

  /** Rounds of dials through the spec's URLs until one connects or the spec gives up. */
  retry(spec: RetrySpec): void {
    let attempt = 0;
    const round = (): void => {
      if (this.stopping) return;
      const urls = spec.round();
      if (urls === null || urls.length === 0) return;
      attempt++;
      const next = (i: number): void => {
        if (this.stopping) return;
        if (i >= urls.length) {
          if (spec.again?.(attempt) ?? true) this.later(spec.delayMs, round);
          return;
        }
        const url = urls[i]!;
        this.dial(url, (err, sock) => {
          if (sock !== null) {
            spec.connected(sock, url);
            return;
          }
          spec.failed?.(url, err!, attempt);
          next(i + 1);
        });
      };
      next(0);
    };
    round();
  }

  /** Stops listening and dialling: pending sockets are destroyed, timers cleared. */
  stop(): void {
    this.stopping = true;
    for (const l of this.listeners) l.close();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.pending) s.destroy();
    this.pending.clear();
  }
}

/** Shuffles in place (dial order across a remote's URLs). */
export function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
