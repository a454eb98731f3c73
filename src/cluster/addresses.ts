// Addresses servers give each other: host:port forms, URL comparisons, and the one address a
// listener advertises (its `advertise` setting, or its host with an interface address in place
// of 0.0.0.0, as nats-server's getNonLocalIPsIfHostIsIPAny picks it).

import os from 'node:os';
import { joinHostPort, parseRouteUrl, routeHostPort } from '../config/route-url.ts';

/** host:port of a URL (a bare host:port too), lower case, for comparisons (nats-server compares URL hosts). */
export function hostPortOf(url: string): string {
  const parsed = parseRouteUrl(url);
  if (parsed.ok) return routeHostPort(parsed.url).toLowerCase();
  try {
    // Other schemes (a leaf remote's nats-leaf://, a URL without a port): what the URL names.
    return new URL(url).host.toLowerCase();
  } catch {
    return url.toLowerCase();
  }
}

export { joinHostPort };

export function splitHostPort(hp: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(hp.replace(/^[a-z-]+:\/\//i, '').replace(/\/$/, ''));
  return { host: m?.[1] ?? hp, port: m?.[2] ? Number(m[2]) : defaultPort };
}

/** This machine's IPv4 addresses other servers can reach (nats-server lists non-loopback ones for 0.0.0.0). */
export function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
  }
  return out;
}

/** The host:port a listener on host:port tells others to dial. */
export function advertisedHostPort(host: string, port: number, advertise: string | undefined): { host: string; port: number } {
  if (advertise) return splitHostPort(advertise, port);
  if (host === '0.0.0.0' || host === '::' || host === '') return { host: interfaceAddresses()[0] ?? '127.0.0.1', port };
  return { host, port };
}
