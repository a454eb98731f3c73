// Ports for nodes that are killed and restarted on the same port. A port the kernel handed out
// (`listen(0)`) comes from its ephemeral range, and so does the local port of every outgoing
// connection on the machine: while a node is down, another test's server or any connection can
// take its port, and the restart fails with EADDRINUSE. Ports below (or above) that range are
// only ever taken by someone who asks for them by number.

import fs from 'node:fs';
import net from 'node:net';

const EPHEMERAL_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';
/** Linux's default ephemeral range, used where the kernel's cannot be read. */
const DEFAULT_EPHEMERAL: readonly [number, number] = [32768, 60999];
/** Below this, ports belong to well-known and registered services more often. */
const LOWEST = 10_000;
const ATTEMPTS_PER_PORT = 50;

/** Ports this process handed out already: two callers never get the same one. */
const handedOut = new Set<number>();

export function ephemeralRange(text?: string): readonly [number, number] {
  try {
    const [lo, hi] = (text ?? fs.readFileSync(EPHEMERAL_RANGE_FILE, 'utf8')).trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi) && lo > 0 && lo <= hi && hi <= 65535) return [lo, hi];
  } catch {
    // Not Linux, or no /proc: assume Linux's default.
  }
  return DEFAULT_EPHEMERAL;
}

/** The larger span of ports outside the ephemeral range, above LOWEST. */
export function stablePortSpan(ephemeral: readonly [number, number]): readonly [number, number] {
  const below: [number, number] = [LOWEST, ephemeral[0] - 1];
  const above: [number, number] = [ephemeral[1] + 1, 65535];
  return below[1] - below[0] >= above[1] - above[0] ? below : above;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    // The wildcard address conflicts with a listener on any local address, loopback included.
    s.listen({ port, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** `n` distinct ports nobody listens on now, outside the kernel's ephemeral range. */
export async function restartablePorts(n: number): Promise<number[]> {
  const [lo, hi] = stablePortSpan(ephemeralRange());
  const ports: number[] = [];
  for (let attempts = 0; ports.length < n; attempts++) {
    if (attempts > n * ATTEMPTS_PER_PORT) throw new Error(`no free port found in ${lo}-${hi}`);
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    ports.push(port);
  }
  return ports;
}
