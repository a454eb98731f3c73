// Protocol-level rules that cut or refuse a connection: auth, timeouts, stale peers,
// slow consumers, max_connections, permissions — each with nats-server's exact text.
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { RawClient } from '../support/raw.ts';

let srv: RunningServer | null = null;
const clients: RawClient[] = [];
async function open(port: number) {
  const r = await RawClient.open(port);
  clients.push(r.c);
  return r;
}
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await srv?.stop();
  srv = null;
});

describe('authentication on the wire', () => {
  it('token: right token passes, wrong one gets Authorization Violation and is closed', async () => {
    srv = await startServer({ config: 'authorization { token: "s3cret" }' });
    const { c: good, info } = await open(srv.port);
    expect(info.auth_required).toBe(true);
    good.send('CONNECT {"auth_token":"s3cret","verbose":true}\r\n');
    await good.expect(/^\+OK\r\n/);
    const { c: bad } = await open(srv.port);
    bad.send('CONNECT {"auth_token":"nope"}\r\n');
    await bad.expect(/^-ERR 'Authorization Violation'\r\n/);
    await bad.whenClosed();
  });

  it('refuses any op before CONNECT when auth is required', async () => {
    srv = await startServer({ config: 'authorization { user: a, password: b }' });
    const { c } = await open(srv.port);
    c.send('SUB foo 1\r\n');
    await c.expect(/^-ERR 'Authorization Violation'\r\n/);
    await c.whenClosed();
  });

  it('user/password from the users list, and a bad password', async () => {
    srv = await startServer({ config: 'authorization { users: [ { user: alice, password: "pw1" }, { user: bob, password: "pw2" } ] }' });
    const { c: ok } = await open(srv.port);
    ok.send('CONNECT {"user":"bob","pass":"pw2"}\r\nPING\r\n');
    await ok.expect(/^PONG\r\n/);
    const { c: bad } = await open(srv.port);
    bad.send('CONNECT {"user":"bob","pass":"pw1"}\r\nPING\r\n');
    await bad.expect(/^-ERR 'Authorization Violation'\r\n/);
    await bad.whenClosed();
  });

  it('closes a client that never sends CONNECT with Authentication Timeout', async () => {
    srv = await startServer({ config: 'authorization { token: "t", timeout: 0.3 }' });
    const { c } = await open(srv.port);
    await c.expect(/^-ERR 'Authentication Timeout'\r\n/);
    await c.whenClosed();
  });
});

describe('permissions on the wire', () => {
  const conf = `authorization { users: [
    { user: pub, password: p, permissions: { publish: { allow: ["orders.>"], deny: ["orders.secret"] }, subscribe: { deny: ["admin.>"] } } },
    { user: watcher, password: w }
  ] }`;

  it('denies a publish with the exact text, keeps the connection, and nothing leaks', async () => {
    srv = await startServer({ config: conf });
    const { c: w } = await open(srv.port);
    w.send('CONNECT {"user":"watcher","pass":"w"}\r\nSUB > 1\r\n');
    await w.flush();
    const { c: p } = await open(srv.port);
    p.send('CONNECT {"user":"pub","pass":"p"}\r\n');
    p.send('PUB orders.secret 1\r\nx\r\nPUB billing.x 1\r\ny\r\nPUB orders.ok 1\r\nz\r\n');
    await p.expect(/^-ERR 'Permissions Violation for Publish to "orders.secret"'\r\n/);
    await p.expect(/^-ERR 'Permissions Violation for Publish to "billing.x"'\r\n/);
    await p.flush();
    const seen = await w.flush();
    expect(seen).toBe('MSG orders.ok 1 1\r\nz\r\n');
  });

  it('denies a subscription with the exact text', async () => {
    srv = await startServer({ config: conf });
    const { c } = await open(srv.port);
    c.send('CONNECT {"user":"pub","pass":"p"}\r\nSUB admin.users 1\r\n');
    await c.expect(/^-ERR 'Permissions Violation for Subscription to "admin.users"'\r\n/);
    expect(await c.flush()).toBe('');
  });
});

