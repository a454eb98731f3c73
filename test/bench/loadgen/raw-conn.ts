// The raw TCP client connection under every load-generator role: it answers the server's PINGs,
// turns our own PING into an awaitable round trip, and remembers why the socket ended and any
// -ERR lines. What the received bytes mean is the subclass's business (onData).

import net from 'node:net';
import type { Target } from './protocol.ts';

export abstract class RawConn {
  readonly sock: net.Socket;
  closedWith: string | null = null;
  errors: string[] = [];
  private readonly connectJson: string;
  private pongWaiters: (() => void)[] = [];

  /** `connectJson` is the CONNECT options object each handshake sends, already serialised. */
  constructor(target: Target, connectJson: string) {
    this.connectJson = connectJson;
    this.sock = net.connect({ host: target.host, port: target.port, noDelay: true });
    // Events fire after the subclass constructor has finished, so its fields are set by then.
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', (e) => (this.closedWith ??= e.message));
    this.sock.on('close', () => {
      this.closedWith ??= 'closed by server';
      for (const w of this.pongWaiters.splice(0)) w();
    });
  }

  /** One received chunk; control lines found in it go to onControl. */
  protected abstract onData(d: Buffer): void;

  protected onControl(line: string): void {
    if (line === 'PING') this.sock.write('PONG\r\n');
    else if (line === 'PONG') this.pongWaiters.shift()?.();
    else if (line.startsWith('-ERR')) this.errors.push(line);
  }

  /** Sends `lines` (CONNECT first on a new connection) then PING, resolves on the PONG. */
  handshake(lines: string): Promise<void> {
    return this.ping(`CONNECT ${this.connectJson}\r\n${lines}`);
  }

  ping(before = ''): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closedWith) return reject(new Error(this.closedWith));
      this.pongWaiters.push(() => (this.closedWith ? reject(new Error(`${this.closedWith} ${this.errors.join(' ')}`)) : resolve()));
      this.sock.write(`${before}PING\r\n`);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
