import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, resolveOptions } from '../../../src/config/load.ts';
import { positionOf } from '../../../src/config/parser.ts';
import { FACTS, confFiles } from './conf-files.ts';

const { dir, confFile, resolve, load, loadError } = confFiles();

describe('the nats.js test-suite config', () => {
  it('loads', () => {
    const { options, warnings } = load(`
port: -1
http: "127.0.0.1:-1"
ports_file_dir: "/tmp/xyz"
server_tags: ["a", "b"]
jetstream { store_dir: "/tmp/js", max_file_store: 1GB }
leafnodes { listen: "127.0.0.1:-1" }
websocket { port: -1, no_tls: true }
authorization { users: [ { user: a, password: b, permissions: { publish: { allow: ["x.>"] }, subscribe: { deny: "y" } } } ] }
`);
    expect(warnings).toEqual([]);
    expect(options).toMatchObject({
      port: -1,
      httpHost: '127.0.0.1',
      httpPort: -1,
      portsFileDir: '/tmp/xyz',
      serverTags: ['a', 'b'],
      jetstream: { enabled: true, storeDir: '/tmp/js/jetstream', maxFileStore: 1024 ** 3 },
      leafnodes: { host: '127.0.0.1', port: -1, noAdvertise: false, reconnectIntervalMs: 1000, remotes: [] },
      websocket: { host: '0.0.0.0', port: -1, raw: { port: -1, no_tls: true } },
      auth: {
        users: [{ user: 'a', password: 'b', permissions: { publish: { allow: ['x.>'] }, subscribe: { deny: ['y'] } } }],
      },
    });
    expect(options.cluster).toBeUndefined();
  });
});

describe('the layout the nats.js launcher writes', () => {
  // Keys without separators before blocks, unquoted values, one array element per
  // line, nameless `{` for maps inside arrays, closing brackets indented by one space.
  it('loads', () => {
    const text = [
      'port: -1',
      'http: "127.0.0.1:-1"',
      'ports_file_dir: /tmp/nats_ports_1',
      'server_tags [',
      '  a',
      '  b',
      ' ]',
      'jetstream {',
      '  store_dir: /tmp/jetstream_x',
      '  max_file_store: 1073741824',
      ' }',
      'authorization {',
      '  users [',
      '     {',
      '      user: a',
      '      password: b',
      '      permissions {',
      '        publish {',
      '          allow [',
      '            x.>',
      '           ]',
      '         }',
      '       }',
      '     }',
      '   ]',
      ' }',
      'debug: false',
      '',
    ].join('\n');
    const { options, warnings } = load(text);
    expect(warnings).toEqual([]);
    expect(options).toMatchObject({
      port: -1,
      portsFileDir: '/tmp/nats_ports_1',
      serverTags: ['a', 'b'],
      jetstream: { enabled: true, storeDir: '/tmp/jetstream_x/jetstream', maxFileStore: 1024 ** 3 },
      auth: { users: [{ user: 'a', password: 'b', permissions: { publish: { allow: ['x.>'] } } }] },
    });
  });
});

describe('defaults', () => {
  it('match nats-server without a config file', () => {
    const { options, action, warnings } = resolve([]);
    expect(action).toBe('run');
    expect(warnings).toEqual([]);
    expect(options).toEqual({
      serverName: '',
      host: '0.0.0.0',
      port: 4222,
      httpHost: '0.0.0.0',
      httpPort: 0,
      noAdvertise: false,
      serverTags: [],
      systemAccount: '$SYS',
      maxPayload: 1024 * 1024,
      maxControlLine: 4096,
      maxConnections: 64 * 1024,
      maxSubscriptions: 0,
      maxPending: 64 * 1024 * 1024,
      writeDeadlineMs: 10_000,
      pingIntervalMs: 120_000,
      pingMax: 2,
      lameDuckDurationMs: 120_000,
      lameDuckGracePeriodMs: 10_000,
      auth: { users: [], timeoutMs: 2000 },
      logLevel: 'info',
      pretty: false,
      logtime: true,
      workers: 2, // half of the 4 cores in FACTS
      jetstream: {
        enabled: false,
        storeDir: '/tmp/nats/jetstream',
        maxMemoryStore: 6 * 1024 ** 3,
        maxFileStore: 1024 ** 4,
        syncIntervalMs: 0,
      },
    });
  });
  it('make logs pretty on a terminal unless told otherwise', () => {
    expect(resolveOptions([], {}, { ...FACTS, isTTY: true }).options.pretty).toBe(true);
    expect(resolveOptions(['--pretty=false'], {}, { ...FACTS, isTTY: true }).options.pretty).toBe(false);
    expect(resolve(['--pretty']).options.pretty).toBe(true);
  });
});

