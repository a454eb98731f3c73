// A raw TCP client for protocol tests: send text, expect text (nats-server's proto_test style).

import net from 'node:net';

export class RawClient {
  readonly sock: net.Socket;
  private buf = '';
  private waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  closed = false;
  private closeWaiters: (() => void)[] = [];

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.check();
    });
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.closeWaiters) w();
      this.closeWaiters = [];
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`connection closed; buffer: ${JSON.stringify(this.buf)}`));
      }
      this.waiters = [];
    });
    sock.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Takes over an accepted socket (a test playing a server that gets dialled). */
  static wrap(sock: net.Socket): RawClient {
    return new RawClient(sock);
  }

  /** Connects and consumes the INFO line, returning it parsed. */
  static async open(port: number): Promise<{ c: RawClient; info: any }> {
    const c = await RawClient.connect(port);
    const m = await c.expect(/^INFO (\{.*\})\r\n/);
    return { c, info: JSON.parse(m[1]!) };
  }

  send(text: string | Uint8Array): void {
    this.sock.write(text);
  }

  /** Waits until the unread output matches `re` (anchored where the caller anchors), consuming through the match. */
  expect(re: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timeout waiting for ${re}; buffer: ${JSON.stringify(this.buf)}`));
      }, timeoutMs);
      this.waiters.push({ re, resolve, reject, timer });
      this.check();
    });
  }

  /** Output received and not yet consumed. */
  get pending(): string {
    return this.buf;
  }

  /** Sends PING and returns everything received before the PONG. */
  async flush(timeoutMs = 5000): Promise<string> {
    this.send('PING\r\n');
    const m = await this.expect(/^([\s\S]*?)PONG\r\n/, timeoutMs);
    return m[1]!;
  }

  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  close(): void {
    this.sock.destroy();
  }

  private check(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      const m = this.buf.match(w.re);
      if (!m) return;
      this.buf = this.buf.slice((m.index ?? 0) + m[0].length);
      clearTimeout(w.timer);
      this.waiters.shift();
      w.resolve(m);
    }
  }
}
