import { describe, expect, it } from 'vitest';
import { parseRouteUrl, redactRouteUrl } from '../../../src/config/route-url.ts';

describe('parseRouteUrl', () => {
  it.each([
    ['nats-route://10.0.0.1:6222', { scheme: 'nats-route', host: '10.0.0.1', port: 6222 }],
    ['NATS://h:1/', { scheme: 'nats', host: 'h', port: 1 }],
    ['tls://[fe80::1]:6222', { scheme: 'tls', host: 'fe80::1', port: 6222 }],
    ['  n2:6223  ', { scheme: 'nats-route', host: 'n2', port: 6223 }],
    ['nats-route://ruser:p%40ss@n3:6224', { scheme: 'nats-route', host: 'n3', port: 6224, user: 'ruser', password: 'p@ss' }],
    ['nats://onlyuser@n3:6224', { scheme: 'nats', host: 'n3', port: 6224, user: 'onlyuser' }],
  ])('%j', (text, url) => {
    expect(parseRouteUrl(text)).toEqual({ ok: true, url });
  });
  it.each([
    ['nats://h', 'missing port in address'],
    ['nats://h:', 'missing port in address'],
    ['nats://h:-1', 'port -1 is out of range (1-65535)'],
    ['nats://h:0', 'port 0 is out of range (1-65535)'],
    ['nats://h:abc', 'invalid port ":abc" after host'],
    ['nats://:6222', 'missing host'],
    ['nats://h\tx:1', 'invalid character "\\t" in host name'],
    ['ws://h:1', 'unsupported scheme "ws", expected nats-route://, nats://, tls://'],
    ['nats://h:1/path', 'not of the form nats-route://[user:password@]host:port'],
    ['::1:6222', 'not of the form nats-route://[user:password@]host:port'],
    ['nats://u:%zz@h:1', 'invalid escape in user or password'],
  ])('%j is refused: %s', (text, problem) => {
    expect(parseRouteUrl(text)).toEqual({ ok: false, problem });
  });
  it('a listen URL may leave the host empty and ask for a free port with -1', () => {
    expect(parseRouteUrl('nats://:-1', { listen: true })).toEqual({ ok: true, url: { scheme: 'nats', host: '', port: -1 } });
  });
});

describe('redactRouteUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(redactRouteUrl('nats-route://u:s3cret@h:1')).toBe('nats-route://u:xxxxx@h:1');
    expect(redactRouteUrl('u:s3cret@h:1')).toBe('u:xxxxx@h:1');
    expect(redactRouteUrl('nats://u@h:1')).toBe('nats://u@h:1');
    expect(redactRouteUrl('nats://h:1')).toBe('nats://h:1');
  });
});
