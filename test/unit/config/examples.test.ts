// The example configs in conf/ are documentation a user copies: each must pass `-t` without a
// warning, and the cluster examples must describe the topology their comments promise.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../../src/config/load.ts';
import { ROOT } from '../../support/server.ts';

const CONF = join(ROOT, 'conf');

function confFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.conf'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function check(file: string) {
  const r = resolveOptions(['-t', '-c', file], {});
  expect(r.action).toBe('test');
  expect(r.warnings).toEqual([]);
  return r.options;
}

describe('conf/ examples', () => {
  it.each(confFilesUnder(CONF).map((f) => [f.slice(CONF.length + 1), f]))('%s passes -t without warnings', (_name, file) => {
    check(file);
  });

  it.each([3, 5])('the %i-node example: ports 4221+k / 6221+k / 8221+k, JetStream per node, routes to every other node', (size) => {
    for (let k = 1; k <= size; k++) {
      const o = check(join(CONF, `cluster-${size}`, `n${k}.conf`));
      expect(o).toMatchObject({ serverName: `n${k}`, port: 4221 + k, httpPort: 8221 + k, jetstream: { enabled: true } });
      expect(o.jetstream.storeDir).toBe(join('data', `cluster-${size}`, `n${k}`, 'jetstream'));
      expect(o.cluster).toMatchObject({ name: `petrel-${size}`, port: 6221 + k });
      const others = Array.from({ length: size }, (_, i) => i + 1).filter((i) => i !== k);
      expect(o.cluster?.routes).toEqual(others.map((i) => `nats-route://127.0.0.1:${6221 + i}`));
    }
  });

  it('docker-compose.yml runs n1, n2, n3 from conf/docker with routes by service name', () => {
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    for (const k of [1, 2, 3]) {
      expect(compose).toContain(`command: ["-c", "/app/conf/docker/n${k}.conf"]`);
      expect(compose).toContain(`"${4221 + k}:4222"`);
      expect(compose).toContain(`"${8221 + k}:8222"`);
      expect(compose).toContain(`n${k}-data:/data`);
      const o = check(join(CONF, 'docker', `n${k}.conf`));
      expect(o).toMatchObject({ serverName: `n${k}`, port: 4222, httpPort: 8222, jetstream: { enabled: true, storeDir: '/data/jetstream' } });
      expect(o.cluster?.routes).toEqual([1, 2, 3].filter((i) => i !== k).map((i) => `nats-route://n${i}:6222`));
    }
  });

  it('the super-cluster example: regions east (e1, e2) and west (w1, w2), each node with the other region as gateway', () => {
    const regions = { east: ['e1', 'e2'], west: ['w1', 'w2'] } as const;
    for (const [region, nodes] of Object.entries(regions)) {
      const other = region === 'east' ? 'west' : 'east';
      const base = region === 'east' ? 4240 : 4250;
      nodes.forEach((name, i) => {
        const o = check(join(CONF, 'supercluster', `${name}.conf`));
        const port = base + i + 1;
        expect(o).toMatchObject({ serverName: name, port, httpPort: port + 4000 });
        expect(o.cluster).toMatchObject({ name: region, port: port + 2000 });
        expect(o.gateway).toMatchObject({ name: region, port: port + 3000, gateways: [{ name: other }] });
        expect(o.gateway!.gateways[0]!.urls).toHaveLength(2);
      });
    }
  });

  it('the leaf example: the edge dials the hub in account APP, each with its JetStream domain', () => {
    const hub = check(join(CONF, 'leaf', 'hub.conf'));
    const edge = check(join(CONF, 'leaf', 'edge.conf'));
    expect(hub).toMatchObject({ port: 4261, jetstream: { domain: 'hub' }, leafnodes: { port: 7461, authorization: { users: [{ user: 'edge', account: 'APP' }] } } });
    expect(edge).toMatchObject({ port: 4262, jetstream: { domain: 'edge' }, leafnodes: { port: 0, remotes: [{ urls: ['nats-leaf://edge:s3cret@127.0.0.1:7461'], account: 'APP' }] } });
  });

  const compose = existsSync('/usr/bin/docker-compose') ? '/usr/bin/docker-compose' : null;
  it.runIf(compose !== null).each(['docker-compose.yml', 'conf/docker/supercluster.yml', 'conf/docker/leaf.yml'])('%s passes docker-compose config -q', (file) => {
    execFileSync(compose!, ['-f', join(ROOT, file), 'config', '-q'], { stdio: 'pipe' });
  });
  it.skipIf(compose !== null)('docker-compose files: skipped, docker-compose is not installed', () => {});

  it('the super-cluster and leaf compose files run their nodes from conf/docker by service name', () => {
    const sc = readFileSync(join(CONF, 'docker', 'supercluster.yml'), 'utf8');
    for (const n of ['e1', 'e2', 'w1', 'w2']) {
      expect(sc).toContain(`command: ["-c", "/app/conf/docker/supercluster/${n}.conf"]`);
      const o = check(join(CONF, 'docker', 'supercluster', `${n}.conf`));
      expect(o.gateway!.gateways[0]!.urls.every((u) => /^nats:\/\/[ew][12]:7222$/.test(u))).toBe(true);
    }
    const lf = readFileSync(join(CONF, 'docker', 'leaf.yml'), 'utf8');
    expect(lf).toContain('command: ["-c", "/app/conf/docker/leaf/hub.conf"]');
    expect(check(join(CONF, 'docker', 'leaf', 'edge.conf')).leafnodes!.remotes[0]!.urls).toEqual(['nats-leaf://edge:s3cret@hub:7422']);
  });
});