describe('connection limits', () => {
  it('refuses connections past max_connections', async () => {
    srv = await startServer({ config: 'max_connections: 2' });
    const a = await open(srv.port);
    const b = await open(srv.port);
    a.c.send('CONNECT {}\r\nPING\r\n');
    b.c.send('CONNECT {}\r\nPING\r\n');
    await a.c.expect(/PONG\r\n/);
    await b.c.expect(/PONG\r\n/);
    const third = await RawClient.connect(srv.port);
    clients.push(third);
    await third.expect(/^INFO .*\r\n-ERR 'maximum connections exceeded'\r\n/);
    await third.whenClosed();
  });

  it('sends PINGs and closes a silent peer with Stale Connection', async () => {
    srv = await startServer({ config: 'ping_interval: "100ms"\nping_max: 2' });
    const { c } = await open(srv.port);
    c.send('CONNECT {}\r\n');
    await c.expect(/^PING\r\n/);
    await c.expect(/^PING\r\n/);
    await c.expect(/^-ERR 'Stale Connection'\r\n/);
    await c.whenClosed();
  });

  it('keeps a peer that answers PINGs', async () => {
    srv = await startServer({ config: 'ping_interval: "100ms"\nping_max: 1' });
    const { c } = await open(srv.port);
    c.send('CONNECT {}\r\n');
    for (let i = 0; i < 4; i++) {
      await c.expect(/^PING\r\n/);
      c.send('PONG\r\n');
    }
    expect(c.closed).toBe(false);
  });

  // With 2 workers the publisher lands on the other worker (least loaded): the backlog comes
  // through the lanes, which stop being drained until it is flushed, so the publisher's worker
  // stops reading it.
  it.each([1, 2])('stalls a fast publisher instead of cutting a subscriber that reads, only more slowly (workers: %i)', async (workers) => {
    srv = await startServer({ workers, config: 'max_payload: 64KB\nmax_pending: 256KB\nwrite_deadline: "20s"' });
    const sub = await open(srv.port);
    sub.c.send('CONNECT {}\r\nSUB steady 1\r\n');
    await sub.c.flush();
    const payload = 'y'.repeat(4096);
    const frame = `MSG steady 1 ${payload.length}\r\n${payload}\r\n`.length;
    let received = 0;
    sub.c.sock.on('data', (d: string) => (received += d.length));
    // A reader that takes a pause every few reads: slower than the publisher, never stuck.
    let reads = 0;
    sub.c.sock.on('data', () => {
      if (++reads % 4 === 0) {
        sub.c.sock.pause();
        setTimeout(() => sub.c.sock.resume(), 5);
      }
    });
    const pub = await open(srv.port);
    pub.c.send('CONNECT {}\r\n');
    const total = 4096; // 16 MiB, 64x max_pending
    const chunk = `PUB steady ${payload.length}\r\n${payload}\r\n`.repeat(64);
    for (let i = 0; i < total / 64; i++) pub.c.send(chunk);
    await pub.c.flush(30_000);
    for (let i = 0; i < 600 && received < total * frame; i++) await new Promise((r) => setTimeout(r, 50));
    expect(received).toBe(total * frame);
    const varz = await fetch(`http://127.0.0.1:${srv.httpPort}/varz`).then((r) => r.json() as Promise<any>);
    expect(varz.slow_consumers).toBe(0);
    expect(sub.c.closed).toBe(false);
  });

  it('cuts no reading subscriber when one burst is many times max_pending', async () => {
    // The burst arrives as many reads in one event-loop turn and stalls the publisher; the first
    // subscriber flushed must not let the publisher go on before the others are flushed too.
    srv = await startServer({ workers: 1, config: 'max_payload: 16KB\nmax_pending: 32KB' });
    const subs = [await open(srv.port), await open(srv.port), await open(srv.port)];
    const received = [0, 0, 0];
    for (const [i, s] of subs.entries()) {
      s.c.send('CONNECT {}\r\nSUB burst 1\r\n');
      await s.c.flush();
      s.c.sock.on('data', (d: string) => (received[i]! += d.length));
    }
    const pub = await open(srv.port);
    pub.c.send('CONNECT {}\r\n');
    const payload = 'z'.repeat(1024);
    const count = 4096; // 4 MiB in one write, 128x max_pending
    pub.c.send(`PUB burst ${payload.length}\r\n${payload}\r\n`.repeat(count));
    await pub.c.flush(30_000);
    const want = count * `MSG burst 1 ${payload.length}\r\n${payload}\r\n`.length;
    const done = () => subs.every((s, i) => s.c.closed || received[i] === want);
    for (let i = 0; i < 600 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(subs.map((s) => s.c.closed)).toEqual([false, false, false]);
    expect(received).toEqual([want, want, want]);
  });

  it('cuts a slow consumer that never reads, and the publisher carries on', async () => {
    srv = await startServer({ config: 'max_payload: 64KB\nmax_pending: 256KB\nwrite_deadline: "500ms"' });
    const slow = await open(srv.port);
    slow.c.send('CONNECT {}\r\nSUB flood 1\r\n');
    await slow.c.flush();
    slow.c.sock.pause(); // never read again
    const fast = await open(srv.port);
    fast.c.send('CONNECT {}\r\nSUB flood 1\r\n');
    await fast.c.flush();
    const pub = await open(srv.port);
    pub.c.send('CONNECT {}\r\n');
    const payload = 'x'.repeat(8192);
    const chunk = `PUB flood ${payload.length}\r\n${payload}\r\n`.repeat(32);
    let received = 0;
    fast.c.sock.on('data', (d: string) => (received += d.length));
    // 32 MiB through a 256 KiB max_pending: the never-reading client must be cut.
    for (let i = 0; i < 128; i++) {
      pub.c.send(chunk);
      // Generous bounds: 32 MiB through a loaded 2-core machine; they only bound a failure.
      if (i % 16 === 15) await pub.c.flush(30_000);
    }
    await pub.c.flush(30_000);
    const varz = await fetch(`http://127.0.0.1:${srv.httpPort}/varz`).then((r) => r.json() as Promise<any>);
    expect(varz.slow_consumers).toBeGreaterThanOrEqual(1);
    const closed = await fetch(`http://127.0.0.1:${srv.httpPort}/connz?state=closed`).then((r) => r.json() as Promise<any>);
    expect(closed.connections.some((x: { reason: string }) => x.reason.startsWith('Slow Consumer'))).toBe(true);
    expect(pub.c.closed).toBe(false);
    expect(received).toBeGreaterThan(0);
  });
});
