// Routes over TLS (cluster.tls), mutual and verified as nats-server does it, between Petrel
// nodes and with a Go node when one is installed; a node without the cluster's TLS stays out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { eventually, fullMesh, HAS_GO, routesOf, StartedNodes } from '../../support/cluster.ts';
import type { NodeSpec } from '../../support/cluster.ts';
import type { ClusterNode } from '../../support/cluster.ts';
import { tempDir } from '../../support/server.ts';
import { makeTestPki } from '../tls_certs.ts';
import type { TestPki } from '../tls_certs.ts';
import { remoteInterest } from './cross_node.ts';
import { collect } from '../util.ts';

describe('routes over TLS', () => {
  const started = new StartedNodes();
  const startNode = (spec: NodeSpec) => started.start(spec);
  afterAll(() => started.stopAll());
  let pki: TestPki;
  let nodes: ClusterNode[] = [];
  const tls = () => `tls { cert_file: "${pki.nodeCert}", key_file: "${pki.nodeKey}", ca_file: "${pki.caFile}", timeout: 2 }`;
  beforeAll(async () => {
    pki = makeTestPki(tempDir('petrel-route-tls-'));
    const seed = await startNode({ name: 't1', clusterName: 'ct', workers: 1, clusterExtra: tls() });
    const others = [startNode({ name: 't2', clusterName: 'ct', workers: 1, routes: [seed.routeUrl], clusterExtra: tls() })];
    // A Go node in the same TLS cluster, when installed: the handshake is nats-server's.
    if (HAS_GO) others.push(startNode({ name: 'tg', go: true, clusterName: 'ct', routes: [seed.routeUrl], clusterExtra: tls() }));
    nodes = [seed, ...(await Promise.all(others))];
    await fullMesh(nodes);
  });

  it(`form a full mesh and carry messages (${HAS_GO ? 'with' : 'without'} a Go node)`, async () => {
    const last = nodes[nodes.length - 1]!;
    const sub = await connect({ servers: `127.0.0.1:${last.port}` });
    const pub = await connect({ servers: `127.0.0.1:${nodes[0]!.port}` });
    const s = sub.subscribe('secure.>');
    await sub.flush();
    await remoteInterest(nodes[0]!, 'secure.>');
    pub.publish('secure.hello', 'over tls');
    expect((await collect(s, 1))[0]!.string()).toBe('over tls');
    const varz = await fetch(`http://127.0.0.1:${nodes[0]!.httpPort}/varz`).then((r) => r.json() as Promise<{ cluster: Record<string, unknown> }>);
    expect(varz.cluster).toMatchObject({ tls_required: true, tls_verify: true, tls_timeout: 2 });
    await Promise.all([sub.close(), pub.close()]);
  });

  it('keeps out a node that does not speak TLS on its routes', async () => {
    const plain = await startNode({ name: 'tp', clusterName: 'ct', workers: 1, routes: [nodes[0]!.routeUrl] });
    await eventually('the failed handshake is logged', async () => /TLS Handshake Error|Route connection closed/.test(nodes[0]!.output()));
    expect((await routesOf(plain)).num).toBe(0);
    expect((await routesOf(nodes[0]!)).names).not.toContain('tp');
  });
});