describe('config keys', () => {
  it('maps server keys and aliases', () => {
    const { options } = load(`
listen: 127.0.0.1:4333
server_name: alpha
monitor_port: 8222
pidfile: /tmp/p.pid
client_advertise: "adv:4222"
no_advertise: true
max_payload: 2MB
max_control_line: 8KB
max_conn: 100
max_subs: 10
max_pending: 128MB
write_deadline: "2s"
ping_interval: "30s"
ping_max: 5
lame_duck_duration: "1m"
lame_duck_grace_period: "5s"
debug: true
logtime: false
logfile: /tmp/x.log
workers: 2
`);
    expect(options).toMatchObject({
      host: '127.0.0.1', port: 4333, serverName: 'alpha', httpHost: '127.0.0.1', httpPort: 8222, pidFile: '/tmp/p.pid',
      clientAdvertise: 'adv:4222', noAdvertise: true, maxPayload: 2 * 1024 ** 2, maxControlLine: 8192, maxConnections: 100,
      maxSubscriptions: 10, maxPending: 128 * 1024 ** 2, writeDeadlineMs: 2000, pingIntervalMs: 30_000, pingMax: 5,
      lameDuckDurationMs: 60_000, lameDuckGracePeriodMs: 5000, logLevel: 'debug', logtime: false, logFile: '/tmp/x.log',
      workers: 2,
    });
  });
  it('reads host/net/port, http as a port and keys in any case', () => {
    expect(load('net: 10.0.0.1\nPORT: 1\nhttp: 8222').options).toMatchObject({ host: '10.0.0.1', port: 1, httpHost: '10.0.0.1', httpPort: 8222 });
    expect(load('host: "::1"\nlisten: "[::1]:5"').options).toMatchObject({ host: '::1', port: 5 });
    expect(load('server_tags: single').options.serverTags).toEqual(['single']);
  });
  it('reads a bare number as seconds for durations, with nats-server\'s warning', () => {
    const { options, warnings } = load('ping_interval: 60');
    expect(options.pingIntervalMs).toBe(60_000);
    expect(warnings).toEqual([expect.stringMatching(/:1:1: ping_interval: invalid use of field "ping_interval": ping_interval should be converted to a duration/)]);
  });
  it('sets trace over debug for the log level', () => {
    expect(load('debug: true\ntrace: true').options.logLevel).toBe('trace');
  });
  it('turns max_connections 0 into -1 (refuse everyone), as nats-server', () => {
    expect(load('max_connections: 0').options.maxConnections).toBe(-1);
  });
});

