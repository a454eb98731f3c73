// Petrel nodes as a cluster, as processes: gossip from one seed, the cross-node checks, client
// connect URLs, monitoring, a node restarted, a route cut mid-stream, route authorization and
// cluster names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { monitor, tempDir } from '../../support/server.ts';
import { eventually, fullMesh, routesOf, StartedNodes, TEST_ACCOUNTS } from '../../support/cluster.ts';
import type { NodeSpec } from '../../support/cluster.ts';
import type { ClusterNode } from '../../support/cluster.ts';
import { TcpProxy } from '../../support/tcp_proxy.ts';
import { crossNodeChecks, remoteInterest } from './cross_node.ts';
import { collect } from '../util.ts';
import { RawClient } from '../../support/raw.ts';

const enc = new TextEncoder();

describe('a Petrel cluster of three', () => {
  const started = new StartedNodes();
  const startNode = (spec: NodeSpec) => started.start(spec);
  afterAll(() => started.stopAll());
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    // n1 runs JetStream (in APP): the only JetStream node, it forms the JetStream cluster alone.
    const seed = await startNode({ name: 'n1', config: TEST_ACCOUNTS.replace('APP: {', 'APP: { jetstream: enabled,') + `\njetstream { store_dir: "${tempDir()}" }` });
    // n2 and n3 know only the seed: the mesh is completed by gossip. n2 writes it as a bare
    // host:port, which the config accepts and the dialler must understand too.
    const ldm = `${TEST_ACCOUNTS}\nlame_duck_duration: "30s"\nlame_duck_grace_period: "10s"`;
    const bare = seed.routeUrl.replace('nats-route://', '');
    const rest = await Promise.all(['n2', 'n3'].map((name) => startNode({ name, routes: [name === 'n2' ? bare : seed.routeUrl], config: name === 'n3' ? ldm : TEST_ACCOUNTS })));
    nodes = [seed, ...rest];
    await fullMesh(nodes);
  });

  it('builds the full mesh from one seed: n2 and n3 find each other through gossip', async () => {
    const n2 = await routesOf(nodes[1]!);
    expect(n2.names.sort()).toEqual(['n1', 'n3']);
    const n3 = await monitor(nodes[2]!, '/routez');
    const toN2 = (n3.routes as { remote_name: string; did_solicit: boolean; is_configured: boolean }[]).find((r) => r.remote_name === 'n2')!;
    expect(toN2.is_configured).toBe(false);
  });

  crossNodeChecks('petrel', () => nodes);

  it("answers every node's clients from the one JetStream node (a JetStream cluster of one in a mixed cluster)", async () => {
    const [here, there] = await Promise.all([0, 1].map((i) => connect({ servers: `127.0.0.1:${nodes[i]!.port}`, user: 'app', pass: 'app' })));
    const ask = async (nc: typeof here) =>
      eventually('account info', async () => {
        const r = JSON.parse((await nc!.request('$JS.API.INFO', new Uint8Array(0), { timeout: 2000 })).string()) as { type: string; error?: unknown };
        return r.error === undefined ? r : undefined;
      });
    expect((await ask(here)).type).toBe('io.nats.jetstream.api.v1.account_info_response');
    expect((await ask(there)).type).toBe('io.nats.jetstream.api.v1.account_info_response');
    await Promise.all([here!.close(), there!.close()]);
  });

  it('reports routes with nats-server names in /routez, /varz and /metrics', async () => {
    const [n1] = nodes;
    const nc = await connect({ servers: `127.0.0.1:${nodes[1]!.port}`, user: 'app', pass: 'app' });
    nc.subscribe('mon.watch');
    await nc.flush();
    await remoteInterest(n1!, 'mon.watch');
    const routez = await monitor(n1!, '/routez?subs=1');
    expect(routez.num_routes).toBe(2);
    const r = (routez.routes as Record<string, unknown>[]).find((x) => x.remote_name === 'n2')!;
    for (const key of ['rid', 'remote_id', 'did_solicit', 'is_configured', 'ip', 'port', 'start', 'last_activity', 'uptime', 'idle', 'pending_size', 'in_msgs', 'out_msgs', 'in_bytes', 'out_bytes', 'subscriptions']) {
      expect(r).toHaveProperty(key);
    }
    expect(r.subscriptions_list).toContain('mon.watch');
    const varz = await monitor(n1!, '/varz');
    expect(varz.cluster).toMatchObject({ name: 'c1', addr: '127.0.0.1', cluster_port: n1!.clusterPort, auth_timeout: 2 });
    expect(varz.routes).toBe(2);
    expect([...varz.connect_urls].sort()).toEqual(nodes.map((n) => `127.0.0.1:${n.port}`).sort());
    const metrics = (await monitor(n1!, '/metrics')) as string;
    expect(metrics).toMatch(/gnatsd_varz_routes\{server_id="[A-Z0-9]+"\} 2/);
    await nc.close();
  });

  it('gives clients every node in connect_urls, and an updated INFO when a node joins and leaves', async () => {
    const nc = await connect({ servers: `127.0.0.1:${nodes[0]!.port}`, user: 'app', pass: 'app' });
    await nc.flush();
    expect([...(nc.info?.connect_urls ?? [])].sort()).toEqual(nodes.map((n) => `127.0.0.1:${n.port}`).sort());
    const n4 = await startNode({ name: 'n4', routes: [nodes[0]!.routeUrl], config: TEST_ACCOUNTS });
    try {
      await fullMesh([...nodes, n4]);
      await eventually('client INFO lists n4', async () => nc.info?.connect_urls?.includes(`127.0.0.1:${n4.port}`));
    } finally {
      await n4.stop();
    }
    await eventually('client INFO drops n4', async () => !nc.info?.connect_urls?.includes(`127.0.0.1:${n4.port}`));
    await fullMesh(nodes);
    await nc.close();
  });

  it('a node killed and restarted rejoins, and its clients reach the others again', async () => {
    const old = nodes[2]!;
    await old.kill();
    await eventually('n1 drops n3', async () => (await routesOf(nodes[0]!)).num === 1);
    const n3 = await startNode({ name: 'n3', routes: [nodes[0]!.routeUrl], config: `${TEST_ACCOUNTS}\nlame_duck_duration: "30s"\nlame_duck_grace_period: "10s"`, dir: old.dir });
    nodes[2] = n3;
    await fullMesh(nodes);
    const sub = await connect({ servers: `127.0.0.1:${n3.port}`, user: 'app', pass: 'app' });
    const pub = await connect({ servers: `127.0.0.1:${nodes[1]!.port}`, user: 'app', pass: 'app' });
    const s = sub.subscribe('back.again');
    await sub.flush();
    await remoteInterest(nodes[1]!, 'back.again');
    pub.publish('back.again', enc.encode('hi'));
    expect((await collect(s, 1))[0]!.string()).toBe('hi');
    await Promise.all([sub.close(), pub.close()]);
  });

  it('lame duck tells the peers (their clients drop its URL) and its own clients (ldm, the others only)', async () => {
    const ldm = nodes[2]!;
    const watcher = await connect({ servers: `127.0.0.1:${nodes[0]!.port}`, user: 'app', pass: 'app' });
    await watcher.flush();
    await eventually('watcher knows n3', async () => watcher.info?.connect_urls?.includes(`127.0.0.1:${ldm.port}`));
    const { c } = await RawClient.open(ldm.port);
    c.send('CONNECT {"user":"app","pass":"app","protocol":1}\r\n');
    await c.flush();
    ldm.signal('SIGUSR2');
    const m = await c.expect(/INFO (\{.*"ldm":true.*\})\r\n/);
    expect(JSON.parse(m[1]!).connect_urls.sort()).toEqual([`127.0.0.1:${nodes[0]!.port}`, `127.0.0.1:${nodes[1]!.port}`].sort());
    await eventually('watcher drops n3', async () => !watcher.info?.connect_urls?.includes(`127.0.0.1:${ldm.port}`));
    c.close();
    await watcher.close();
  });
});

