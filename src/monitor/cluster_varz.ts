// The `cluster` object of /varz (nats-server ClusterOptsVarz) as far as the configuration tells it:
// name, listen address, timeouts, TLS and the configured route URLs as host:port. Empty without a
// cluster, and every field omitted when empty, as nats-server's `omitempty` does.

import type { ClusterOptions } from '../config/options.ts';
import { parseRouteUrl } from '../config/route-url.ts';
import { TLS_TIMEOUT_MS, defaultRouteAuthTimeoutMs } from '../config/schema.ts';

/** `port` is the bound route port once known; the configured one otherwise (-1 is left out). */
export function clusterVarz(c: ClusterOptions | undefined, port: number = c?.port ?? 0): Record<string, unknown> {
  if (c === undefined) return {};
  const urls = c.routes.flatMap((r) => {
    const parsed = parseRouteUrl(r);
    if (!parsed.ok) return [];
    const { host, port: p } = parsed.url;
    return [host.includes(':') ? `[${host}]:${p}` : `${host}:${p}`];
  });
  const out: Record<string, unknown> = {
    name: c.name || undefined,
    addr: c.host || undefined,
    cluster_port: port > 0 ? port : undefined,
    // nats-server reports the route auth timeout even when routes need no auth.
    auth_timeout: (c.authorization?.timeoutMs ?? defaultRouteAuthTimeoutMs(c.tls)) / 1000,
    urls: urls.length > 0 ? urls : undefined,
    tls_timeout: (c.tls?.timeoutMs ?? TLS_TIMEOUT_MS) / 1000,
    tls_required: c.tls ? true : undefined,
    tls_verify: c.tls ? true : undefined,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}
