// A TCP proxy for tests that cut connections: it forwards to a target and can drop every
// connection it carries (as a failing network would) while it keeps accepting new ones.

import net from 'node:net';

export class TcpProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  port = 0;

  /** While set, connections are refused (a cut link); see block(). */
  private blocked = false;

  private constructor(target: { host: string; port: number } | (() => { host: string; port: number })) {
    this.server = net.createServer((inbound) => {
      if (this.blocked) {
        inbound.resetAndDestroy();
        return;
      }
      const outbound = net.connect(typeof target === 'function' ? target() : target);
      const pair: [net.Socket, net.Socket] = [inbound, outbound];
      this.pairs.add(pair);
      const drop = (): void => {
        this.pairs.delete(pair);
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', drop).on('close', drop);
      outbound.on('error', drop).on('close', drop);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
  }

  /** `target` may be a function, read at each new connection (a node restarted on another port). */
  static async start(target: { host: string; port: number } | (() => { host: string; port: number })): Promise<TcpProxy> {
    const p = new TcpProxy(target);
    await new Promise<void>((resolve) => p.server.listen(0, '127.0.0.1', resolve));
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  /** Connections carried right now. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Drops every connection (both ends see a reset). */
  cut(): void {
    for (const [a, b] of [...this.pairs]) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.pairs.clear();
  }

  /** Cuts the link and refuses new connections until unblock() (a network partition). */
  block(): void {
    this.blocked = true;
    this.cut();
  }

  unblock(): void {
    this.blocked = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
