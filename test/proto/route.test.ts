// The route protocol on the wire: a raw TCP peer plays another nats-server against one Petrel
// node (route.go's handshake, RS+/RS-, RMSG/HMSG with queue names, -ERR texts, close reasons).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { RawClient } from '../support/raw.ts';
import { eventually } from '../support/cluster.ts';

/** A fake server id, shaped like nats-server's. */
const fakeId = (n: number) => `N${String(n).padStart(55, 'A')}`;

async function routeIn(srv: RunningServer, id: string, opts: { cluster?: string; user?: string; pass?: string; name?: string } = {}): Promise<{ r: RawClient; info: any }> {
  const r = await RawClient.connect(srv.clusterPort);
  const m = await r.expect(/^INFO (\{.*\})\r\n/);
  const connect = { echo: true, verbose: false, pedantic: false, tls_required: false, headers: true, name: id, cluster: opts.cluster ?? 'c1', lnoc: true, user: opts.user, pass: opts.pass };
  r.send(`CONNECT ${JSON.stringify(connect)}\r\n`);
  r.send(`INFO ${JSON.stringify({ server_id: id, server_name: opts.name ?? id.slice(0, 8), cluster: opts.cluster ?? 'c1', host: '127.0.0.1', port: 1, headers: true, proto: 2, lnoc: true })}\r\n`);
  return { r, info: JSON.parse(m[1]!) };
}

