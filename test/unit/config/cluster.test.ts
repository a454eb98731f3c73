// The cluster block, the cluster flags and the system account: nats-server's keys, defaults
// and messages, each error at its file position or flag.

import { describe, expect, it } from 'vitest';
import { confFiles } from './conf-files.ts';

const { resolve, load, loadError } = confFiles();

describe('cluster defaults', () => {
  it('no cluster block and no --cluster: no cluster', () => {
    expect(resolve([]).options.cluster).toBeUndefined();
    expect(resolve(['--cluster_name', 'c', '--no_advertise']).options.cluster).toBeUndefined();
  });
  it('an empty block listens on 0.0.0.0:6222 with 2.10 pooling defaults and no auth', () => {
    const { options, warnings } = load('cluster {}');
    expect(warnings).toEqual([]);
    expect(options.cluster).toEqual({ name: '', host: '0.0.0.0', port: 6222, noAdvertise: false, routes: [], connectRetries: 0, poolSize: 3 });
  });
  it('reads every key', () => {
    const { options, warnings } = load(`
cluster {
  name: east
  host: 127.0.0.1
  port: -1
  advertise: "east-1.example.com:7244"
  no_advertise: true
  connect_retries: 10
  pool_size: 5
  routes: [
    nats-route://ruser:T0p@10.0.0.2:6222
    "nats://10.0.0.3:6222"
    "10.0.0.4:6222"
    "tls://[::1]:6222"
  ]
  authorization { user: ruser, password: T0p, timeout: 0.5 }
  permissions { import: ["a.>"], export: { allow: ["b.>"], deny: ["b.secret"] } }
}`);
    expect(warnings).toEqual([]);
    expect(options.cluster).toEqual({
      name: 'east',
      host: '127.0.0.1',
      port: -1,
      advertise: 'east-1.example.com:7244',
      noAdvertise: true,
      routes: ['nats-route://ruser:T0p@10.0.0.2:6222', 'nats://10.0.0.3:6222', '10.0.0.4:6222', 'tls://[::1]:6222'],
      connectRetries: 10,
      poolSize: 5,
      authorization: { user: 'ruser', password: 'T0p', timeoutMs: 500 },
      permissions: { import: { allow: ['a.>'] }, export: { allow: ['b.>'], deny: ['b.secret'] } },
    });
    // Kept on ServerOptions for code that reads the flag there.
    expect(options.noAdvertise).toBe(true);
  });
  it('listen sets host and port; aliases cluster_advertise and net', () => {
    expect(load('cluster { listen: "127.0.0.2:7000" }').options.cluster).toMatchObject({ host: '127.0.0.2', port: 7000 });
    expect(load('cluster { listen: 7001 }').options.cluster).toMatchObject({ host: '0.0.0.0', port: 7001 });
    expect(load('cluster { listen: "0.0.0.0:7002", port: 7002, host: "0.0.0.0" }').options.cluster).toMatchObject({ port: 7002 });
    expect(load('cluster { net: 10.1.1.1, cluster_advertise: "h" }').options.cluster).toMatchObject({ host: '10.1.1.1', advertise: 'h' });
  });
  it('pool_size: 0 is the default of 3, any negative disables pooling (-1)', () => {
    expect(load('cluster { pool_size: 0 }').options.cluster?.poolSize).toBe(3);
    expect(load('cluster { pool_size: -7 }').options.cluster?.poolSize).toBe(-1);
  });
  it('route TLS always verifies peers, and the auth timeout then defaults to the TLS timeout + 1s', () => {
    const { options } = load('cluster { tls { cert_file: s.pem, key_file: s.key, ca_file: ca.pem, timeout: 3 }, authorization { user: a, password: b } }');
    expect(options.cluster?.tls).toEqual({ certFile: 's.pem', keyFile: 's.key', caFile: 'ca.pem', verify: true, timeoutMs: 3000, handshakeFirst: false });
    expect(options.cluster?.authorization).toEqual({ user: 'a', password: 'b', timeoutMs: 4000 });
    expect(load('cluster { authorization { user: a, password: b } }').options.cluster?.authorization?.timeoutMs).toBe(2000);
  });
  it('permissions inside authorization still work, with the deprecation warning, and lose to the block ones', () => {
    const old = load('cluster { authorization { user: a, password: b, permissions: { import: "x", export: "y" } } }');
    expect(old.options.cluster?.permissions).toEqual({ import: { allow: ['x'] }, export: { allow: ['y'] } });
    expect(old.warnings).toEqual([expect.stringMatching(/1:11: cluster.authorization: setting "permissions" within cluster authorization block is deprecated/)]);
    const both = load('cluster { permissions: { import: "z" }, authorization { user: a, password: b, permissions: { import: "x" } } }');
    expect(both.options.cluster?.permissions).toEqual({ import: { allow: ['z'] } });
  });
});

