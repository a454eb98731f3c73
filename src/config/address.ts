// Listen addresses as nats-server writes them: `listen: 4222`, `listen: "host:port"`, `[::1]:4222`.

import { describeType, failAt } from './draft.ts';
import type { Origin } from './draft.ts';
import type { ConfValue } from './parser.ts';

/** nats-server DEFAULT_HOST: all interfaces. */
export const DEFAULT_HOST = '0.0.0.0';

export interface HostPort {
  host?: string;
  port: number;
}

/** `listen`/`http`: a port, or `host:port` (`[::1]:4222`, `127.0.0.1:-1`). */
export function readHostPort(value: ConfValue, origin: Origin): HostPort {
  if (typeof value === 'number') return { port: value };
  if (typeof value !== 'string') failAt(origin, `expected port or host:port, got ${describeType(value)}`);
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(-?\d+)$/.exec(value);
  if (m === null) {
    const colon = value.lastIndexOf(':');
    if (colon >= 0 && !value.slice(0, colon).includes(':')) failAt(origin, `could not parse port "${value.slice(colon + 1)}"`);
    failAt(origin, `could not parse address string "${value}"`);
  }
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}
