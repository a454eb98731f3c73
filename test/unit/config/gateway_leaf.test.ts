// The gateway and leafnodes blocks: nats-server's keys, aliases, defaults and messages, each
// error at its file position.

import { describe, expect, it } from 'vitest';
import { confFiles } from './conf-files.ts';

const { load, loadError } = confFiles();

describe('gateway block', () => {
  it('is absent without a block, and a block without name and port is none (as nats-server)', () => {
    expect(load('port: 4222').options.gateway).toBeUndefined();
    expect(load('gateway { reject_unknown: true }').options.gateway).toBeUndefined();
  });

  it('reads every key with its defaults', () => {
    const { options, warnings } = load(`
gateway {
  name: east
  listen: "127.0.0.1:7222"
  advertise: "east-1.example.com:7222"
  connect_retries: 3
  reject_unknown_cluster: true
  authorization { user: gw, password: s3cret, timeout: 1.5 }
  gateways: [
    { name: west, urls: [ "nats://gw:s3cret@10.0.1.1:7222", "10.0.1.2:7222" ] }
    { name: south, url: "tls://10.0.2.1:7222" }
  ]
}`);
    expect(warnings).toEqual([]);
    expect(options.gateway).toEqual({
      name: 'east',
      host: '127.0.0.1',
      port: 7222,
      advertise: 'east-1.example.com:7222',
      connectRetries: 3,
      rejectUnknown: true,
      authorization: { user: 'gw', password: 's3cret', timeoutMs: 1500 },
      gateways: [
        { name: 'west', urls: ['nats://gw:s3cret@10.0.1.1:7222', '10.0.1.2:7222'] },
        { name: 'south', urls: ['tls://10.0.2.1:7222'] },
      ],
    });
  });

  it('listens on 0.0.0.0 by default and takes port -1', () => {
    expect(load('gateway { name: a, port: -1 }').options.gateway).toEqual({ name: 'a', host: '0.0.0.0', port: -1, connectRetries: 0, rejectUnknown: false, gateways: [] });
  });

  it('warns on a duplicate URL and an unknown key', () => {
    const { options, warnings } = load('gateway { name: a, port: 1, gateways: [ { name: b, urls: ["h:1", "h:1"] } ], bogus: 1 }');
    expect(options.gateway!.gateways[0]!.urls).toEqual(['h:1']);
    expect(warnings.join('\n')).toMatch(/Duplicate gateway entry detected: "h:1"/);
    expect(warnings.join('\n')).toMatch(/unknown field "bogus"/);
  });

  it.each([
    ['gateway: 5', /1:1: gateway: Expected gateway to be a map, got integer/],
    ['gateway { port: 7222 }', /gateway: gateway has no name/],
    ['gateway { name: a }', /gateway: gateway "a" has no port specified \(select -1 for random port\)/],
    ['gateway { name: "a b", port: 1 }', /gateway.name: gateway name cannot contain spaces/],
    ['gateway { name: a, port: 1, authorization { users: [ { user: x, password: y } ] } }', /Gateway authorization does not allow multiple users/],
    ['gateway { name: a, port: 1, authorization { token: t } }', /Gateway authorization does not support tokens/],
    ['gateway { name: a, port: 1, gateways: [ { urls: ["h:1"] } ] }', /gateway.gateways\[0\]: gateway in the list 0 has no name/],
    ['gateway { name: a, port: 1, gateways: [ { name: b } ] }', /gateway.gateways\[0\]: gateway "b" has no URL/],
    ['gateway { name: a, port: 1, gateways: [ { name: b, url: "ftp://h:1" } ] }', /error parsing gateway url \["ftp:\/\/h:1"\]: unsupported scheme "ftp"/],
    ['gateway { name: a, port: 1, gateways: { name: b } }', /Expected gateways field to be an array, got map/],
    ['gateway { name: a, port: 1, advertise: "a:b:c" }', /invalid Gateway.Advertise value of a:b:c/],
    ['gateway { name: a, port: 70000 }', /gateway.port: must be a port between -1 and 65535/],
    ['gateway { name: a, listen: 1, port: 2 }', /port 2 conflicts with gateway.listen/],
  ])('rejects %j', (text, message) => {
    expect(loadError(text).err.message).toMatch(message);
  });

  it('names a cluster without a name after its gateway, and refuses two different names', () => {
    expect(load('cluster { port: -1 }\ngateway { name: east, port: -1 }').options.cluster!.name).toBe('east');
    expect(loadError('cluster { name: west, port: -1 }\ngateway { name: east, port: -1 }').err.message).toMatch(/1:11: cluster.name: cluster name conflicts between cluster and gateway definitions/);
  });

  it('reports the line of the bad entry', () => {
    const { err, path } = loadError('gateway {\n  name: a\n  port: 1\n  gateways: [\n    { name: b }\n  ]\n}\n');
    expect(err.message).toBe(`${path}:5:5: gateway.gateways[0]: gateway "b" has no URL`);
  });
});