describe('cluster config errors name file, line and key', () => {
  it('a bad route URL, at its array element, with the password hidden', () => {
    const { err, path } = loadError('cluster {\n  routes: [\n    "nats://a:6222"\n    "nats-route://u:s3cret@b:x"\n  ]\n}');
    expect(err.message).toBe(`${path}:4:5: cluster.routes[1]: error parsing route url ["nats-route://u:xxxxx@b:x"]: invalid port ":x" after host`);
    expect(err.message).not.toContain('s3cret');
  });
  it.each([
    ['cluster { routes: ["nats://a"] }', /cluster.routes\[0\]: error parsing route url \["nats:\/\/a"\]: missing port in address/],
    ['cluster { routes: ["http://a:1"] }', /error parsing route url \["http:\/\/a:1"\]: unsupported scheme "http"/],
    ['cluster { routes: ["nats://a b:1"] }', /error parsing route url \["nats:\/\/a b:1"\]: invalid character " " in host name/],
    ['cluster { routes: ["nats://a:70000"] }', /error parsing route url \["nats:\/\/a:70000"\]: port 70000 is out of range/],
    ['cluster { routes: ["nats://:1"] }', /missing host/],
    ['cluster { routes: [5] }', /cluster.routes\[0\]: error parsing route url: expected a string, got integer/],
    ['cluster { routes: "nats://a:1" }', /1:11: cluster.routes: Expected routes to be an array, got string/],
    ['cluster { name: "a b" }', /1:11: cluster.name: cluster name cannot contain spaces/],
    ['cluster { name: 5 }', /cluster.name: expected a string, got integer/],
    ['cluster { port: 70000 }', /1:11: cluster.port: must be a port between -1 and 65535 \(-1 picks a free port\): value was 70000/],
    ['cluster { port: "x" }', /cluster.port: must be a port between -1 and 65535/],
    ['cluster { listen: "a:b:c" }', /cluster.listen: could not parse address string "a:b:c"/],
    ['cluster { listen: "0.0.0.0:6222", port: 7000 }', /1:35: cluster.port: port 7000 conflicts with cluster.listen \(6222\); give the cluster port once/],
    ['cluster { host: "10.0.0.1", listen: "10.0.0.2:6222" }', /cluster.listen: host "10.0.0.2" conflicts with cluster.host \("10.0.0.1"\)/],
    ['cluster { authorization { users: [ { user: a, password: b } ] } }', /1:11: cluster.authorization: Cluster authorization does not allow multiple users/],
    ['cluster { authorization { token: t } }', /cluster.authorization: Cluster authorization does not support tokens/],
    ['cluster { authorization: 5 }', /cluster.authorization: Expected authorization to be a map, got integer/],
    ['cluster { authorization { user: a, timeout: "x" } }', /cluster.authorization.timeout: error parsing authorization config, 'timeout' time: invalid duration "x"/],
    ['cluster { permissions { import: "a", allow_responses: true } }', /cluster.permissions: Cluster permissions do not support dynamic responses/],
    ['cluster { permissions { export: "a q" } }', /cluster.permissions: cluster export allow: subject "a q" is not a valid subject/],
    ['cluster { permissions { imports: "a" } }', /cluster.permissions.imports: Unknown field "imports" parsing permissions/],
    ['cluster { tls { cert_file: a } }', /cluster.tls: missing 'key_file' in tls configuration/],
    ['cluster { advertise: "a:b:c" }', /cluster.advertise: invalid Cluster.Advertise value of a:b:c, expected host or host:port/],
    ['cluster { no_advertise: maybe }', /cluster.no_advertise: expected a boolean, got string/],
    ['cluster { connect_retries: -1 }', /cluster.connect_retries: must be an integer >= 0/],
    ['cluster { pool_size: 1.5 }', /cluster.pool_size: must be an integer/],
    ['cluster: 5', /1:1: cluster: Expected map to define cluster, got integer/],
  ])('%j', (text, message) => {
    expect(loadError(text).err.message).toMatch(message);
  });
});

describe('cluster warnings', () => {
  it('unknown keys and keys Petrel does not serve are warnings, as in other blocks; a used variable is neither', () => {
    const { warnings, options } = load('cluster {\n  colour: blue\n  compression: s2_auto\n  P: 6333\n  port: $P\n}');
    expect(warnings).toEqual([
      expect.stringMatching(/:2:3: cluster.colour: unknown field "colour", ignored$/),
      expect.stringMatching(/:3:3: cluster.compression: cluster field "compression" is not supported by Petrel, ignored$/),
    ]);
    expect(options.cluster?.port).toBe(6333);
  });
  it('a duplicate route is dropped with nats-server\'s warning', () => {
    const { warnings, options } = load('cluster { routes: ["nats://a:1", "nats://a:1"] }');
    expect(options.cluster?.routes).toEqual(['nats://a:1']);
    expect(warnings).toEqual([expect.stringMatching(/1:34: cluster.routes\[1\]: Duplicate route entry detected: "nats:\/\/a:1", ignored/)]);
  });
});