describe('a route cut mid-stream', () => {
  const started = new StartedNodes();
  const startNode = (spec: NodeSpec) => started.start(spec);
  afterAll(() => started.stopAll());
  let a: ClusterNode;
  let b: ClusterNode;
  let proxy: TcpProxy;
  beforeAll(async () => {
    a = await startNode({ name: 'pa', clusterName: 'cp', workers: 1 });
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: a.clusterPort });
    // b reaches a only through the proxy.
    b = await startNode({ name: 'pb', clusterName: 'cp', routes: [`nats-route://127.0.0.1:${proxy.port}`] });
    await fullMesh([a, b]);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('reconnects, restores interest, and keeps the publisher order', async () => {
    const sub = await connect({ servers: `127.0.0.1:${b.port}` });
    const pub = await connect({ servers: `127.0.0.1:${a.port}` });
    const seqs: number[] = [];
    sub.subscribe('stream', { callback: (_e, m) => void seqs.push(Number(m.string())) });
    await sub.flush();
    await remoteInterest(a, 'stream');
    let seq = 0;
    let cutAt = -1;
    const publisher = setInterval(() => pub.publish('stream', enc.encode(String(seq++))), 2);
    try {
      await eventually('messages flow before the cut', async () => seqs.length > 20);
      expect(proxy.connections).toBe(1);
      cutAt = seq;
      proxy.cut();
      // The route comes back through the proxy (b dialled it: an explicit route, redialled
      // forever); b sends its interest again, so a forwards to it without a new SUB.
      await eventually('route back', async () => (await routesOf(a)).num === 1 && proxy.connections === 1);
      await eventually('messages flow after the reconnect', async () => seqs.some((s) => s > cutAt));
    } finally {
      clearInterval(publisher);
    }
    await pub.flush();
    await sub.flush();
    // Messages sent while the route was down are lost (at most once), never duplicated or reordered.
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    await Promise.all([sub.close(), pub.close()]);
  });
});

