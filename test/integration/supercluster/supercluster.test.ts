// A super-cluster of two Petrel regions (A: a1, a2; B: b1, b2) joined by gateways, with a leaf
// node on a1 (its hub, JetStream domain "hub"): only a1 is told about B (through a TCP proxy the
// test can cut), every other gateway is learned by gossip. Pub/sub, request/reply and queue
// groups across the gateway both ways and through the leaf; interest-only mode; JetStream on the
// hub's domain from the leaf; links cut and healed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { eventually, StartedNodes } from '../../support/cluster.ts';
import { monitor, tempDir } from '../../support/server.ts';
import { TcpProxy } from '../../support/tcp_proxy.ts';
import { freePort, gatewayz, LeafNodes, leafCount, outboundTo, startLeaf, startRegion } from '../../support/supercluster.ts';
import type { RegionNode } from '../../support/supercluster.ts';
import { checkPubSub, checkQueueLocalFirst, checkRequestReply, open, probe } from './cross_region.ts';
import type { Side } from './cross_region.ts';

const enc = new TextEncoder();
const ACCOUNTS = 'accounts { "$SYS": { users: [ { user: sys, password: sys } ] }, APP: { jetstream: enabled, users: [ { user: app, password: app } ] } }';

describe('a super-cluster of two Petrel regions, with a leaf node', () => {
  const started = new StartedNodes();
  const others = new LeafNodes();
  let a: RegionNode[] = [];
  let b: RegionNode[] = [];
  let leaf: Awaited<ReturnType<typeof startLeaf>>;
  /** A second leaf node with a JetStream of its own, in domain "edge". */
  let jsLeaf: Awaited<ReturnType<typeof startLeaf>>;
  let gwProxy: TcpProxy;
  let leafProxy: TcpProxy;
  const side = (n: { name: string; port: number }): Side => ({ name: n.name, port: n.port, user: 'app' });

  beforeAll(async () => {
    b = await startRegion(started, { name: 'B', nodes: ['b1', 'b2'], config: ACCOUNTS });
    gwProxy = await TcpProxy.start({ host: '127.0.0.1', port: b[0]!.gatewayPort });
    a = await startRegion(started, {
      name: 'A',
      nodes: ['a1', 'a2'],
      gateways: [{ name: 'B', url: `nats://127.0.0.1:${gwProxy.port}` }],
      config: ACCOUNTS,
      firstConfig: `jetstream { store_dir: "${tempDir()}", domain: hub }`,
      leafHub: true,
      leafExtra: 'authorization { users: [ { user: leaf, password: leaf, account: APP } ] }',
    });
    leafProxy = await TcpProxy.start({ host: '127.0.0.1', port: a[0]!.leafPort });
    leaf = await startLeaf(others, {
      name: 'edge',
      // A hub URL that refuses comes first: the leaf node moves on to the next.
      hubs: [`nats-leaf://leaf:leaf@127.0.0.1:${await freePort()}`, `nats-leaf://leaf:leaf@127.0.0.1:${leafProxy.port}`],
      remoteExtra: 'account: APP\n    no_randomize: true',
      config: 'accounts { APP: { users: [ { user: app, password: app } ] } }',
    });
    jsLeaf = await startLeaf(others, {
      name: 'edge2',
      hubs: [`nats-leaf://leaf:leaf@127.0.0.1:${a[0]!.leafPort}`],
      remoteExtra: 'account: APP',
      config: `accounts { APP: { jetstream: enabled, users: [ { user: app, password: app } ] } }\njetstream { store_dir: "${tempDir()}", domain: edge }`,
    });
    await Promise.all([...a.map((n) => outboundTo(n, ['B'])), ...b.map((n) => outboundTo(n, ['A'])), leafCount(a[0]!, 2, 'a1')]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([started.stopAll(), others.stopAll()]);
    await Promise.all([gwProxy?.close(), leafProxy?.close()]);
  });

  it('connects every node of each region to the other region, though only a1 was told (gossip, implicit gateways)', async () => {
    // One outbound per node and remote region, so each region accepts as many inbound ones.
    const inbound = async (nodes: RegionNode[], from: string) => {
      let n = 0;
      for (const x of nodes) n += ((await gatewayz(x)).inbound_gateways?.[from] ?? []).length;
      return n;
    };
    await eventually('every outbound gateway is accepted on the other side', async () => ((await inbound(a, 'B')) === 2 && (await inbound(b, 'A')) === 2 ? true : undefined));
    const g = await gatewayz(a[1]!);
    expect(g).toMatchObject({ name: 'A', outbound_gateways: { B: { configured: false } } });
    expect((await gatewayz(a[0]!)).outbound_gateways.B.configured).toBe(true);
    const varz = await monitor(a[0]!, '/varz');
    expect(varz.gateway).toMatchObject({ name: 'A', port: a[0]!.gatewayPort, gateways: [{ name: 'B' }] });
    expect(varz.leaf).toMatchObject({ port: a[0]!.leafPort });
    expect(varz.leafnodes).toBe(2);
    const metrics = await fetch(`http://127.0.0.1:${a[0]!.httpPort}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^gnatsd_varz_leafnodes\{server_id="\w+"\} 2$/m);
    expect(metrics).toMatch(/^gnatsd_gatewayz_outbound_gateways\{server_id="\w+"\} 1$/m);
    expect(metrics).toMatch(/^gnatsd_gatewayz_out_msgs\{server_id="\w+",gateway_name="B",direction="outbound"\} \d+$/m);
    expect(metrics).toMatch(/^gnatsd_leafz_leafnodes\{server_id="\w+"\} 2$/m);
    expect(metrics).toMatch(/^gnatsd_leafz_in_msgs\{server_id="\w+",account="APP",ip="127\.0\.0\.1",port="\d+"\} \d+$/m);
  });

  it('pub/sub crosses the gateway both ways, between any nodes', async () => {
    await checkPubSub(side(a[1]!), side(b[1]!));
    await checkPubSub(side(b[0]!), side(a[0]!));
  });

  it('request/reply crosses the gateway both ways', async () => {
    await checkRequestReply(side(a[0]!), side(b[1]!));
    await checkRequestReply(side(b[1]!), side(a[1]!));
  });

  it('a queue group is served in the publishing region first, by the other region when none is left', async () => {
    await checkQueueLocalFirst(side(a[1]!), side(b[0]!));
    await checkQueueLocalFirst(side(b[1]!), side(a[0]!));
  });

  it('is interest-only: nothing crosses to a region without interest', async () => {
    const accounts = (await gatewayz(a[0]!, '?accs=1')).outbound_gateways.B.accounts as { name: string; interest_mode: string }[];
    expect(accounts.find((x) => x.name === 'APP')?.interest_mode).toBe('Interest-Only');
    const inbound = (await gatewayz(b[0]!, '?accs=1')).inbound_gateways.A as { accounts: { name: string; interest_mode: string }[] }[];
    expect(inbound.every((c) => c.accounts.find((x) => x.name === 'APP')?.interest_mode === 'Interest-Only')).toBe(true);
    const out = async () => Number((await gatewayz(a[0]!)).outbound_gateways.B.connection.out_msgs);
    const nc = await open(side(a[0]!));
    try {
      const before = await out();
      for (let i = 0; i < 200; i++) nc.publish('nobody.in.b', enc.encode('x'));
      await nc.flush();
      // A local subscriber proves the messages were routed (and none of them to B).
      let local = 0;
      nc.subscribe('only.here', { callback: () => void local++ });
      nc.publish('only.here', enc.encode('x'));
      await nc.flush();
      await eventually('the local subscriber got its message', async () => (local === 1 ? true : undefined));
      expect(await out()).toBe(before);
    } finally {
      await nc.close();
    }
  });

  it('a leaf node reaches the other region through its hub and the gateway, both ways', async () => {
    await checkPubSub(side(leaf), side(b[1]!));
    await checkPubSub(side(b[0]!), side(leaf));
    await checkRequestReply(side(leaf), side(b[1]!));
    await checkRequestReply(side(b[1]!), side(leaf));
  });

  it('pub/sub, request/reply and queue groups cross the leaf connection both ways', async () => {
    await checkPubSub(side(leaf), side(a[0]!));
    await checkPubSub(side(a[1]!), side(leaf));
    await checkRequestReply(side(a[0]!), side(leaf));
    await checkQueueLocalFirst(side(leaf), side(a[0]!));
    await checkQueueLocalFirst(side(a[0]!), side(leaf));
  });

  it("serves JetStream on the hub's domain to a client of the leaf node", async () => {
    const nc = await open(side(leaf));
    try {
      const jsm = await jetstreamManager(nc, { domain: 'hub' });
      await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
      const js = jetstream(nc, { domain: 'hub' });
      const ack = await js.publish('orders.1', enc.encode('first'));
      expect(ack).toMatchObject({ stream: 'ORDERS', seq: 1, domain: 'hub' });
      // The stream's subjects reach the hub from the leaf too.
      nc.publish('orders.2', enc.encode('second'));
      await nc.flush();
      await eventually('two messages stored', async () => ((await jsm.streams.info('ORDERS')).state.messages === 2 ? true : undefined));
      await jsm.consumers.add('ORDERS', { durable_name: 'reader', ack_policy: 'explicit' });
      const c = await js.consumers.get('ORDERS', 'reader');
      const m = await c.next({ expires: 5000 });
      expect(m?.subject).toBe('orders.1');
      m!.ack();
      // The plain JetStream API is the leaf's own, which has none.
      const err = await jetstreamManager(nc, { timeout: 1000 }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).not.toBeNull();
    } finally {
      await nc.close();
    }
  });

  it("mirrors and sources a hub's stream into a leaf node's domain (external api and deliver), and the hub reaches the leaf's domain", async () => {
    const onEdge = await open(side(jsLeaf));
    const onHub = await open(side(a[0]!));
    try {
      const edge = await jetstreamManager(onEdge);
      await edge.streams.add({ name: 'MIRRORED', mirror: { name: 'ORDERS', external: { api: '$JS.hub.API', deliver: '' } } });
      await edge.streams.add({ name: 'SOURCED', sources: [{ name: 'ORDERS', external: { api: '$JS.hub.API', deliver: 'deliver.hub' } }] });
      const hub = jetstream(onHub);
      await hub.publish('orders.3', enc.encode('third'));
      const count = async (name: string) => (await edge.streams.info(name)).state.messages;
      await eventually('the mirror and the source copied the hub stream', async () => ((await count('MIRRORED')) === 3 && (await count('SOURCED')) === 3 ? true : undefined), 20_000);
      const m = await edge.streams.getMessage('MIRRORED', { seq: 3 });
      expect(m?.subject).toBe('orders.3');
      const s = await edge.streams.getMessage('SOURCED', { seq: 1 });
      expect(s?.header.get('Nats-Stream-Source')).toMatch(/^ORDERS 1 /);
      // The leaf node's own domain, seen from the hub.
      const fromHub = await jetstreamManager(onHub, { domain: 'edge' });
      expect((await fromHub.streams.names().next()).sort()).toEqual(['MIRRORED', 'SOURCED']);
    } finally {
      await Promise.all([onEdge.close(), onHub.close()]);
    }
  });

  it('a gateway link cut and healed restores interest', async () => {
    const sub = await open(side(b[0]!));
    const pub = await open(side(a[0]!));
    try {
      let got = 0;
      sub.subscribe('after.cut', { callback: () => void got++ });
      await sub.flush();
      await probe(pub, 'after.cut', () => got > 0, 'a1 reaches b1 before the cut');
      const cidBefore = (await gatewayz(a[0]!)).outbound_gateways.B.connection.cid;
      gwProxy.cut();
      await eventually('a1 redials B', async () => {
        const c = (await gatewayz(a[0]!)).outbound_gateways.B?.connection?.cid;
        return c !== undefined && c !== cidBefore ? true : undefined;
      });
      const n = got;
      await probe(pub, 'after.cut', () => got > n, 'a1 reaches b1 after the cut');
    } finally {
      await Promise.all([sub.close(), pub.close()]);
    }
  });

  it('a leaf link cut and healed restores interest both ways', async () => {
    const onLeaf = await open(side(leaf));
    const onHub = await open(side(a[0]!));
    try {
      let leafGot = 0;
      let hubGot = 0;
      onLeaf.subscribe('leaf.after.cut', { callback: () => void leafGot++ });
      onHub.subscribe('hub.after.cut', { callback: () => void hubGot++ });
      await Promise.all([onLeaf.flush(), onHub.flush()]);
      await probe(onHub, 'leaf.after.cut', () => leafGot > 0, 'hub reaches the leaf before the cut');
      const ports = async () => ((await monitor(a[0]!, '/leafz')).leafs as { port: number }[]).map((l) => l.port).sort();
      const before = await ports();
      leafProxy.cut();
      await eventually('the leaf node redials its hub', async () => {
        const now = await ports();
        return now.length === 2 && JSON.stringify(now) !== JSON.stringify(before) ? true : undefined;
      });
      const [l, h] = [leafGot, hubGot];
      await probe(onHub, 'leaf.after.cut', () => leafGot > l, 'hub reaches the leaf after the cut');
      await probe(onLeaf, 'hub.after.cut', () => hubGot > h, 'the leaf reaches the hub after the cut');
    } finally {
      await Promise.all([onLeaf.close(), onHub.close()]);
    }
  });
});
