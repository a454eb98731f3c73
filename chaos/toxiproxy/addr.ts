// TCP addresses as Go's net package reads and prints them: "host:port", "[v6]:port", ":port";
// "localhost" resolves to its IPv4 address first; errors carry Go's wording, because Toxiproxy
// returns them to clients verbatim ("listen tcp: address local373: missing port in address").

import dns from 'node:dns/promises';
import net from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** Go's net.SplitHostPort plus a numeric port; throws Error with Go's text. */
export function splitHostPort(addr: string): HostPort {
  const fail = (why: string): never => {
    throw new Error(`address ${addr}: ${why}`);
  };
  let host: string;
  let portText: string;
  const colon = addr.lastIndexOf(':');
  if (colon < 0) fail('missing port in address');
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    if (close < 0) fail("missing ']' in address");
    if (close + 1 === addr.length) fail('missing port in address');
    if (close + 1 !== colon) fail(addr[close + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = addr.slice(1, close);
    if (host.includes('[')) fail("unexpected '[' in address");
  } else {
    host = addr.slice(0, colon);
    if (host.includes(':')) fail('too many colons in address');
    if (host.includes('[')) fail("unexpected '[' in address");
    if (host.includes(']')) fail("unexpected ']' in address");
  }
  portText = addr.slice(colon + 1);
  if (portText === '') portText = '0';
  if (!/^\d+$/.test(portText)) throw new Error(`lookup tcp/${portText}: unknown port`);
  const port = Number(portText);
  if (port > 65535) fail('invalid port');
  return { host, port };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The IP a host name listens or dials on ("" stays "": every interface). IPv4 first, as Go. */
export async function resolveHost(host: string): Promise<string> {
  if (host === '' || net.isIP(host)) return host;
  try {
    const { address } = await dns.lookup(host, { order: 'ipv4first' });
    return address;
  } catch {
    throw new Error(`lookup ${host}: no such host`);
  }
}

/** Go's net.ResolveTCPAddr(...).String(). */
export async function resolveTcpAddr(addr: string): Promise<string> {
  const { host, port } = splitHostPort(addr);
  return joinHostPort(await resolveHost(host), port);
}

/** How a listening socket's address prints in Go ("127.0.0.1:26379", "[::]:8474"). */
export function formatAddress(a: net.AddressInfo | string | null): string {
  if (a === null || typeof a === 'string') return String(a);
  return joinHostPort(a.address, a.port);
}

const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EACCES: 'permission denied',
};

/** "listen tcp 127.0.0.1:3310: bind: address already in use". */
export function listenErrorText(addr: string, err: NodeJS.ErrnoException): string {
  const why = (err.code && BIND_ERRORS[err.code]) ?? err.message;
  return `listen tcp ${addr}: bind: ${why}`;
}
