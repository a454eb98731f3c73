// INTERIM — the `cluster {}` block as ClusterOptions, read from the listen block the config
// loader already keeps (`raw`). The config work (branch `config`) replaces this file with the
// schema's own typed parsing and errors; until then this keeps the cluster usable end to end.

import type { ClusterOptions, ListenBlock, SubjectPermission } from './options.ts';
import { parseGoDuration } from './units.ts';

/** nats-server's default cluster port. */
const DEFAULT_CLUSTER_PORT = 6222;
/** nats-server's AUTH_TIMEOUT, also the default for routes. */
const DEFAULT_ROUTE_AUTH_TIMEOUT_MS = 2000;
/** nats-server's TLS_TIMEOUT for routes. */
const DEFAULT_ROUTE_TLS_TIMEOUT_MS = 2000;
/** nats-server 2.10's default pool_size (validated only: Petrel speaks the 2.9 route protocol). */
const DEFAULT_POOL_SIZE = 3;

export function interimClusterOptions(block: ListenBlock | undefined, noAdvertise: boolean): ClusterOptions | undefined {
  if (!block) return undefined;
  const raw = lowerKeys(block.raw);
  const routes = raw.routes;
  const auth = raw.authorization !== undefined ? lowerKeys(raw.authorization) : undefined;
  const tls = raw.tls !== undefined ? lowerKeys(raw.tls) : undefined;
  const perms = raw.permissions !== undefined ? lowerKeys(raw.permissions) : undefined;
  return {
    name: typeof raw.name === 'string' ? raw.name : '',
    host: block.host || '0.0.0.0',
    port: block.port === 0 ? DEFAULT_CLUSTER_PORT : block.port,
    advertise: typeof raw.cluster_advertise === 'string' ? raw.cluster_advertise : typeof raw.advertise === 'string' ? raw.advertise : undefined,
    noAdvertise: noAdvertise || raw.no_advertise === true,
    routes: Array.isArray(routes) ? routes.map(String) : typeof routes === 'string' ? routes.split(',').map((r) => r.trim()).filter(Boolean) : [],
    connectRetries: typeof raw.connect_retries === 'number' ? raw.connect_retries : 0,
    poolSize: typeof raw.pool_size === 'number' ? raw.pool_size : DEFAULT_POOL_SIZE,
    authorization: auth
      ? {
          user: typeof auth.user === 'string' ? auth.user : undefined,
          password: typeof auth.password === 'string' ? auth.password : undefined,
          timeoutMs: seconds(auth.timeout) ?? DEFAULT_ROUTE_AUTH_TIMEOUT_MS,
        }
      : undefined,
    permissions: perms ? { import: subjectPermission(perms.import), export: subjectPermission(perms.export) } : undefined,
    tls:
      tls && typeof tls.cert_file === 'string' && typeof tls.key_file === 'string'
        ? {
            certFile: tls.cert_file,
            keyFile: tls.key_file,
            caFile: typeof tls.ca_file === 'string' ? tls.ca_file : undefined,
            verify: true,
            timeoutMs: seconds(tls.timeout) ?? DEFAULT_ROUTE_TLS_TIMEOUT_MS,
            handshakeFirst: true,
          }
        : undefined,
  };
}

/** `"a.>"`, `["a", "b"]` or `{ allow: [...], deny: [...] }`, as nats-server reads a permission. */
function subjectPermission(v: unknown): SubjectPermission | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return { allow: [v] };
  if (Array.isArray(v)) return { allow: v.map(String) };
  const m = lowerKeys(v);
  const list = (x: unknown): string[] | undefined => (x === undefined ? undefined : Array.isArray(x) ? x.map(String) : [String(x)]);
  return { allow: list(m.allow), deny: list(m.deny) };
}

function lowerKeys(v: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out[k.toLowerCase()] = x;
  return out;
}

function seconds(v: unknown): number | undefined {
  if (typeof v === 'number') return v * 1000;
  if (typeof v === 'string') return parseGoDuration(v);
  return undefined;
}
