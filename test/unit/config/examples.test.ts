// The example configs in conf/ are documentation a user copies: each must pass `-t` without a
// warning, and the cluster examples must describe the topology their comments promise.

import { readdirSync, readFileSync } from 'node:fs';
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
});
