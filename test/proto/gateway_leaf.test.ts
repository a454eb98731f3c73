// The gateway and leafnode protocols on the wire: a raw TCP peer plays a server of another
// cluster (gateway.go's handshake, the interest-only switch, RS+/RS-, A+/A-, optimistic mode
// toward a pre-2.9 server) and a leaf node or a client on the wrong port (leafnode.go's
// handshake, auth, loop detection, JetStream's API kept apart); bad frames close the link with
// the reason in the log.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createUser, fromPublic } from '@nats-io/nkeys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tempDir } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { RawClient } from '../support/raw.ts';
import { eventually } from '../support/cluster.ts';
import { freePort } from '../support/supercluster.ts';

const fakeId = (n: number) => `N${String(n).padStart(55, 'B')}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A fake outbound gateway from cluster R into the server (we dial its gateway port). */
async function gatewayIn(port: number, n: number): Promise<{ g: RawClient; info: any }> {
  const g = await RawClient.connect(port);
  const m = await g.expect(/^INFO (\{.*\})\r\n/);
  g.send(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, tls_required: false, name: fakeId(n), gateway: 'R' })}\r\n`);
  g.send(`INFO ${JSON.stringify({ server_id: fakeId(n), server_name: `r${n}`, gateway: 'R', gateway_urls: [], gateway_nrp: true, gateway_iom: true, headers: true })}\r\n`);
  return { g, info: JSON.parse(m[1]!) };
}

/** A listener playing a server that Petrel dials (a remote gateway, a leaf node's hub). */
class FakeRemoteGateway {
  private readonly srv: net.Server;
  conn: RawClient | null = null;
  private onConn: ((c: RawClient) => void) | null = null;
  port = 0;
  constructor() {
    this.srv = net.createServer((sock) => {
      const c = RawClient.wrap(sock);
      this.conn = c;
      this.onConn?.(c);
    });
  }
  async start(port: number): Promise<void> {
    await new Promise<void>((r) => this.srv.listen(port, '127.0.0.1', r));
    this.port = port;
  }
  next(): Promise<RawClient> {
    return new Promise((r) => (this.onConn = r));
  }
  close(): Promise<void> {
    this.conn?.close();
    return new Promise((r) => this.srv.close(() => r()));
  }
}

