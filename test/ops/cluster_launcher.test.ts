// `npm run cluster`: the launcher starts every node, each node's monitoring answers with its own
// name and the cluster's, the nodes form one cluster (each /routez shows the other two, and a
// message published on n1 reaches a subscriber on n3), and a SIGTERM to the launcher leaves no
// node process behind.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { resolveOptions } from '../../src/config/load.ts';
import { freeBasePort, nodeConfig, nodePorts, planTopology } from '../../src/tools/cluster_launcher.ts';
import { ROOT, tempDir } from '../support/server.ts';
import { eventually } from '../support/cluster.ts';

const LAUNCHER = path.join(ROOT, 'src', 'tools', 'cluster_launcher.ts');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Launch {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function runLauncher(args: string[]): Launch {
  const proc = spawn(process.execPath, [LAUNCHER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

async function until(check: () => boolean, what: string, launch: Launch, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (launch.proc.exitCode !== null) throw new Error(`launcher exited (${launch.proc.exitCode}) before ${what}:\n${launch.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${launch.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.reverse()) fn();
  cleanup = [];
});

describe('the generated node config', () => {
  it('is a valid config with the node\'s ports, its own store and routes to the others', () => {
    const dir = tempDir('petrel-launcher-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const ports = [0, 1, 2].map((i) => nodePorts(5000, i));
    const file = path.join(dir, 'n2.conf');
    fs.writeFileSync(file, nodeConfig('n2', ports[1]!, [ports[0]!, ports[2]!], path.join(dir, 'n2')));
    const { options, warnings, action } = resolveOptions(['-t', '-c', file], {});
    expect({ action, warnings }).toEqual({ action: 'test', warnings: [] });
    expect(options).toMatchObject({ serverName: 'n2', host: '127.0.0.1', port: 5001, httpPort: 9001, jetstream: { enabled: true } });
    expect(options.jetstream.storeDir).toBe(path.join(dir, 'n2', 'jetstream'));
    expect(options.cluster).toMatchObject({ name: 'petrel', host: '127.0.0.1', port: 7001, routes: ['nats-route://127.0.0.1:7000', 'nats-route://127.0.0.1:7002'] });
  });
});

describe('the generated configs of the other topologies', () => {
  it('supercluster: two regions of N nodes, each node with the other region as gateway', () => {
    const dir = tempDir('petrel-launcher-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const plans = planTopology('supercluster', 2, 5000);
    expect(plans.map((p) => p.name)).toEqual(['e1', 'e2', 'w1', 'w2']);
    for (const [i, plan] of plans.entries()) {
      const file = path.join(dir, `${plan.name}.conf`);
      fs.writeFileSync(file, plan.config(path.join(dir, plan.name)));
      const { options, warnings } = resolveOptions(['-t', '-c', file], {});
      expect(warnings).toEqual([]);
      const region = i < 2 ? 'east' : 'west';
      expect(options).toMatchObject({ port: 5000 + i, httpPort: 9000 + i, cluster: { name: region, port: 7000 + i }, gateway: { name: region, port: 8000 + i } });
      const otherGateways = i < 2 ? [8002, 8003] : [8000, 8001];
      expect(options.gateway!.gateways).toEqual([{ name: i < 2 ? 'west' : 'east', urls: otherGateways.map((p) => `nats://127.0.0.1:${p}`) }]);
    }
  });

  it('leaf: a hub with a leafnode port and an edge that dials it in account APP', () => {
    const dir = tempDir('petrel-launcher-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const [hub, edge] = planTopology('leaf', 3, 5000).map((plan) => {
      const file = path.join(dir, `${plan.name}.conf`);
      fs.writeFileSync(file, plan.config(path.join(dir, plan.name)));
      const r = resolveOptions(['-t', '-c', file], {});
      expect(r.warnings).toEqual([]);
      return r.options;
    });
    expect(hub).toMatchObject({ serverName: 'hub', port: 5000, jetstream: { domain: 'hub' }, leafnodes: { port: 8000 } });
    expect(edge).toMatchObject({ serverName: 'edge', port: 5001, jetstream: { domain: 'edge' }, leafnodes: { remotes: [{ urls: ['nats-leaf://edge:s3cret@127.0.0.1:8000'], account: 'APP' }] } });
  });
});