describe('authorization', () => {
  it('reads a token, timeout as seconds or duration', () => {
    expect(load('authorization { token: s3cr3t, timeout: 1.5 }').options.auth).toEqual({ token: 's3cr3t', users: [], timeoutMs: 1500 });
    expect(load('authorization { user: u, password: p, timeout: "3s" }').options.auth).toEqual({ user: 'u', password: 'p', users: [], timeoutMs: 3000 });
  });
  it('reads a token from a variable without warning about the variable', () => {
    const { options, warnings } = load('TOKEN: abc\nauthorization { token: $TOKEN }');
    expect(options.auth.token).toBe('abc');
    expect(warnings).toEqual([]);
  });
  it('reads a token from the environment', () => {
    expect(load('authorization { token: $NATS_TOKEN }', [], { NATS_TOKEN: 'fromenv' }).options.auth.token).toBe('fromenv');
  });
  it('reads both permission forms, queue subscriptions and allow_responses', () => {
    const { options } = load(`
authorization {
  default_permissions { publish: "def.>" }
  users: [
    { user: a, password: a, permissions: { publish: ["a.>", "b"], subscribe: { allow: ["q.* workers"], deny: "secret.>" } } }
    { user: b, password: b, permissions: { subscribe: "x", allow_responses: true } }
    { user: c, password: c, permissions: { allow_responses: { max: 5, expires: "1m" } } }
    { user: d, password: d }
    { nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4 }
  ]
}`);
    expect(options.auth.users).toEqual([
      { user: 'a', password: 'a', permissions: { publish: { allow: ['a.>', 'b'] }, subscribe: { allow: ['q.* workers'], deny: ['secret.>'] } } },
      { user: 'b', password: 'b', permissions: { subscribe: { allow: ['x'] }, publish: { allow: [] }, allowResponses: { maxMsgs: 1, expiresMs: 120_000 } } },
      { user: 'c', password: 'c', permissions: { publish: { allow: [] }, allowResponses: { maxMsgs: 5, expiresMs: 60_000 } } },
      { user: 'd', password: 'd', permissions: { publish: { allow: ['def.>'] } } },
      { nkey: 'UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4', permissions: { publish: { allow: ['def.>'] } } },
    ]);
  });
  it('adds account users with their account, and checks no_auth_user', () => {
    const { options } = load(`
accounts { A: { users: [ { user: ua, password: p } ] }, B: {} }
authorization { users: [ { user: g, password: p } ] }
no_auth_user: ua
`);
    expect(options.auth.users).toEqual([
      { user: 'ua', password: 'p', account: 'A' },
      { user: 'g', password: 'p' },
    ]);
    expect(options.auth.noAuthUser).toBe('ua');
    expect(options.accounts).toEqual({ A: { users: [{ user: 'ua', password: 'p' }] }, B: {} });
  });
  it.each([
    ['authorization { user: u, token: t }', /3:1: authorization: Cannot have a user\/pass and token/],
    ['authorization { user: u, users: [] }', /authorization: Can not have a single user\/pass and a users array/],
    ['authorization { token: t, users: [] }', /authorization: Can not have a token and a users array/],
    ['authorization { users: { user: a } }', /authorization.users: Expected users field to be an array, got map/],
    ['authorization { users: [ { password: x } ] }', /authorization.users\[0\]: User entry requires a user/],
    ['authorization { users: [ { nkey: UABC } ] }', /authorization.users\[0\]: Not a valid public nkey for a user/],
    ['authorization { users: [ {user: a}, {user: a} ] }', /Duplicate user "a" detected/],
    ['authorization { users: [ {user: a, permissions: { publsh: "x" }} ] }', /authorization.users\[0\].permissions.publsh: Unknown field "publsh" parsing permissions/],
    ['authorization { users: [ {user: a, permissions: { publish: { allw: "x" } }} ] }', /Unknown field name "allw" parsing subject permissions/],
    ['authorization { users: [ {user: a, permissions: { publish: "a..b" }} ] }', /subject "a..b" is not a valid subject/],
    ['authorization { users: [ {user: a, permissions: { publish: "a b" }} ] }', /subject "a b" is not a valid subject/],
    ['authorization { users: [ {user: a, permissions: { allow_responses: 3 }} ] }', /expected a boolean or a map/],
    ['authorization { users: [ {user: a, password: 5} ] }', /authorization.users\[0\].password: expected a string, got integer/],
    ['authorization { timeout: "2x" }', /authorization.timeout: error parsing authorization config, 'timeout' time: unknown unit "x"/],
    ['authorization { users: [ {user: a} ] }\nno_auth_user: b', /4:1: no_auth_user: no_auth_user: "b" not present as user or nkey/],
  ])('rejects %j', (text, message) => {
    expect(loadError(`\n\n${text}`).err.message).toMatch(message);
  });
});