describe('cluster flags', () => {
  it('--cluster, --routes, --cluster_name, --cluster_advertise, --no_advertise, --connect_retries', () => {
    const { options } = resolve([
      '--cluster', 'nats://127.0.0.1:-1', '--routes', 'nats://a:1, nats-route://b:2', '--cluster_name', 'c',
      '--cluster_advertise', 'me.example:7000', '--no_advertise', '--connect_retries', '4',
    ]);
    expect(options.cluster).toEqual({
      name: 'c', host: '127.0.0.1', port: -1, advertise: 'me.example:7000', noAdvertise: true,
      routes: ['nats://a:1', 'nats-route://b:2'], connectRetries: 4, poolSize: 3,
    });
  });
  it('--cluster_listen is --cluster; an empty host listens everywhere', () => {
    expect(resolve(['--cluster_listen', 'nats://:6300']).options.cluster).toMatchObject({ host: '0.0.0.0', port: 6300 });
  });
  it('--cluster credentials become the route user; without them the file\'s are cleared, as nats-server', () => {
    expect(resolve(['--cluster', 'nats://ru:rp@127.0.0.1:6222']).options.cluster?.authorization).toEqual({ user: 'ru', password: 'rp', timeoutMs: 2000 });
    const file = 'cluster { port: 6222, authorization { user: a, password: b } }';
    expect(load(file).options.cluster?.authorization).toMatchObject({ user: 'a' });
    expect(load(file, ['--cluster', 'nats://127.0.0.1:6300']).options.cluster).toMatchObject({ port: 6300 });
    expect(load(file, ['--cluster', 'nats://127.0.0.1:6300']).options.cluster?.authorization).toBeUndefined();
  });
  it('flags win over the file; an empty --cluster turns clustering off, an empty --routes clears the routes', () => {
    const file = 'cluster { name: file, port: 6222, routes: ["nats://f:1"] }';
    expect(load(file, ['--cluster_name', 'flag', '--routes', 'nats://g:2']).options.cluster).toMatchObject({ name: 'flag', routes: ['nats://g:2'] });
    expect(load(file, ['--routes', '']).options.cluster?.routes).toEqual([]);
    expect(load(file, ['--cluster', '']).options.cluster).toBeUndefined();
  });
  it.each([
    [['--routes', 'nats://a:1'], '--routes: solicited routes require cluster capabilities, e.g. --cluster'],
    [['--cluster', '', '--routes', 'nats://a:1'], '--routes: solicited routes require cluster capabilities, e.g. --cluster'],
    [['--cluster', 'nats://127.0.0.1:1', '--routes', 'nats://a:1,nats://b'], '--routes: error parsing route url ["nats://b"]: missing port in address'],
    [['--cluster', 'nats://127.0.0.1'], '--cluster: could not parse cluster URL "nats://127.0.0.1": missing port in address'],
    [['--cluster', 'nats://127.0.0.1:x'], '--cluster: could not parse cluster URL "nats://127.0.0.1:x": invalid port ":x" after host'],
    [['--cluster', 'nats://127.0.0.1:70000'], '--cluster: could not parse cluster URL "nats://127.0.0.1:70000": port 70000 is out of range (1-65535)'],
    [['--cluster', 'nats://u:pw@h b:1'], '--cluster: could not parse cluster URL "nats://u:xxxxx@h b:1": invalid character " " in host name'],
    [['--cluster', 'nats://u@127.0.0.1:6222'], '--cluster: expected cluster password to be set'],
    [['--cluster', 'nats://127.0.0.1:1', '--cluster_name', 'a b'], '--cluster_name: cluster name cannot contain spaces'],
    [['--cluster', 'nats://127.0.0.1:1', '--cluster_advertise', 'a:b:c'], '--cluster_advertise: invalid Cluster.Advertise value of a:b:c'],
    [['--cluster', 'nats://127.0.0.1:1', '--connect_retries', '-2'], '--connect_retries: must be an integer >= 0'],
  ])('%j', (args, message) => {
    expect(() => resolve(args)).toThrow(message);
  });
});

describe('system account', () => {
  it('is $SYS unless named or turned off, as nats-server', () => {
    expect(resolve([]).options.systemAccount).toBe('$SYS');
    expect(load('system_account: "SYS_X"\naccounts { SYS_X: {} }').options.systemAccount).toBe('SYS_X');
    expect(load('accounts { OPS: {} }\nsystem: OPS').options.systemAccount).toBe('OPS');
    for (const key of ['no_system_account', 'no_system', 'no_sys_acc']) {
      expect(load(`${key}: true`).options.systemAccount).toBe('');
    }
    // A named system account wins over no_system_account.
    expect(load('accounts { OPS: {} }\nsystem_account: OPS\nno_system_account: true').options.systemAccount).toBe('OPS');
    expect(load('system_account: "$SYS"').options.systemAccount).toBe('$SYS');
  });
  it.each([
    ['system_account: 5', /1:1: system_account: system account name must be a string/],
    ['system_account: OPS', /1:1: system_account: error resolving system account: account "OPS" missing/],
    ['accounts { A: {} }\nsystem_account: OPS', /2:1: system_account: error resolving system account: account "OPS" missing/],
    ['no_sys_acc: 5', /1:1: no_sys_acc: must be of type Boolean/],
  ])('%j', (text, message) => {
    expect(loadError(text).err.message).toMatch(message);
  });
});
