// The chaos runner's command line and the node configs it writes: the commands parse to
// what they say, bad arguments are refused with a message, and the generated config (routes only
// through proxies, nothing advertised) is accepted by Petrel and by the Go nats-server.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeConfig, PETREL_BIN } from '../../chaos/cluster/nodes.ts';
import type { ChaosNode, ClusterSpec } from '../../chaos/cluster/nodes.ts';
import { parseChaosArgs, UsageError } from '../../chaos/run.ts';
import type { ChaosOptions } from '../../chaos/runner.ts';
import { GO_SERVER, HAS_GO } from '../support/cluster.ts';

const parse = (args: string[], env: NodeJS.ProcessEnv = {}): ChaosOptions => {
  const o = parseChaosArgs(args, env);
  if (o === 'help') throw new Error('help');
  return o;
};

describe('npm run chaos arguments', () => {
  it('defaults to 3 nodes, 60 s, every workload and fault, a random seed that the replay line carries', () => {
    const o = parse([]);
    expect(o.nodes).toBe(3);
    expect(o.durationMs).toBe(60_000);
    expect(o.workloads).toEqual(['queue', 'consumer', 'kv', 'core']);
    expect(o.faults).toEqual([]);
    expect(o.server).toBeUndefined();
    expect(Number.isInteger(o.seed)).toBe(true);
    expect(o.replay).toBe(`npm run chaos -- --nodes 3 --time 60 --seed ${o.seed} --workload queue,consumer,kv,core`);
    expect(o.out).toContain(`seed${o.seed}`);
    expect(parse([]).seed).not.toBe(o.seed);
  });

  it("reads the issue's command, and --server for another nats-server", () => {
    const o = parse(['--nodes', '5', '--time', '300', '--seed', '42', '--workload', 'queue', '--faults', 'partition,kill', '--server', '/usr/sbin/nats-server']);
    expect(o).toMatchObject({ nodes: 5, durationMs: 300_000, seed: 42, workloads: ['queue'], faults: ['partition', 'kill'], server: '/usr/sbin/nats-server' });
    expect(o.replay).toBe('npm run chaos -- --nodes 5 --time 300 --seed 42 --workload queue --faults partition,kill --server /usr/sbin/nats-server');
    // Repeated flags add up; workloads keep the suite's order.
    expect(parse(['--workload', 'core', '--workloads', 'kv,queue']).workloads).toEqual(['queue', 'kv', 'core']);
  });

  it('takes Toxiproxy and the hosts from the environment, flags first', () => {
    const env = { TOXIPROXY_URL: 'http://toxiproxy:8474', CHAOS_NODE_HOST: 'chaos' };
    expect(parse([], env)).toMatchObject({ toxiproxyUrl: 'http://toxiproxy:8474', nodeHost: 'chaos', proxyHost: undefined });
    expect(parse(['--toxiproxy', 'http://127.0.0.1:9999'], env).toxiproxyUrl).toBe('http://127.0.0.1:9999');
  });

  it('refuses what it cannot run, saying why', () => {
    const refuse = (args: string[]) => expect(() => parseChaosArgs(args, {}));
    refuse(['--workload', 'bank']).toThrow(new UsageError('unknown workload "bank" (workloads: queue, consumer, kv, core)'));
    refuse(['--nodes', '0']).toThrow('--nodes must be an integer between 1 and 7, got "0"');
    refuse(['--time', '2.5']).toThrow('--time must be an integer');
    refuse(['--faults', 'bridge']).toThrow('the bridge fault needs 5 nodes');
    refuse(['--faults', 'meteor']).toThrow('unknown fault "meteor"');
    refuse(['--fast']).toThrow(UsageError);
    expect(parseChaosArgs(['--help'], {})).toBe('help');
  });
});

describe('node config', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-conf-'));
  const node: ChaosNode = {
    index: 1,
    name: 'n1',
    ports: { client: 14222, cluster: 16222, monitor: 18222 },
    dir,
    storeDir: path.join(dir, 'store'),
    configFile: path.join(dir, 'n1.conf'),
    logFile: path.join(dir, 'n1.log'),
    proc: null,
    exited: Promise.resolve(),
    paused: false,
  };
  const spec = (petrel: boolean): ClusterSpec => ({
    nodes: 3,
    server: petrel ? PETREL_BIN : GO_SERVER,
    petrel,
    dir,
    toxiproxy: null as never,
    proxyHost: '127.0.0.1',
    nodeHost: '127.0.0.1',
  });
  const routes = ['nats-route://127.0.0.1:20001', 'nats-route://127.0.0.1:20002'];
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('routes only to the proxies, advertises nothing reachable, pings often', () => {
    const text = nodeConfig(spec(true), node, routes, '127.0.0.1:1999');
    expect(text).toContain('server_name: n1');
    expect(text).toContain('listen: "127.0.0.1:14222"');
    expect(text).toMatch(/routes: \[\n {4}nats-route:\/\/127\.0\.0\.1:20001\n {4}nats-route:\/\/127\.0\.0\.1:20002\n {2}\]/);
    expect(text).toContain('no_advertise: true');
    expect(text).toContain('advertise: "127.0.0.1:1999"');
    expect(text).toContain('ping_interval: "1s"');
    expect(text).toContain('workers: 1');
    expect(nodeConfig(spec(false), node, routes, '127.0.0.1:1999')).not.toContain('workers');
    // Reached from another host (a Toxiproxy container): listen on every interface.
    expect(nodeConfig({ ...spec(true), nodeHost: 'chaos' }, node, routes, '127.0.0.1:1999')).toContain('listen: "0.0.0.0:14222"');
  });

  it('is a config Petrel accepts', () => {
    fs.writeFileSync(node.configFile, nodeConfig(spec(true), node, routes, '127.0.0.1:1999'));
    expect(execFileSync(PETREL_BIN, ['-t', '-c', node.configFile], { encoding: 'utf8' })).toContain('test is successful');
  });

  it.skipIf(!HAS_GO)('is a config the Go nats-server accepts (skipped without /usr/sbin/nats-server)', () => {
    fs.writeFileSync(node.configFile, nodeConfig(spec(false), node, routes, '127.0.0.1:1999'));
    const r = spawnSync(GO_SERVER, ['-t', '-c', node.configFile], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('is valid');
    expect(r.status).toBe(0);
  });
});
