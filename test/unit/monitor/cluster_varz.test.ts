import { describe, expect, it } from 'vitest';
import { clusterVarz } from '../../../src/monitor/cluster_varz.ts';
import { confFiles } from '../config/conf-files.ts';

const { load } = confFiles();

describe('/varz cluster', () => {
  it('is what nats-server 2.9.10 reports for the same block (route credentials and schemes dropped)', () => {
    const { cluster } = load('cluster { name: abc, listen: 127.0.0.1:16299, routes: [nats-route://u:p@127.0.0.1:16298, "nats://127.0.0.1:16297"] }').options;
    // Captured from /usr/sbin/nats-server -c <the same config>.
    expect(clusterVarz(cluster)).toEqual({
      name: 'abc', addr: '127.0.0.1', cluster_port: 16299, auth_timeout: 2, urls: ['127.0.0.1:16298', '127.0.0.1:16297'], tls_timeout: 2,
    });
  });
  it('reports TLS, the derived auth timeout and the bound port', () => {
    const { cluster } = load('cluster { port: -1, tls { cert_file: a, key_file: b, timeout: 4 } }').options;
    expect(clusterVarz(cluster)).toEqual({ addr: '0.0.0.0', auth_timeout: 5, tls_timeout: 4, tls_required: true, tls_verify: true });
    expect(clusterVarz(cluster, 40000)).toMatchObject({ cluster_port: 40000 });
  });
  it('is empty without a cluster', () => {
    expect(clusterVarz(undefined)).toEqual({});
  });
});