describe('leafnodes block', () => {
  it('a block with only remotes listens nowhere and dials 7422 by default', () => {
    const { options, warnings } = load('leafnodes { remotes: [ { url: "nats-leaf://hub.example.com" } ] }');
    expect(warnings).toEqual([]);
    expect(options.leafnodes).toMatchObject({ port: 0, reconnectIntervalMs: 1000, remotes: [{ urls: ['nats-leaf://hub.example.com'], hub: false, denyImports: [], denyExports: [], noRandomize: false }] });
  });

  it('reads every key', () => {
    const { options, warnings } = load(`
accounts { A: {}, B: {} }
leafnodes {
  port: 7422
  host: 127.0.0.1
  advertise: "edge.example.com:7422"
  no_advertise: true
  reconnect: 3
  min_version: "2.8.0"
  authorization { users: [ { user: leaf1, password: p1, account: A }, { user: leaf2, password: p2 } ], timeout: 2 }
  remotes: [
    { urls: [ "nats-leaf://u:p@hub1:7422", "nats://hub2" ], account: B, credentials: "/etc/leaf.creds", hub: false,
      deny_imports: [ "secret.>" ], deny_export: "private.>", no_randomize: true }
  ]
}`);
    expect(warnings).toEqual([]);
    expect(options.leafnodes).toEqual({
      host: '127.0.0.1',
      port: 7422,
      advertise: 'edge.example.com:7422',
      noAdvertise: true,
      reconnectIntervalMs: 3000,
      minVersion: '2.8.0',
      authorization: { timeoutMs: 2000, users: [{ user: 'leaf1', password: 'p1', account: 'A' }, { user: 'leaf2', password: 'p2' }] },
      remotes: [
        {
          urls: ['nats-leaf://u:p@hub1:7422', 'nats://hub2'],
          account: 'B',
          credentials: '/etc/leaf.creds',
          hub: false,
          denyImports: ['secret.>'],
          denyExports: ['private.>'],
          noRandomize: true,
        },
      ],
    });
  });

  it('a single leaf user binds to an account', () => {
    const { options } = load('accounts { A: {} }\nleafnodes { port: -1, authorization { user: l, password: p, account: A } }');
    expect(options.leafnodes!.authorization).toEqual({ user: 'l', password: 'p', account: 'A', timeoutMs: 2000 });
  });

  it('with a gateway, wants the system account named', () => {
    expect(load('system_account: "$SYS"\ngateway { name: a, port: 1 }\nleafnodes { port: 2 }').options.leafnodes!.port).toBe(2);
  });

  it('warns on an entry without a URL and on websocket options', () => {
    const { options, warnings } = load('leafnodes { remotes: [ {}, { url: "h:1", ws_compression: true } ] }');
    expect(options.leafnodes!.remotes).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/remote leafnode entry has no url, ignored/);
    expect(warnings.join('\n')).toMatch(/remote leafnode field "ws_compression" is not supported by Petrel/);
  });

  it.each([
    ['leafnodes { remotes: 5 }', /Expected remotes field to be an array, got integer/],
    ['leafnodes { remotes: [ 5 ] }', /Expected remote leafnode entry to be a map\/struct, got integer/],
    ['leafnodes { remotes: [ { url: 5 } ] }', /Expected remote leafnode url to be an array or string, got integer/],
    ['leafnodes { remotes: [ { url: "http://h" } ] }', /error parsing leafnode url \["http:\/\/h"\]: unsupported scheme "http"/],
    ['leafnodes { remotes: [ { url: "h:1", account: NOPE } ] }', /cannot find local account "NOPE" specified in leafnode remote/],
    ['leafnodes { port: 1, authorization { account: NOPE } }', /cannot find local account "NOPE" specified in leafnode authorization/],
    ['leafnodes { port: 1, authorization { user: a, password: b, users: [ { user: c, password: d } ] } }', /can not have a single user\/pass and a users array/],
    ['leafnodes { port: 1, authorization { users: [ { user: c, password: d }, { user: c, password: e } ] } }', /duplicate user "c" detected in leafnode authorization/],
    ['leafnodes { port: 1, min_version: "2.7.0" }', /the minimum version should be at least 2.8.0/],
    ['leafnodes { port: 1, min_version: "x" }', /invalid leafnode's minimum version/],
    ['leafnodes { remotes: [ { url: "h:1", deny_imports: [ "a..b" ] } ] }', /subject "a..b" is not a valid subject/],
    ['gateway { name: a, port: 1 }\nleafnodes { port: 2 }', /leaf nodes and gateways \(both being defined\) require a system account/],
  ])('rejects %j', (text, message) => {
    expect(loadError(text).err.message).toMatch(message);
  });
});
