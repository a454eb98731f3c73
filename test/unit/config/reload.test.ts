import { describe, expect, it } from 'vitest';
import { refusedReloadChanges } from '../../../src/config/reload.ts';
import { confFiles } from './conf-files.ts';

const { load } = confFiles();
const options = (text: string) => load(text).options;

describe('refusedReloadChanges', () => {
  const base = 'port: 4222\ncluster { name: a, port: 6222, routes: ["nats://h:1"], authorization { user: u, password: secret1 } }\n';
  it('lets a reload that leaves the cluster and system account alone go ahead', () => {
    expect(refusedReloadChanges(options(base), options(`${base}max_payload: 2KB\n`))).toEqual([]);
    expect(refusedReloadChanges(options('port: 1'), options('port: 1\ndebug: true'))).toEqual([]);
  });
  it('names each changed cluster key, with values except for secrets and lists', () => {
    const next = base.replace('name: a', 'name: b').replace('port: 6222', 'port: 7000').replace('nats://h:1', 'nats://h:2').replace('secret1', 'secret2');
    expect(refusedReloadChanges(options(base), options(next))).toEqual([
      'cluster name (old=a, new=b)',
      'cluster port (old=6222, new=7000)',
      'cluster routes',
      'cluster authorization',
    ]);
  });
  it('refuses adding or removing the cluster, and a new system account', () => {
    expect(refusedReloadChanges(options('port: 1'), options(base))).toEqual(['cluster (a cluster block was added)']);
    expect(refusedReloadChanges(options(base), options('port: 1'))).toEqual(['cluster (the cluster block was removed)']);
    expect(refusedReloadChanges(options('port: 1'), options('accounts { OPS: {} }\nsystem_account: OPS'))).toEqual([
      'system_account (old=$SYS, new=OPS)',
    ]);
  });
});