describe('gateway protocol on the wire', () => {
  let srv: RunningServer;
  let gwPort: number;
  const old = new FakeRemoteGateway();
  const open: RawClient[] = [];
  const client = async (user = 'app') => {
    const { c } = await RawClient.open(srv.port);
    open.push(c);
    c.send(`CONNECT {"verbose":false,"headers":true,"protocol":1,"user":"${user}","pass":"${user}"}\r\n`);
    return c;
  };

  beforeAll(async () => {
    gwPort = await freePort();
    await old.start(await freePort());
    const accounts = 'accounts { "$SYS": { users: [ { user: sys, password: sys } ] }, APP: { users: [ { user: app, password: app } ] } }';
    // R (the raw inbound gateways) is configured but never listens: reject_unknown_cluster refuses only others.
    srv = await startServer({
      workers: 2,
      config: `server_name: gw1\n${accounts}\ngateway {\n  name: G\n  listen: "127.0.0.1:${gwPort}"\n  reject_unknown_cluster: true\n  gateways: [ { name: OLD, url: "nats://127.0.0.1:${old.port}" }, { name: R, url: "nats://127.0.0.1:${await freePort()}" } ]\n}`,
    });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await old.close();
    await srv.stop();
  });

  it("accepts an inbound gateway: nats-server's INFO, then every account switched to interest-only with its interest", async () => {
    const c = await client();
    c.send('SUB wire.plain 1\r\nSUB wire.q grp 2\r\n');
    await c.flush();
    const { g, info } = await gatewayIn(gwPort, 1);
    open.push(g);
    expect(info).toMatchObject({ gateway: 'G', gateway_nrp: true, gateway_iom: true, headers: true, server_name: 'gw1', gateway_urls: [`127.0.0.1:${gwPort}`] });
    const dump = await g.flush();
    expect(dump).toContain('RS+ APP wire.q grp 1\r\n');
    expect(dump).toContain(`INFO {"gateway":"G","gateway_cmd":2,"gateway_cmd_payload":"${b64('APP')}"}\r\nRS+ APP wire.plain\r\nINFO {"gateway":"G","gateway_cmd":3,"gateway_cmd_payload":"${b64('APP')}"}\r\n`);
    // Then kept up to date: plain interest on its first and last subscriber, queues on their first and last member.
    c.send('SUB wire.new 3\r\nSUB wire.new 4\r\n');
    await g.expect(/RS\+ APP wire\.new\r\n/);
    c.send('UNSUB 3\r\nUNSUB 4\r\n');
    await g.expect(/^RS- APP wire\.new\r\n/);
    c.send('UNSUB 2\r\n');
    await g.expect(/^RS- APP wire\.q grp\r\n/);
    // Messages from the remote cluster reach the subscribers.
    g.send('RMSG APP wire.plain _INBOX.r 2\r\nhi\r\n');
    await c.expect(/^MSG wire\.plain 1 _INBOX\.r 2\r\nhi\r\n/);
    const gz = await fetch(`http://127.0.0.1:${srv.httpPort}/gatewayz?accs=1`).then((r) => r.json() as Promise<any>);
    expect(gz.inbound_gateways.R[0].connection.in_msgs).toBe(1);
    expect(gz.inbound_gateways.R[0].accounts.find((a: any) => a.name === 'APP').interest_mode).toBe('Interest-Only');
  });

  it('answers an unknown account with A-, once', async () => {
    const { g } = await gatewayIn(gwPort, 2);
    open.push(g);
    await g.flush();
    g.send('RMSG NOPE x 1\r\na\r\nRMSG NOPE y 1\r\nb\r\n');
    await g.expect(/A- NOPE\r\n/);
    expect(await g.flush()).not.toContain('A- NOPE');
  });

  it('refuses a gateway of a cluster it does not know (reject_unknown_cluster)', async () => {
    const x = await RawClient.connect(gwPort);
    await x.expect(/^INFO /);
    x.send(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, name: fakeId(8), gateway: 'X' })}\r\n`);
    await x.expect(/-ERR 'Connection to gateway "G" rejected'\r\n/);
    await x.whenClosed();
    expect(srv.output()).toMatch(/Rejecting connection from gateway \\?"X\\?"/);
  });

  it('refuses a client or a route on the gateway port, and anything before CONNECT', async () => {
    const c = await RawClient.connect(gwPort);
    await c.expect(/^INFO /);
    c.send('CONNECT {"verbose":false,"lang":"node"}\r\n');
    await c.expect(/-ERR 'attempted to connect to gateway port'\r\n/);
    await c.whenClosed();
    const d = await RawClient.connect(gwPort);
    await d.expect(/^INFO /);
    d.send('PING\r\n');
    await d.expect(/-ERR 'Authorization Violation'\r\n/);
    await d.whenClosed();
  });

  it('closes a gateway that sends a bad frame, with the reason in the log', async () => {
    const { g } = await gatewayIn(gwPort, 3);
    await g.flush();
    g.send('RMSG APP wire.plain x y\r\n');
    await g.whenClosed();
    await eventually('the reason is logged', async () => (srv.output().includes('Gateway parser error, closing gateway') ? true : undefined));
    expect(srv.output()).toContain('processRoutedMsgArgs Bad or Missing Size');
  });

  it('toward a server without interest-only mode: optimistic, RS- and A- honoured, then the switch', async () => {
    // The server dials OLD a second after starting; play a pre-2.9 gateway (no gateway_iom).
    const o = old.conn ?? (await old.next());
    o.send(`INFO ${JSON.stringify({ server_id: fakeId(9), server_name: 'old1', gateway: 'OLD', gateway_urls: [`127.0.0.1:${old.port}`], headers: true })}\r\n`);
    await o.expect(/^CONNECT \{[^\r]*"gateway":"G"[^\r]*\}\r\nINFO \{[^\r]*"gateway":"G"/);
    await eventually('registered', async () => {
      const gz = await fetch(`http://127.0.0.1:${srv.httpPort}/gatewayz`).then((r) => r.json() as Promise<any>);
      return gz.outbound_gateways.OLD ? true : undefined;
    });
    const p = await client();
    // Optimistic: everything goes, nobody announced anything.
    p.send('PUB any.thing 1\r\na\r\n');
    await o.expect(/RMSG APP any\.thing 1\r\na\r\n/);
    // RS-: not that subject any more.
    o.send('RS- APP any.thing\r\n');
    await o.flush();
    p.send('PUB any.thing 1\r\nb\r\nPUB other 1\r\nc\r\n');
    await o.expect(/^RMSG APP other 1\r\nc\r\n/);
    // A-: not the account at all; A+: everything again.
    o.send('A- APP\r\n');
    await o.flush();
    p.send('PUB other 1\r\nd\r\n');
    await p.flush();
    o.send('A+ APP\r\n');
    await o.flush();
    p.send('PUB again 1\r\ne\r\n');
    await o.expect(/^RMSG APP again 1\r\ne\r\n/);
    // The switch: only what the remote then announces.
    o.send(`INFO {"gateway":"OLD","gateway_cmd":2,"gateway_cmd_payload":"${b64('APP')}"}\r\nRS+ APP wanted\r\nINFO {"gateway":"OLD","gateway_cmd":3,"gateway_cmd_payload":"${b64('APP')}"}\r\n`);
    await o.flush();
    p.send('PUB unwanted 1\r\nf\r\nPUB wanted 1\r\ng\r\n');
    await o.expect(/^RMSG APP wanted 1\r\ng\r\n/);
    const gz = await fetch(`http://127.0.0.1:${srv.httpPort}/gatewayz?accs=1&acc_name=APP`).then((r) => r.json() as Promise<any>);
    expect(gz.outbound_gateways.OLD.accounts).toEqual([{ name: 'APP', interest_mode: 'Interest-Only', interest_only_threshold: 1000, num_subs: 1 }]);
  });
});