describe('tls', () => {
  it('reads the tls block', () => {
    const { options } = load('tls { cert_file: "./c.pem", key_file: "./k.pem", ca_file: ca.pem, verify: true, timeout: 3, handshake_first: true }');
    expect(options.tls).toEqual({ certFile: './c.pem', keyFile: './k.pem', caFile: 'ca.pem', verify: true, timeoutMs: 3000, handshakeFirst: true });
  });
  it('defaults verify, timeout and handshake_first', () => {
    expect(load('tls { cert_file: c, key_file: k, timeout: "500ms" }').options.tls).toEqual({
      certFile: 'c', keyFile: 'k', verify: false, timeoutMs: 500, handshakeFirst: false,
    });
    expect(load('tls { cert_file: c, key_file: k, handshake_first: "300ms" }').options.tls?.handshakeFirst).toBe(true);
  });
  it('rejects a missing key and a wrong verify type', () => {
    expect(loadError('tls { cert_file: c }').err.message).toMatch(/1:1: tls: missing 'key_file' in tls configuration/);
    expect(loadError('tls { cert_file: c, key_file: k, verify: 2 }').err.message).toMatch(/tls.verify: error parsing tls config, expected 'verify' to be a boolean/);
  });
  it('replaces the file TLS with the flags, or turns it off with --tls=false', () => {
    const file = 'tls { cert_file: c, key_file: k, verify: true }';
    expect(load(file, ['--tlscert', 'fc', '--tlskey', 'fk']).options.tls).toEqual({
      certFile: 'fc', keyFile: 'fk', verify: false, timeoutMs: 2000, handshakeFirst: false,
    });
    expect(load(file, ['--tls=false']).options.tls).toBeUndefined();
    expect(() => resolve(['--tlsverify', '--tlscert', 'c'])).toThrow('--tlskey: TLS Server private key must be present and valid');
    expect(() => resolve(['--tls'])).toThrow('--tlscert: TLS Server certificate must be present and valid');
  });
});

describe('jetstream', () => {
  it.each([
    ['jetstream: true', true],
    ['jetstream: enabled', true],
    ['jetstream: disabled', false],
    ['jetstream: false', false],
    ['jetstream {}', true],
    ['jetstream { enabled: false, store_dir: /x }', false],
  ])('%j enables: %s', (text, enabled) => {
    expect(load(text).options.jetstream.enabled).toBe(enabled);
  });
  it('reads the block', () => {
    const js = load('jetstream { store_dir: /data, max_memory_store: 1G, max_file_store: "10G", domain: hub, sync_interval: "2m" }').options.jetstream;
    expect(js).toEqual({ enabled: true, storeDir: '/data/jetstream', maxMemoryStore: 1e9, maxFileStore: 10 * 1024 ** 3, domain: 'hub', syncIntervalMs: 120_000 });
    expect(load('jetstream { sync_interval: always }').options.jetstream.syncIntervalMs).toBe(0);
    expect(load('jetstream { store_cache: 64MB }').options.jetstream.storeCacheBytes).toBe(64 * 1024 ** 2);
    expect(loadError('jetstream { store_cache: lots }').err.message).toMatch(/store_cache/);
    expect(load('store_dir: "./d"').options.jetstream.storeDir).toBe('d/jetstream');
  });
  it('rejects bad forms', () => {
    expect(loadError('jetstream: maybe').err.message).toMatch(/1:1: jetstream: Expected 'enabled' or 'disabled' for string value, got 'maybe'/);
    expect(loadError('jetstream: 5').err.message).toMatch(/Expected map, bool or string to define JetStream, got integer/);
    expect(loadError('store_dir: /a\njetstream { store_dir: /b }').err.message).toMatch(/2:13: jetstream.store_dir: Duplicate 'store_dir' configuration/);
    expect(loadError('jetstream {\n  max_file_store: true\n}').err.message).toMatch(/2:3: jetstream.max_file_store: max_file_store must be int64 or string/);
  });
});