describe('route protocol on the wire', () => {
  let srv: RunningServer;
  const open: RawClient[] = [];
  const keep = <T extends { r?: RawClient; c?: RawClient }>(x: T): T => {
    if (x.r) open.push(x.r);
    if (x.c) open.push(x.c);
    return x;
  };
  const client = async () => {
    const { c } = keep(await RawClient.open(srv.port));
    c.send('CONNECT {"verbose":false,"headers":true,"protocol":1}\r\n');
    return c;
  };
  /** A fake route, registered (its PING answered after the server's interest dump, returned). */
  const route = async (n: number) => {
    const { r, info } = keep(await routeIn(srv, fakeId(n)));
    const dump = await r.flush();
    return { r, info, dump };
  };
  const routes = async () => (await fetch(`http://127.0.0.1:${srv.httpPort}/routez?subs=1`).then((x) => x.json())) as any;

  beforeAll(async () => {
    srv = await startServer({ workers: 2, config: 'server_name: wire\ncluster { name: c1, listen: "127.0.0.1:-1" }' });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await srv.stop();
  });

  it('sends nats-server route INFO fields and registers a route that sends CONNECT and INFO', async () => {
    const { r, info } = await route(1);
    expect(info).toMatchObject({ proto: 2, cluster: 'c1', headers: true, lnoc: true, server_name: 'wire' });
    expect(info.server_id).toMatch(/^N[A-Z2-7]{55}$/);
    expect(typeof info.nonce).toBe('string');
    expect(info.connect_urls).toEqual([`127.0.0.1:${srv.port}`]);
    expect(info.route_pool_size).toBeUndefined();
    expect((await routes()).routes.map((x: any) => x.remote_id)).toContain(fakeId(1));
    r.close();
  });

  it('announces existing and new interest with RS+/RS-, queue groups with their weight', async () => {
    const c = await client();
    c.send('SUB wire.plain 1\r\nSUB wire.plain 2\r\nSUB wire.q grp 3\r\n');
    await c.flush();
    const { r, dump } = await route(2);
    expect(dump).toContain('RS+ $G wire.plain\r\n');
    expect(dump).toContain('RS+ $G wire.q grp 1\r\n');
    expect(dump.match(/wire\.plain/g)).toHaveLength(1);
    const c2 = await client();
    c2.send('SUB wire.q grp 4\r\n');
    await r.expect(/^RS\+ \$G wire\.q grp 2\r\n/);
    // The second plain subscriber going away changes nothing; the last one withdraws it.
    c.send('UNSUB 1\r\n');
    await c.flush();
    c.send('UNSUB 2\r\n');
    await r.expect(/^RS- \$G wire\.plain\r\n/);
    c2.close();
    await r.expect(/^RS\+ \$G wire\.q grp 1\r\n/);
    c.close();
    await r.expect(/^RS- \$G wire\.q grp\r\n/);
  });

  it('sends one RMSG per message to a route, naming the queue groups it serves', async () => {
    const { r } = await route(3);
    r.send('RS+ $G one.* \r\nRS+ $G one.> \r\nRS+ $G one.x qa 2\r\nRS+ $G one.x qb 1\r\n');
    await r.flush();
    await eventually('route interest visible', async () => (await routes()).routes.find((x: any) => x.remote_id === fakeId(3))?.subscriptions === 4);
    const c = await client();
    c.send('PUB one.x 5\r\nhello\r\nPUB one.x _INBOX.r 2\r\nhi\r\nPUB one.y 1\r\nz\r\n');
    await c.flush();
    const m1 = await r.expect(/^RMSG \$G one\.x \| (q[ab]) (q[ab]) 5\r\nhello\r\n/);
    expect(new Set([m1[1], m1[2]])).toEqual(new Set(['qa', 'qb']));
    const m2 = await r.expect(/^RMSG \$G one\.x \+ _INBOX\.r (q[ab]) (q[ab]) 2\r\nhi\r\n/);
    expect(new Set([m2[1], m2[2]])).toEqual(new Set(['qa', 'qb']));
    await r.expect(/^RMSG \$G one\.y 1\r\nz\r\n/);
    // Headers go as HMSG with both sizes.
    c.send('HPUB one.y rep 12 14\r\nNATS/1.0\r\n\r\nhi\r\n');
    await r.expect(/^HMSG \$G one\.y rep 12 14\r\nNATS\/1\.0\r\n\r\nhi\r\n/);
    // A local queue member is preferred: the route's group is not named any more.
    c.send('SUB one.x qa 1\r\n');
    await r.expect(/^RS\+ \$G one\.x qa 1\r\n/);
    c.send('PUB one.x 1\r\nw\r\n');
    const m3 = await r.expect(/^RMSG \$G one\.x (.*)\r\nw\r\n/);
    expect(m3[1]).toBe('| qb 1');
    r.close();
    c.close();
  });

  it('delivers routed messages to local subscribers, to named queue groups only, and never to another route', async () => {
    const { r: from } = await route(4);
    const { r: other } = await route(5);
    other.send('RS+ $G hop.> \r\n');
    await other.flush();
    await eventually('route 5 interest', async () => (await routes()).routes.find((x: any) => x.remote_id === fakeId(5))?.subscriptions === 1);
    const c = await client();
    c.send('SUB hop.a 1\r\nSUB hop.a named 2\r\nSUB hop.a other 3\r\n');
    await c.flush();
    from.send('RMSG $G hop.a 3\r\none\r\nRMSG $G hop.a | named 3\r\ntwo\r\nRMSG $G hop.a + _INBOX.x named 5\r\nthree\r\nRMSG APP hop.a 1\r\nx\r\n');
    await from.flush();
    const got = await c.flush();
    const lines = got.match(/MSG hop\.a \d+ (?:\S+ )?\d+\r\n\w+/g) ?? [];
    expect(lines.sort()).toEqual(
      ['MSG hop.a 1 3\r\none', 'MSG hop.a 1 3\r\ntwo', 'MSG hop.a 2 3\r\ntwo', 'MSG hop.a 1 _INBOX.x 5\r\nthree', 'MSG hop.a 2 _INBOX.x 5\r\nthree'].sort(),
    );
    // One hop: route 5 heard the client's interest, and nothing of route 4's messages.
    expect(await other.flush()).not.toMatch(/MSG/);
    from.close();
    other.close();
    c.close();
  });

  it('keeps remote interest in known accounts only, and carries the account of a message', async () => {
    const { r } = await route(6);
    r.send('RS+ NOPE acct.x\r\nRS+ $SYS acct.sys\r\n');
    await r.flush();
    const list = (await routes()).routes.find((x: any) => x.remote_id === fakeId(6))?.subscriptions_list ?? [];
    expect(list).toContain('acct.sys');
    expect(list).not.toContain('acct.x');
    r.close();
  });

  it('closes a route on a bad frame with the reason logged, and keeps serving', async () => {
    for (const [n, frame] of [
      [7, 'RS+ $G\r\n'],
      [8, 'RMSG $G foo 2\r\nhello\r\n'],
      [9, 'RMSG $G foo ? q 1\r\nx\r\n'],
      [10, 'PUB foo 2\r\nok\r\n'],
    ] as const) {
      const { r } = await route(n);
      r.send(frame);
      await r.whenClosed();
    }
    expect(srv.output()).toMatch(/Route parser error, closing route: processRemoteSub Parse Error/);
    expect(srv.output()).toMatch(/processRoutedMsgArgs Bad or Missing Reply Indicator/);
    const c = await client();
    c.send('SUB still.up 1\r\nPUB still.up 2\r\nok\r\n');
    expect(await c.flush()).toBe('MSG still.up 1 2\r\nok\r\n');
    c.close();
  });

  it('refuses a cluster name that does not match, with nats-server text', async () => {
    const { r } = keep(await routeIn(srv, fakeId(20), { cluster: 'other' }));
    await r.expect(/-ERR 'Rejecting connection, cluster name "other" does not match "c1"'\r\n/);
    await r.whenClosed();
  });

  it('refuses a route to itself and a second route from the same server', async () => {
    const self = await RawClient.connect(srv.clusterPort);
    open.push(self);
    const m = await self.expect(/^INFO (\{.*\})\r\n/);
    const me = JSON.parse(m[1]!).server_id as string;
    self.send(`CONNECT {"name":"${me}","cluster":"c1"}\r\nINFO {"server_id":"${me}","cluster":"c1"}\r\n`);
    await self.whenClosed();
    const { r: first } = await route(21);
    const { r: dup } = keep(await routeIn(srv, fakeId(21)));
    await dup.whenClosed();
    expect(first.closed).toBe(false);
    first.close();
  });

  it('registers a nats-server 2.10 peer as a 2.9 route: its pool, account and compression fields are not answered', async () => {
    const r = await RawClient.connect(srv.clusterPort);
    open.push(r);
    const m = await r.expect(/^INFO (\{.*\})\r\n/);
    const ours = JSON.parse(m[1]!);
    for (const field of ['route_pool_size', 'route_pool_idx', 'route_account', 'compression']) expect(ours[field]).toBeUndefined();
    const id = fakeId(40);
    r.send(`CONNECT ${JSON.stringify({ echo: true, headers: true, name: id, cluster: 'c1', lnoc: true })}\r\n`);
    r.send(`INFO ${JSON.stringify({ server_id: id, server_name: 'v210', cluster: 'c1', proto: 2, headers: true, lnoc: true, route_pool_size: 3, route_pool_idx: 0, compression: 's2_auto', version: '2.10.0' })}\r\n`);
    await r.flush();
    expect((await routes()).routes.map((x: any) => x.remote_name)).toContain('v210');
    r.close();
  });

  it('tells a client on the route port it is on the wrong port', async () => {
    const c = await RawClient.connect(srv.clusterPort);
    open.push(c);
    await c.expect(/^INFO /);
    c.send('CONNECT {"lang":"node","version":"1.0.0","verbose":false}\r\n');
    await c.expect(/-ERR 'attempted to connect to route port'\r\n/);
    await c.whenClosed();
  });
});