describe('leafnode protocol on the wire', () => {
  let hub: RunningServer;
  let leafPort: number;
  const open: RawClient[] = [];
  const leafIn = async (connect: Record<string, unknown>) => {
    const l = await RawClient.connect(leafPort);
    open.push(l);
    const m = await l.expect(/^INFO (\{.*\})\r\n/);
    l.send(`CONNECT ${JSON.stringify({ version: '2.9.10', tls_required: false, server_id: fakeId(7), name: 'edge', headers: true, ...connect })}\r\n`);
    return { l, info: JSON.parse(m[1]!) };
  };
  const client = async () => {
    const { c } = await RawClient.open(hub.port);
    open.push(c);
    c.send('CONNECT {"verbose":false,"headers":true,"protocol":1,"user":"app","pass":"app"}\r\n');
    return c;
  };

  beforeAll(async () => {
    leafPort = await freePort();
    const accounts = 'accounts { APP: { jetstream: enabled, users: [ { user: app, password: app } ] } }';
    hub = await startServer({
      workers: 2,
      config: `server_name: hub1\n${accounts}\ncluster { name: hubc, listen: "127.0.0.1:-1" }\nleafnodes {\n  listen: "127.0.0.1:${leafPort}"\n  authorization { user: leaf, password: s3cret, account: APP }\n}`,
    });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await hub.stop();
  });

  it("sends nats-server's leafnode INFO, binds the account, and announces the account's interest", async () => {
    const c = await client();
    c.send('SUB hub.sub 1\r\nSUB hub.q grp 2\r\n');
    await c.flush();
    const { l, info } = await leafIn({ user: 'leaf', pass: 's3cret' });
    expect(info).toMatchObject({ server_name: 'hub1', auth_required: true, info_on_connect: true, headers: true, leafnode_urls: [`127.0.0.1:${leafPort}`], cluster: 'hubc' });
    expect(info.client_id).toBeGreaterThan(0);
    const answer = await l.expect(/^INFO (\{.*\})\r\n/);
    expect(JSON.parse(answer[1]!)).toMatchObject({ connect_info: true, remote_account: 'APP' });
    const dump = await l.flush();
    expect(dump).toContain('LS+ hub.sub\r\n');
    expect(dump).toContain('LS+ hub.q grp 1\r\n');
    expect(dump).toMatch(/LS\+ \$LDS\.\S+\r\n/);
    // Interest and messages from the leaf node.
    l.send('LS+ leaf.sub\r\n');
    await l.flush();
    c.send('PUB leaf.sub 2\r\nhi\r\n');
    await l.expect(/LMSG leaf\.sub 2\r\nhi\r\n/);
    l.send('LMSG hub.sub _INBOX.l 3\r\nabc\r\n');
    await c.expect(/MSG hub\.sub 1 _INBOX\.l 3\r\nabc\r\n/);
    const lz = await fetch(`http://127.0.0.1:${hub.httpPort}/leafz?subs=1`).then((r) => r.json() as Promise<any>);
    expect(lz.leafs).toEqual([expect.objectContaining({ account: 'APP', in_msgs: 1, out_msgs: 1, subscriptions_list: ['leaf.sub'] })]);
  });

  it('refuses a wrong password and logs it', async () => {
    const { l } = await leafIn({ user: 'leaf', pass: 'wrong' });
    await l.expect(/-ERR 'Authorization Violation'\r\n/);
    await l.whenClosed();
    expect(hub.output()).toMatch(/authentication error - User \\?"leaf\\?"/);
  });

  it('detects a loop when its own loop-detection subject comes back', async () => {
    const { l } = await leafIn({ user: 'leaf', pass: 's3cret' });
    const dump = await l.flush();
    const lds = /LS\+ (\$LDS\.\S+)\r\n/.exec(dump)![1]!;
    l.send(`LS+ ${lds}\r\n`);
    await l.expect(/-ERR 'Loop detected for leafnode account="APP"\. Delaying attempt to reconnect for 30s'\r\n/);
    await l.whenClosed();
  });

  it("keeps JetStream's API on its own side", async () => {
    const c = await client();
    c.send('SUB $JS.API.INFO 1\r\nSUB $JS.hub.API.INFO 2\r\n');
    await c.flush();
    const { l } = await leafIn({ user: 'leaf', pass: 's3cret' });
    const dump = await l.flush();
    expect(dump).not.toContain('$JS.API');
    l.send('LS+ $JS.API.>\r\nLMSG $JS.API.INFO 1\r\na\r\nLMSG $JS.hub.API.INFO 1\r\nb\r\n');
    await c.expect(/^MSG \$JS\.hub\.API\.INFO 2 1\r\nb\r\n/);
    c.send('PUB $JS.API.STREAM.LIST 1\r\nx\r\n');
    await c.flush();
    expect(await l.flush()).not.toContain('$JS.API.STREAM.LIST');
  });

  it('refuses a client, a gateway and its own cluster name on the leafnode port', async () => {
    const { l: a } = await leafIn({ lang: 'node' });
    await a.expect(/-ERR 'attempted to connect to leaf node port'\r\n/);
    const { l: b } = await leafIn({ gateway: 'X' });
    await b.expect(/-ERR 'Rejecting connection from gateway "X" on the leafnode port'\r\n/);
    const { l: c } = await leafIn({ user: 'leaf', pass: 's3cret', cluster: 'hubc' });
    await c.expect(/-ERR 'remote leafnode has same cluster name'\r\n/);
  });

  it('closes a leaf connection that sends a bad frame, with the reason in the log', async () => {
    const { l } = await leafIn({ user: 'leaf', pass: 's3cret' });
    await l.flush();
    l.send('LMSG foo + r\r\n');
    await l.whenClosed();
    await eventually('the reason is logged', async () => (hub.output().includes('Leafnode parser error, closing leafnode') ? true : undefined));
  });
});

