// Wire compatibility with the Go nats-server (2.9.10): a Go node joins a Petrel cluster, and a
// Petrel node joins a Go cluster, and the cross-node checks pass in both. Without the Go server
// installed these tests report themselves skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullMesh, GO_SERVER, HAS_GO, routesOf, StartedNodes, TEST_ACCOUNTS } from '../../support/cluster.ts';
import type { NodeSpec } from '../../support/cluster.ts';
import type { ClusterNode } from '../../support/cluster.ts';
import { crossNodeChecks } from './cross_node.ts';

if (!HAS_GO) {
  describe('mixed clusters with the Go nats-server', () => {
    it.skip(`skipped: ${GO_SERVER} is not installed (apt-get install nats-server)`, () => {});
  });
}

describe.runIf(HAS_GO)('a Go node joins a cluster of two Petrel nodes', () => {
  const started = new StartedNodes();
  const startNode = (spec: NodeSpec) => started.start(spec);
  afterAll(() => started.stopAll());
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    const seed = await startNode({ name: 'p1', config: TEST_ACCOUNTS });
    const p2 = await startNode({ name: 'p2', routes: [seed.routeUrl], config: TEST_ACCOUNTS });
    // The Go node knows only the Petrel seed and finds p2 through Petrel's gossip.
    const go = await startNode({ name: 'g1', go: true, routes: [seed.routeUrl], config: TEST_ACCOUNTS });
    nodes = [go, seed, p2];
    await fullMesh(nodes);
  });

  it('forms the full mesh', async () => {
    expect((await routesOf(nodes[0]!)).num).toBe(2);
  });

  crossNodeChecks('go + 2 petrel', () => nodes);
});

describe.runIf(HAS_GO)('a Petrel node joins a cluster of two Go nodes', () => {
  const started = new StartedNodes();
  const startNode = (spec: NodeSpec) => started.start(spec);
  afterAll(() => started.stopAll());
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    const g1 = await startNode({ name: 'g1', go: true, config: TEST_ACCOUNTS });
    const g2 = await startNode({ name: 'g2', go: true, routes: [g1.routeUrl], config: TEST_ACCOUNTS });
    // Petrel knows only the first Go node and finds the second through Go's gossip.
    const p1 = await startNode({ name: 'p1', routes: [g1.routeUrl], config: TEST_ACCOUNTS });
    nodes = [p1, g1, g2];
    await fullMesh(nodes);
  });

  it('forms the full mesh', async () => {
    expect((await routesOf(nodes[0]!)).names.sort()).toEqual(['g1', 'g2']);
  });

  crossNodeChecks('petrel + 2 go', () => nodes);
});