describe('blocks served later', () => {
  it('keep their listen address and the block as written', () => {
    const { options } = load('mqtt { host: 127.0.0.1, port: 1883, max_ack_pending: 10 }');
    expect(options.mqtt).toMatchObject({ host: '127.0.0.1', port: 1883 });
    // The raw block is the parsed object itself, so later code can still locate keys.
    expect(positionOf(options.mqtt!.raw, 'max_ack_pending')).toMatchObject({ line: 1, column: 37 });
  });
  it('reads cluster no_advertise', () => {
    expect(load('cluster { port: 1, no_advertise: true }').options.noAdvertise).toBe(true);
  });
  it.each([
    ['leafnodes: 5', /leafnodes: Expected map to define a leafnode, got integer/],
    ['websocket { port: 99999 }', /websocket.port: must be a port between -1 and 65535/],
    ['websocket { no_tls: 3 }', /websocket.no_tls: expected a boolean/],
    ['leafnodes { listen: "a:b:c" }', /leafnodes.listen: could not parse address string "a:b:c"/],
    ['gateway { name: "a b" }', /gateway name cannot contain spaces/],
  ])('rejects %j', (text, message) => {
    expect(loadError(text).err.message).toMatch(message);
  });
});

describe('bad values name file, line, column and key', () => {
  it('reports a port out of range at its key', () => {
    const { err, path } = loadError('debug: true\n\n  port: 70000\n');
    expect(err.message).toBe(`${path}:3:3: port: must be a port between -1 and 65535 (-1 picks a free port): value was 70000`);
    expect(err).toMatchObject({ file: path, line: 3, column: 3, key: 'port' });
  });
  it.each([
    ['server_name: 5', /1:1: server_name: must be of type String/],
    ['server_name: "a b"', /server_name: server name cannot contain spaces/],
    ['debug: 7', /debug: must be of type Boolean/],
    ['max_payload: -1', /max_payload: must be a size between 1/],
    ['max_payload: 8GB', /max_payload: must be a size between 1/],
    ['max_pending: 1KB\nmax_payload: 2KB', /2:1: max_payload: max_payload \(2048\) cannot be higher than max_pending \(1024\)/],
    ['ping_max: 0', /ping_max: must be a positive integer/],
    ['workers: 0', /workers: must be an integer between 1 and 1024/],
    ['write_deadline: "abc"', /write_deadline: error parsing write_deadline: time: invalid duration "abc"/],
    ['lame_duck_duration: "10s"', /lame_duck_duration: invalid lame_duck_duration of 10s, minimum is 30 seconds/],
    ['lame_duck_duration: "30s"\nlame_duck_grace_period: "40s"', /lame duck grace period \(40s\) should be strictly lower than lame duck duration \(30s\)/],
    ['http: "nope"', /http: could not parse address string "nope"/],
    ['listen: "h:x"', /listen: could not parse port "x"/],
    ['server_tags: [1]', /server_tags: error parsing tags/],
    ['port: $UNSET', /port: variable reference for 'UNSET' on line 1 can not be found/],
  ])('%j', (text, message) => {
    expect(loadError(text).err.message).toMatch(message);
  });
});

describe('unknown keys', () => {
  it('are warnings, with their position', () => {
    const { warnings, path } = (() => {
      const path = confFile('port: 1\nfoo_bar: 2\nsyslog: true\nmax_conn: 5\n');
      return { ...resolve(['-c', path]), path };
    })();
    expect(warnings).toEqual([
      `${path}:2:1: foo_bar: unknown field "foo_bar", ignored`,
      `${path}:3:1: syslog: field "syslog" is not supported by Petrel, ignored`,
    ]);
  });
  it('inside known blocks are warnings too, except in permissions', () => {
    expect(load('jetstream { cipher: aes }').warnings).toEqual([expect.stringMatching(/jetstream.cipher: jetstream field "cipher" is not supported/)]);
    expect(load('tls { cert_file: c, key_file: k, cipher_suites: [] }').warnings).toHaveLength(1);
  });
});