describe('npm run cluster', () => {
  it('starts 3 nodes that form one cluster, and SIGTERM stops every one of them', async () => {
    const dir = tempDir('petrel-launcher-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const base = await freeBasePort(3);
    const launch = runLauncher(['--nodes', '3', '--base-port', String(base), '--dir', dir]);
    const pids: number[] = [];
    cleanup.push(() => {
      // Only if the test failed half-way: never leave a node behind.
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      if (launch.proc.exitCode === null) launch.proc.kill('SIGKILL');
    });
    await until(() => launch.output().includes('Press Ctrl-C to stop all nodes.'), 'the cluster to be up', launch);

    const nodes = [...launch.output().matchAll(/^ {2}(n\d+) {2}pid (\d+) {2}(nats:\/\/\S+) {2}(http:\/\/\S+)/gm)].map((m) => ({
      name: m[1]!,
      pid: Number(m[2]),
      clientUrl: m[3]!,
      monitorUrl: m[4]!,
    }));
    pids.push(...nodes.map((n) => n.pid));
    expect(nodes.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
    expect(nodes.map((n) => n.clientUrl)).toEqual([0, 1, 2].map((i) => `nats://127.0.0.1:${base + i}`));
    expect(launch.output()).toContain(`Connect:  ${nodes.map((n) => n.clientUrl).join(',')}`);
    for (const [i, n] of nodes.entries()) {
      expect(n.monitorUrl).toBe(`http://127.0.0.1:${base + 4000 + i}`);
      const varz = (await (await fetch(`${n.monitorUrl}/varz`)).json()) as { server_name: string; port: number; cluster: { name?: string; cluster_port?: number } };
      expect(varz).toMatchObject({ server_name: n.name, port: base + i, cluster: { name: 'petrel', cluster_port: base + 2000 + i } });
      expect(isAlive(n.pid)).toBe(true);
      expect(fs.existsSync(path.join(dir, n.name, 'jetstream'))).toBe(true);
    }

    // Up means meshed: the launcher printed the URLs only once every node had its two routes.
    const ids = await Promise.all(nodes.map(async (n) => ((await (await fetch(`${n.monitorUrl}/varz`)).json()) as { server_id: string }).server_id));
    for (const [i, n] of nodes.entries()) {
      const routez = (await (await fetch(`${n.monitorUrl}/routez`)).json()) as { num_routes: number; routes: { remote_id: string }[] };
      expect(routez.num_routes).toBe(2);
      expect(routez.routes.map((r) => r.remote_id).sort()).toEqual(ids.filter((_, j) => j !== i).sort());
    }
    const [pub, sub] = await Promise.all([connect({ servers: nodes[0]!.clientUrl }), connect({ servers: nodes[2]!.clientUrl })]);
    cleanup.push(() => void Promise.all([pub.close(), sub.close()]));
    const got = new Promise<string>((resolve) => sub.subscribe('launcher.hello', { max: 1, callback: (_e, m) => resolve(m.string()) }));
    await sub.flush();
    await eventually('n1 sees n3\'s interest', async () => {
      const r = (await (await fetch(`${nodes[0]!.monitorUrl}/routez?subs=1`)).json()) as { routes: { subscriptions_list?: string[] }[] };
      return r.routes.some((x) => x.subscriptions_list?.includes('launcher.hello'));
    });
    pub.publish('launcher.hello', 'from n1');
    expect(await got).toBe('from n1');
    await Promise.all([pub.close(), sub.close()]);

    launch.proc.kill('SIGTERM');
    expect(await launch.exited).toBe(0);
    expect(launch.output()).toContain('All nodes stopped.');
    expect(nodes.filter((n) => isAlive(n.pid)).map((n) => n.name)).toEqual([]);
  }, 90_000);

  it('refuses ports that are taken, starting nothing', async () => {
    const dir = tempDir('petrel-launcher-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const base = await freeBasePort(1);
    const net = await import('node:net');
    const blocker = net.createServer().listen(base + 2000, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    cleanup.push(() => blocker.close());
    const launch = runLauncher(['--nodes', '1', '--base-port', String(base), '--dir', dir]);
    expect(await launch.exited).toBe(1);
    expect(launch.output()).toContain(`port ${base + 2000} already in use`);
    expect(fs.existsSync(path.join(dir, 'n1'))).toBe(false);
  });

  it('--topology leaf starts a hub and an edge that connects to it', async () => {
    const dir = tempDir('petrel-launcher-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const base = await freeBasePort(2, 'leaf');
    const launch = runLauncher(['--topology', 'leaf', '--base-port', String(base), '--dir', dir]);
    const pids: number[] = [];
    cleanup.push(() => {
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      if (launch.proc.exitCode === null) launch.proc.kill('SIGKILL');
    });
    await until(() => launch.output().includes('Press Ctrl-C to stop all nodes.'), 'the hub and edge to be up', launch);
    pids.push(...[...launch.output().matchAll(/ pid (\d+) /g)].map((m) => Number(m[1])));
    expect(pids).toHaveLength(2);
    expect(launch.output()).toContain(`Leafs:    curl http://127.0.0.1:${base + 4000}/leafz`);
    const deadline = Date.now() + 20_000;
    let leafz: { leafnodes: number; leafs: { account: string }[] } = { leafnodes: 0, leafs: [] };
    while (leafz.leafnodes !== 1 && Date.now() < deadline) {
      leafz = (await (await fetch(`http://127.0.0.1:${base + 4000}/leafz`)).json()) as typeof leafz;
      if (leafz.leafnodes !== 1) await new Promise((r) => setTimeout(r, 100));
    }
    expect(leafz.leafs.map((l) => l.account)).toEqual(['APP']);
    launch.proc.kill('SIGTERM');
    expect(await launch.exited).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
  }, 90_000);

  it('rejects bad arguments with the usage', async () => {
    const launch = runLauncher(['--nodes', 'x']);
    expect(await launch.exited).toBe(2);
    expect(launch.output()).toContain('--nodes must be an integer between 1 and 64, got "x"');
    expect(launch.output()).toContain('Usage: npm run cluster');
    const bad = runLauncher(['--topology', 'ring']);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain('--topology must be one of cluster, supercluster, leaf, got "ring"');
  });
});