describe('leaf nodes in a loop', () => {
  it('two servers that are each other\'s leaf node detect the loop and log it', async () => {
    const [px, py] = [await freePort(), await freePort()];
    const conf = (name: string, own: number, other: number) => `server_name: ${name}\nleafnodes {\n  listen: "127.0.0.1:${own}"\n  remotes: [ { url: "nats-leaf://127.0.0.1:${other}" } ]\n}`;
    const x = await startServer({ workers: 1, config: conf('x', px, py) });
    const y = await startServer({ workers: 1, config: conf('y', py, px) });
    try {
      await eventually('the loop is detected', async () => (/Loop detected for leafnode account=\\?"\$G\\?"/.test(x.output() + y.output()) ? true : undefined), 20_000);
    } finally {
      await Promise.all([x.stop(), y.stop()]);
    }
  });
});

describe('a Petrel leaf node toward a hub (a raw peer plays the hub)', () => {
  const hub = new FakeRemoteGateway();
  let leaf: RunningServer;
  let dead: number;
  const user = createUser();
  const open: RawClient[] = [];

  beforeAll(async () => {
    await hub.start(await freePort());
    dead = await freePort();
    const dir = tempDir();
    const creds = path.join(dir, 'leaf.creds');
    // The nsc layout: a JWT block, then the seed block.
    fs.writeFileSync(
      creds,
      `-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\n\n-----BEGIN USER NKEY SEED-----\n${new TextDecoder().decode(user.getSeed())}\n------END USER NKEY SEED------\n`,
    );
    leaf = await startServer({
      workers: 2,
      dir,
      config: `server_name: spoke\nleafnodes {\n  reconnect: 1\n  remotes: [ {\n    urls: [ "nats-leaf://127.0.0.1:${dead}", "nats-leaf://127.0.0.1:${hub.port}" ]\n    no_randomize: true\n    credentials: "${creds}"\n    deny_imports: [ "secret.>" ]\n    deny_exports: [ "private.>" ]\n  } ]\n}`,
    });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await hub.close();
    await leaf.stop();
  });

  it('tries the next URL of its hub, signs the nonce with its credentials, and honours its deny lists', async () => {
    // The first URL refuses; the leaf node moves on to the next one.
    const h = hub.conn ?? (await hub.next());
    open.push(h);
    h.send(`INFO ${JSON.stringify({ server_id: fakeId(5), server_name: 'fakehub', nonce: 'abcdefghijk', client_id: 9, leafnode_urls: [`127.0.0.1:${hub.port}`], info_on_connect: true, headers: true })}\r\n`);
    const m = await h.expect(/^CONNECT (\{[^\r]*\})\r\n/);
    const connect = JSON.parse(m[1]!);
    expect(connect).toMatchObject({ name: 'spoke', headers: true, deny_pub: ['secret.>'], jwt: 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln' });
    expect(connect.user).toBeUndefined();
    expect(connect.is_hub).toBeUndefined();
    expect(fromPublic(user.getPublicKey()).verify(new TextEncoder().encode('abcdefghijk'), Buffer.from(connect.sig, 'base64url'))).toBe(true);
    expect(leaf.output()).toMatch(/Error trying to connect as leafnode to remote server/);
    // Registered once the hub answers CONNECT; then the leaf's interest, without what it denies itself.
    const c = (await RawClient.open(leaf.port)).c;
    open.push(c);
    c.send('CONNECT {"verbose":false,"headers":true,"protocol":1}\r\nSUB secret.x 1\r\nSUB ok.x 2\r\n');
    await c.flush();
    h.send(`INFO ${JSON.stringify({ server_id: fakeId(5), connect_info: true, remote_account: '$G', client_id: 9, leafnode_urls: [] })}\r\n`);
    const dump = await h.flush();
    expect(dump).toContain('LS+ ok.x\r\n');
    expect(dump).not.toContain('secret.x');
    expect(dump).toMatch(/LS\+ \$LDS\.\S+\r\n/);
    // Interest from the hub: what the leaf may not export is never sent, nor messages it may not import taken.
    h.send('LS+ private.>\r\nLS+ fine.>\r\nLMSG secret.x 1\r\na\r\nLMSG ok.x 1\r\nb\r\n');
    await c.expect(/MSG ok\.x 2 1\r\nb\r\n/);
    await h.flush();
    c.send('PUB private.1 1\r\nx\r\nPUB fine.1 1\r\ny\r\n');
    await h.expect(/^LMSG fine\.1 1\r\ny\r\n/);
    expect(c.pending).not.toContain('secret.x');
    const lz = await fetch(`http://127.0.0.1:${leaf.httpPort}/leafz`).then((r) => r.json() as Promise<any>);
    expect(lz.leafs[0]).toMatchObject({ account: '$G', port: hub.port });
    const varz = await fetch(`http://127.0.0.1:${leaf.httpPort}/varz`).then((r) => r.json() as Promise<any>);
    expect(varz.leaf).toEqual({ remotes: [{ urls: [`127.0.0.1:${dead}`, `127.0.0.1:${hub.port}`], deny: { exports: ['private.>'], imports: ['secret.>'] } }] });
  });
});