describe('flags over the file', () => {
  const file = 'port: 1\nserver_name: file\njetstream { store_dir: /file }\nlogtime: true\ndebug: false\nhttp_port: 8222\n';
  it('flags win', () => {
    const { options } = load(file, ['-p', '2', '-n', 'flag', '-sd', '/flag', '-T=false', '-DV', '-m', '9000']);
    expect(options).toMatchObject({ port: 2, serverName: 'flag', logtime: false, logLevel: 'trace', httpPort: 9000 });
    expect(options.jetstream.storeDir).toBe('/flag/jetstream');
  });
  it('-js enables JetStream, as npm start does', () => {
    expect(resolve(['-js', '-sd', './data']).options.jetstream).toMatchObject({ enabled: true, storeDir: 'data/jetstream' });
  });
  it('auth flags set the single user or token', () => {
    expect(resolve(['--user', 'u', '--pass', 'p']).options.auth).toMatchObject({ user: 'u', password: 'p' });
    expect(resolve(['--auth', 't']).options.auth.token).toBe('t');
  });
  it('flag values are validated and named by their flag', () => {
    expect(() => resolve(['-p', '70000'])).toThrow('-p: must be a port between -1 and 65535 (-1 picks a free port): value was 70000');
    expect(() => resolve(['--workers', '0'])).toThrow('--workers: must be an integer between 1 and 1024');
  });
  it('ignored and unsupported flags become warnings', () => {
    expect(resolve(['--profile', '1', '-ms', '8443']).warnings).toEqual([
      '-ms: https monitoring is not supported by Petrel yet, ignored',
      '--profile: flag is accepted for nats-server compatibility but has no effect in Petrel',
    ]);
  });
});

describe('actions', () => {
  it('-t checks the config', () => {
    const path = confFile('port: 1');
    expect(resolve(['-t', '-c', path]).action).toBe('test');
    expect(() => resolve(['-t'])).toThrow('must specify [-c, --config] option to check configuration file syntax');
    expect(() => resolve(['-t', '-c', confFile('port: x y')])).toThrow(ConfigError);
  });
  it('-sl returns the signal without reading the config', () => {
    const r = resolve(['-sl=reload=123', '-c', join(dir, 'does-not-exist.conf')]);
    expect(r.action).toBe('signal');
    expect(r.signal).toEqual({ command: 'reload', pid: '123' });
  });
  it('-h and -v', () => {
    expect(resolve(['-h']).action).toBe('help');
    expect(resolve(['--version']).action).toBe('version');
    expect(resolve(['-v', '-p', '999999']).action).toBe('version');
  });
  it('a missing config file is a ConfigError', () => {
    expect(() => resolve(['-c', join(dir, 'missing.conf')])).toThrow(/missing\.conf: error opening config file/);
  });
  it('records the config file path', () => {
    const path = confFile('port: 1');
    expect(resolve(['-c', path]).options.configFile).toBe(path);
  });
});

describe('loadConfigFile (reload)', () => {
  it('re-reads the file and re-applies the original flags', () => {
    const path = confFile('port: 1\ndebug: true\n');
    const first = resolve(['-c', path, '-p', '9']);
    expect(first.options).toMatchObject({ port: 9, logLevel: 'debug' });
    writeFileSync(path, 'port: 2\ndebug: false\nmax_payload: 2KB\n');
    const again = loadConfigFile(path, first.flags, {}, FACTS);
    expect(again.options).toMatchObject({ port: 9, logLevel: 'info', maxPayload: 2048 });
  });
});
