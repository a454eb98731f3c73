// Interoperability with the Go nats-server 2.9.10: a Petrel region and a Go region joined by
// gateways (each dials the other's first node), a Petrel leaf node on a Go hub and a Go leaf node
// on a Petrel hub; pub/sub, request/reply and queue groups both ways. Without the Go server
// installed these tests report themselves skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GO_SERVER, HAS_GO, StartedNodes } from '../../support/cluster.ts';
import { gatewayz, LeafNodes, leafCount, outboundTo, startLeaf, startRegion } from '../../support/supercluster.ts';
import type { RegionNode } from '../../support/supercluster.ts';
import { checkPubSub, checkQueueLocalFirst, checkRequestReply } from './cross_region.ts';
import type { Side } from './cross_region.ts';

const ACCOUNTS = 'accounts { "$SYS": { users: [ { user: sys, password: sys } ] }, APP: { users: [ { user: app, password: app } ] } }';
const side = (n: { name: string; port: number }): Side => ({ name: n.name, port: n.port, user: 'app' });

if (!HAS_GO) {
  describe('super-clusters and leaf nodes with the Go nats-server', () => {
    it.skip(`skipped: ${GO_SERVER} is not installed (apt-get install nats-server)`, () => {});
  });
}

describe.runIf(HAS_GO)('a Petrel region and a Go region joined by gateways', () => {
  const started = new StartedNodes();
  let p: RegionNode[] = [];
  let g: RegionNode[] = [];
  beforeAll(async () => {
    g = await startRegion(started, { name: 'GO', nodes: ['g1', 'g2'], go: true, config: ACCOUNTS });
    p = await startRegion(started, { name: 'PETREL', nodes: ['p1', 'p2'], gateways: [{ name: 'GO', url: g[0]!.gatewayUrl }], config: ACCOUNTS });
    await Promise.all([...p.map((n) => outboundTo(n, ['GO'])), ...g.map((n) => outboundTo(n, ['PETREL']))]);
  }, 90_000);
  afterAll(() => started.stopAll());

  it('every node of each region has its outbound gateway, in interest-only mode', async () => {
    const goView = await gatewayz(g[1]!, '?accs=1');
    expect(Object.keys(goView.outbound_gateways)).toEqual(['PETREL']);
    const accounts = goView.outbound_gateways.PETREL.accounts as { name: string; interest_mode: string }[];
    expect(accounts.find((a) => a.name === 'APP')?.interest_mode).toBe('Interest-Only');
  });

  it('pub/sub both ways', async () => {
    await checkPubSub(side(p[1]!), side(g[1]!));
    await checkPubSub(side(g[0]!), side(p[0]!));
  });

  it('request/reply both ways', async () => {
    await checkRequestReply(side(p[0]!), side(g[1]!));
    await checkRequestReply(side(g[1]!), side(p[1]!));
  });

  it('queue groups: the publishing region first, then the other', async () => {
    await checkQueueLocalFirst(side(p[1]!), side(g[0]!));
    await checkQueueLocalFirst(side(g[1]!), side(p[0]!));
  });
});

describe.runIf(HAS_GO)('leaf nodes between Petrel and Go', () => {
  const started = new StartedNodes();
  const leafs = new LeafNodes();
  let goHub: RegionNode;
  let petrelHub: RegionNode;
  let petrelLeaf: Awaited<ReturnType<typeof startLeaf>>;
  let goLeaf: Awaited<ReturnType<typeof startLeaf>>;
  const leafAuth = 'authorization { user: leaf, password: leaf, account: APP }';
  const leafAccounts = 'accounts { APP: { users: [ { user: app, password: app } ] } }';
  beforeAll(async () => {
    [goHub] = await startRegion(started, { name: 'GOHUB', nodes: ['gohub'], go: true, config: ACCOUNTS, leafHub: true, leafExtra: leafAuth });
    [petrelHub] = await startRegion(started, { name: 'PHUB', nodes: ['phub'], config: ACCOUNTS, leafHub: true, leafExtra: leafAuth });
    petrelLeaf = await startLeaf(leafs, { name: 'pleaf', hubs: [`nats-leaf://leaf:leaf@127.0.0.1:${goHub!.leafPort}`], remoteExtra: 'account: APP', config: leafAccounts });
    goLeaf = await startLeaf(leafs, { name: 'gleaf', go: true, hubs: [`nats-leaf://leaf:leaf@127.0.0.1:${petrelHub!.leafPort}`], remoteExtra: 'account: APP', config: leafAccounts });
    await Promise.all([leafCount(goHub!, 1, 'the Go hub'), leafCount(petrelHub!, 1, 'the Petrel hub')]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([started.stopAll(), leafs.stopAll()]);
  });

  it('a Petrel leaf node on a Go hub: pub/sub, request/reply, queue groups both ways', async () => {
    await checkPubSub(side(petrelLeaf), side(goHub));
    await checkPubSub(side(goHub), side(petrelLeaf));
    await checkRequestReply(side(petrelLeaf), side(goHub));
    await checkRequestReply(side(goHub), side(petrelLeaf));
    await checkQueueLocalFirst(side(petrelLeaf), side(goHub));
    await checkQueueLocalFirst(side(goHub), side(petrelLeaf));
  });

  it('a Go leaf node on a Petrel hub: pub/sub, request/reply, queue groups both ways', async () => {
    await checkPubSub(side(goLeaf), side(petrelHub));
    await checkPubSub(side(petrelHub), side(goLeaf));
    await checkRequestReply(side(goLeaf), side(petrelHub));
    await checkRequestReply(side(petrelHub), side(goLeaf));
    await checkQueueLocalFirst(side(goLeaf), side(petrelHub));
    await checkQueueLocalFirst(side(petrelHub), side(goLeaf));
  });
});