describe('route authorization and cluster names', () => {
  const started = new StartedNodes();
  const startNode = (spec: NodeSpec) => started.start(spec);
  afterAll(() => started.stopAll());
  let a: ClusterNode;
  beforeAll(async () => {
    a = await startNode({ name: 'sa', clusterName: 'secure', workers: 1, clusterExtra: 'authorization { user: ruser, password: rpass }' });
  });

  it('refuses a route with a wrong password and accepts the right one', async () => {
    const url = new URL(a.routeUrl);
    const wrong = await startNode({ name: 'sw', clusterName: 'secure', workers: 1, routes: [`nats-route://ruser:wrong@${url.host}`] });
    await eventually('the refusal is logged', async () => /Authorization Violation/.test(wrong.output()) && /authentication error/.test(a.output()));
    expect((await routesOf(a)).num).toBe(0);
    const right = await startNode({ name: 'sr', clusterName: 'secure', workers: 1, routes: [`nats-route://ruser:rpass@${url.host}`] });
    await fullMesh([a, right]);
    expect((await routesOf(a)).names).toEqual(['sr']);
  });

  it('lets a node without a cluster name join, taking the configured name', async () => {
    const url = new URL(a.routeUrl);
    const nameless = await startNode({ name: 'sn', clusterName: '', workers: 1, routes: [`nats-route://ruser:rpass@${url.host}`] });
    // Its dynamic name is refused first; it takes the configured one from the INFO and redials.
    await eventually('joined under the configured name', async () => (await routesOf(a)).names.includes('sn'));
    expect((await monitor(nameless, '/varz')).cluster.name).toBe('secure');
  });

  it('refuses a route from another cluster', async () => {
    const url = new URL(a.routeUrl);
    const stranger = await startNode({ name: 'sx', clusterName: 'elsewhere', workers: 1, routes: [`nats-route://ruser:rpass@${url.host}`] });
    await eventually('the refusal is logged', async () => /Rejecting connection, cluster name \\"elsewhere\\" does not match \\"secure\\"/.test(a.output()));
    expect((await routesOf(a)).names).not.toContain('sx');
    expect((await routesOf(stranger)).num).toBe(0);
  });
});