describe('route authorization on the wire', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer({ workers: 1, config: 'cluster { name: c1, listen: "127.0.0.1:-1", authorization { user: ruser, password: rpass, timeout: 0.5 } }' });
  });
  afterAll(() => srv.stop());

  it('refuses a wrong password with Authorization Violation and accepts the right one', async () => {
    const { r: bad, info } = await routeIn(srv, fakeId(30), { user: 'ruser', pass: 'wrong' });
    expect(info.auth_required).toBe(true);
    await bad.expect(/-ERR 'Authorization Violation'\r\n/);
    await bad.whenClosed();
    const { r: good } = await routeIn(srv, fakeId(31), { user: 'ruser', pass: 'rpass' });
    expect(await good.flush()).not.toContain('-ERR');
    good.close();
  });

  it('refuses anything but CONNECT first, and times out a silent route', async () => {
    const r = await RawClient.connect(srv.clusterPort);
    await r.expect(/^INFO /);
    r.send('PING\r\n');
    await r.expect(/-ERR 'Authorization Violation'\r\n/);
    await r.whenClosed();
    const quiet = await RawClient.connect(srv.clusterPort);
    await quiet.expect(/-ERR 'Authentication Timeout'\r\n/);
    await quiet.whenClosed();
  });
});

describe('route permissions on the wire', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer({ workers: 2, config: 'cluster { name: c1, listen: "127.0.0.1:-1", permissions { import: ["in.>"], export: { allow: ["out.>"], deny: ["out.secret"] } } }' });
  });
  afterAll(() => srv.stop());

  it('announces only imported subjects and keeps only exported remote interest, as nats-server', async () => {
    const { c } = await RawClient.open(srv.port);
    c.send('CONNECT {}\r\nSUB in.a 1\r\nSUB other.a 2\r\n');
    await c.flush();
    const { r, info } = await routeIn(srv, fakeId(50));
    expect(info.import).toEqual({ allow: ['in.>'] });
    expect(info.export).toEqual({ allow: ['out.>'], deny: ['out.secret'] });
    const dump = await r.flush();
    expect(dump).toContain('RS+ $G in.a\r\n');
    expect(dump).not.toContain('other.a');
    r.send('RS+ $G out.x\r\nRS+ $G out.secret\r\nRS+ $G nope.x\r\n');
    await r.flush();
    const routez = (await fetch(`http://127.0.0.1:${srv.httpPort}/routez?subs=1`).then((x) => x.json())) as any;
    expect(routez.routes[0].subscriptions_list).toEqual(['out.x']);
    expect(routez.import).toEqual({ allow: ['in.>'] });
    r.close();
    c.close();
  });
});
