// The `gateway` and `leaf` objects of /varz (nats-server GatewayOptsVarz, LeafNodeOptsVarz) from
// the configuration and the bound ports; empty without the block, and every field omitted when
// empty, as nats-server's `omitempty` does. Also the series /metrics adds for gateways and leaf
// connections, named after the JSON fields.

import type { GatewayOptions, LeafNodeOptions } from '../config/options.ts';
import { DEFAULT_LEAFNODE_PORT, LEAF_URL_SCHEMES, parseRouteUrl } from '../config/route-url.ts';
import { TLS_TIMEOUT_MS } from '../config/schema.ts';
import { defaultRouteAuthTimeoutMs } from '../config/schema.ts';

type Json = Record<string, unknown>;

function compact(o: Json): Json {
  for (const k of Object.keys(o)) if (o[k] === undefined || o[k] === false || o[k] === '' || o[k] === 0) delete o[k];
  return o;
}

/** `remotes` are the configured remote gateways with the URLs known now (host:port). */
export function gatewayVarz(g: GatewayOptions | undefined, port: number, remotes: { name: string; urls: string[] }[]): Json {
  if (g === undefined) return {};
  return compact({
    name: g.name,
    host: g.host,
    port: port > 0 ? port : g.port,
    auth_timeout: (g.authorization?.timeoutMs ?? defaultRouteAuthTimeoutMs(g.tls)) / 1000,
    tls_timeout: (g.tls?.timeoutMs ?? TLS_TIMEOUT_MS) / 1000,
    tls_required: g.tls !== undefined,
    tls_verify: g.tls !== undefined,
    advertise: g.advertise,
    connect_retries: g.connectRetries,
    gateways: remotes.map((r) => {
      const tls = g.gateways.find((x) => x.name === r.name)?.tls;
      return compact({ name: r.name, tls_timeout: tls ? tls.timeoutMs / 1000 : undefined, urls: r.urls.length > 0 ? r.urls : undefined });
    }),
    reject_unknown: g.rejectUnknown,
  });
}

export function leafVarz(l: LeafNodeOptions | undefined, port: number): Json {
  if (l === undefined) return {};
  return compact({
    host: l.port !== 0 ? l.host : undefined,
    port: port > 0 ? port : l.port,
    auth_timeout: l.port !== 0 ? (l.authorization?.timeoutMs ?? defaultRouteAuthTimeoutMs(l.tls)) / 1000 : undefined,
    tls_timeout: l.port !== 0 ? (l.tls?.timeoutMs ?? TLS_TIMEOUT_MS) / 1000 : undefined,
    tls_required: l.tls !== undefined,
    tls_verify: l.tls?.verify === true,
    remotes: l.remotes.length > 0
      ? l.remotes.map((r) =>
          compact({
            local_account: r.account,
            tls_timeout: r.tls ? r.tls.timeoutMs / 1000 : undefined,
            urls: r.urls.flatMap((u) => {
              const p = parseRouteUrl(u, { schemes: LEAF_URL_SCHEMES, defaultPort: DEFAULT_LEAFNODE_PORT });
              return p.ok ? [p.url.host.includes(':') ? `[${p.url.host}]:${p.url.port}` : `${p.url.host}:${p.url.port}`] : [];
            }),
            deny: r.denyImports.length > 0 || r.denyExports.length > 0 ? compact({ exports: r.denyExports.length > 0 ? r.denyExports : undefined, imports: r.denyImports.length > 0 ? r.denyImports : undefined }) : undefined,
          }),
        )
      : undefined,
  });
}

/** A Prometheus label value, quoted. */
function label(v: string): string {
  return JSON.stringify(v);
}

const CONN_SERIES = ['in_msgs', 'out_msgs', 'in_bytes', 'out_bytes', 'subscriptions'] as const;

/** Series for /gatewayz: counts, and each connection's counters labelled by gateway name. */
export function gatewayMetrics(gwz: Json, serverId: string): string {
  const out = (gwz.outbound_gateways ?? {}) as Record<string, { connection?: Json }>;
  const inb = (gwz.inbound_gateways ?? {}) as Record<string, { connection?: Json }[]>;
  let text = '';
  const gauge = (name: string, help: string, rows: [string, number][]): void => {
    text += `# HELP ${name} ${help}\n# TYPE ${name} gauge\n`;
    for (const [labels, v] of rows) text += `${name}{server_id=${label(serverId)}${labels}} ${v}\n`;
  };
  gauge('gnatsd_gatewayz_outbound_gateways', 'Outbound gateway connections', [['', Object.keys(out).length]]);
  gauge('gnatsd_gatewayz_inbound_gateways', 'Inbound gateway connections', [['', Object.values(inb).reduce((n, l) => n + l.length, 0)]]);
  for (const f of CONN_SERIES) {
    const rows: [string, number][] = [];
    for (const [name, g] of Object.entries(out)) rows.push([`,gateway_name=${label(name)},direction="outbound"`, Number(g.connection?.[f] ?? 0)]);
    for (const [name, list] of Object.entries(inb)) for (const g of list) rows.push([`,gateway_name=${label(name)},direction="inbound",cid="${String(g.connection?.cid ?? '')}"`, Number(g.connection?.[f] ?? 0)]);
    gauge(`gnatsd_gatewayz_${f}`, `Gateway connection ${f}`, rows);
  }
  return text;
}

/** Series for /leafz: the count, and each leaf connection's counters labelled by account and address. */
export function leafMetrics(lz: Json, serverId: string): string {
  const leafs = (lz.leafs ?? []) as Json[];
  let text = `# HELP gnatsd_leafz_leafnodes Leaf node connections\n# TYPE gnatsd_leafz_leafnodes gauge\ngnatsd_leafz_leafnodes{server_id=${label(serverId)}} ${leafs.length}\n`;
  for (const f of CONN_SERIES) {
    text += `# HELP gnatsd_leafz_${f} Leaf node connection ${f}\n# TYPE gnatsd_leafz_${f} gauge\n`;
    for (const l of leafs) {
      text += `gnatsd_leafz_${f}{server_id=${label(serverId)},account=${label(String(l.account))},ip=${label(String(l.ip))},port="${String(l.port)}"} ${Number(l[f] ?? 0)}\n`;
    }
  }
  return text;
}
