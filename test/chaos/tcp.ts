// TCP ends for proxy tests: an echo upstream, a recording upstream, and a client that keeps what it
// reads and how it was closed. Waiting is done on events and counters, never on elapsed time.

import net from 'node:net';

export interface TestUpstream {
  readonly port: number;
  readonly address: string;
  /** Bytes received, per accepted connection in accept order. */
  readonly received: Buffer[];
  readonly sockets: net.Socket[];
  /** How each accepted connection ended: "end", "close" or an error code. */
  readonly endings: (string | undefined)[];
  close(): Promise<void>;
}

/** An upstream that echoes (`echo`) or only records what it receives. */
export async function startUpstream(mode: 'echo' | 'record' = 'echo'): Promise<TestUpstream> {
  const received: Buffer[] = [];
  const sockets: net.Socket[] = [];
  const endings: (string | undefined)[] = [];
  const server = net.createServer((s) => {
    const i = sockets.push(s) - 1;
    received[i] = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      received[i] = Buffer.concat([received[i]!, d]);
      if (mode === 'echo') s.write(d);
    });
    s.on('error', (e: NodeJS.ErrnoException) => (endings[i] ??= e.code));
    s.on('end', () => (endings[i] ??= 'end'));
    s.on('close', () => (endings[i] ??= 'close'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    received,
    sockets,
    endings,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export class TestClient {
  readonly socket: net.Socket;
  data = Buffer.alloc(0);
  /** Set once the socket closed: "end" for a clean FIN, else the error code. */
  ending: string | undefined;
  private readonly waiters: (() => void)[] = [];
  readonly closed: Promise<string>;

  constructor(socket: net.Socket) {
    this.socket = socket;
    let error: string | undefined;
    socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.wake();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ending = error ?? 'end';
        this.wake();
        resolve(this.ending);
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves once `n` bytes have arrived; rejects if the socket closes first. */
  async waitBytes(n: number): Promise<Buffer> {
    while (this.data.length < n) {
      if (this.ending !== undefined) throw new Error(`closed (${this.ending}) after ${this.data.length} of ${n} bytes`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return this.data;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Connects, or rejects with the error code (ECONNREFUSED for a disabled proxy). */
export function connect(port: number): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(new TestClient(s));
    });
    s.once('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code ?? e.message)));
  });
}

/** Polls a condition that an event in another socket will make true; the test timeout bounds it. */
export async function until(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}
