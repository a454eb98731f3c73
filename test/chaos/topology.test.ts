// The chaos cluster's links really run through the proxies: with n0 and n1 cut apart, a third node
// restarting makes the others gossip about each other (implicit routes), and the route those
// would dial is the advertised address, which leads nowhere — so the cut holds. Without the
// advertised sink the gossiped route goes straight to the peer's route port and heals the
// partition behind the suite's back (both Petrel and nats-server 2.9 do this).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Toxiproxy } from 'toxiproxy-node-client';
import { describe, expect, it } from 'vitest';
import { ChaosCluster, PETREL_BIN } from '../../chaos/cluster/nodes.ts';
import { fullMesh, monitor, settle } from '../../chaos/cluster/replicas.ts';
import { ToxiproxyNetwork } from '../../chaos/faults/network.ts';
import { linksBetween } from '../../chaos/faults/schedule.ts';
import { startToxiproxy } from '../../chaos/toxiproxy/server.ts';
import { GO_SERVER, HAS_GO } from '../support/cluster.ts';

const BOUND_MS = 45_000;

async function routeCounts(c: ChaosCluster): Promise<number[]> {
  return Promise.all(c.members.map(async (_, i) => Number((await monitor(c, i, '/routez'))['num_routes'])));
}

async function partialCutHolds(server: string, petrel: boolean): Promise<void> {
  const tp = await startToxiproxy({ port: 0 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-topology-'));
  let c: ChaosCluster | null = null;
  try {
    const client = new Toxiproxy(tp.url);
    c = await ChaosCluster.start({ nodes: 3, server, petrel, dir, toxiproxy: client, proxyHost: '127.0.0.1', nodeHost: '127.0.0.1' });
    const cluster = c;
    expect(await settle(() => fullMesh(cluster), BOUND_MS)).toBeNull();

    await new ToxiproxyNetwork(client).drop('cut', linksBetween([0], [1]));
    const cut = async () => ((await routeCounts(cluster)).join() === '1,1,2' ? null : 'routes not yet cut');
    expect(await settle(cut, BOUND_MS)).toBeNull();

    const hits = cluster.sinkHits;
    await cluster.kill(2);
    await cluster.start(2);
    // n2 is back on both sides and one side was told about the other: that route went to the sink.
    expect(await settle(async () => ((await routeCounts(cluster))[2] === 2 && cluster.sinkHits > hits ? null : 'no gossip yet'), BOUND_MS)).toBeNull();
    expect(await routeCounts(cluster)).toEqual([1, 1, 2]);

    await new ToxiproxyNetwork(client).healAll();
    expect(await settle(() => fullMesh(cluster), BOUND_MS)).toBeNull();
  } finally {
    await c?.stop();
    await tp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('chaos cluster topology', () => {

  it('a cut between two Petrel nodes holds when the third restarts and gossips', { timeout: 120_000 }, async () => {
    await partialCutHolds(PETREL_BIN, true);
  });

  it.skipIf(!HAS_GO)('the same with the Go nats-server (skipped without /usr/sbin/nats-server)', { timeout: 60_000 }, async () => {
    await partialCutHolds(GO_SERVER, false);
  });
});
