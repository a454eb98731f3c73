// Server-to-server URLs as nats-server takes them in `routes: [...]`, `--routes` and `--cluster`
// (`nats-route://[user:password@]host:port`, also `nats://` and `tls://`, and, as Petrel's
// convenience, a bare `host:port`), in `gateway.gateways[].urls` (the same schemes) and in
// `leafnodes.remotes[].urls` (`nats-leaf://`, `nats://`, `tls://`; the port defaults to 7422).
// One parser serves the config readers and the code that dials, so both agree on what a URL is.

/** Schemes a route URL may carry; nats-server dials `host:port` whatever the scheme says. */
export const ROUTE_URL_SCHEMES: readonly string[] = ['nats-route', 'nats', 'tls'];
/** Schemes of a leaf remote's URL (websocket ones are not served by Petrel). */
export const LEAF_URL_SCHEMES: readonly string[] = ['nats-leaf', 'nats', 'tls'];
/** nats-server DEFAULT_LEAFNODE_PORT: a leaf remote URL without a port dials this one. */
export const DEFAULT_LEAFNODE_PORT = 7422;

export interface RouteUrl {
  scheme: string;
  /** Without IPv6 brackets; '' only in a listen URL (all interfaces). */
  host: string;
  /** 1–65535; -1 only where a free port may be picked (`--cluster nats://host:-1`). */
  port: number;
  user?: string;
  password?: string;
}

export type RouteUrlResult = { ok: true; url: RouteUrl } | { ok: false; problem: string };

const MAX_PORT = 65535;

/**
 * scheme://, user[:password]@, host or [ipv6], :port, optional trailing slash. Groups: 1 scheme,
 * 2 user, 3 password, 4 host, 5 port text (may be empty or not a number: reported below).
 */
const ROUTE_URL = /^(?:([A-Za-z][A-Za-z0-9+.-]*):\/\/)?(?:([^:@/]*)(?::([^@/]*))?@)?(\[[^\]/]*\]|[^:/@[\]]*)(?::([^/:]*))?\/?$/;

export interface RouteUrlRules {
  /** A listen URL (`--cluster`), not a route to dial: the host may be empty (all interfaces) and port -1 picks a free one. */
  listen?: boolean;
  /** Accepted schemes (default ROUTE_URL_SCHEMES); the first is assumed when none is written. */
  schemes?: readonly string[];
  /** The port of a URL written without one (otherwise a port is required). */
  defaultPort?: number;
}

export function parseRouteUrl(text: string, rules: RouteUrlRules = {}): RouteUrlResult {
  const trimmed = text.trim();
  const m = ROUTE_URL.exec(trimmed);
  if (m === null) return fail('not of the form nats-route://[user:password@]host:port');
  const schemes = rules.schemes ?? ROUTE_URL_SCHEMES;
  const scheme = (m[1] ?? schemes[0]!).toLowerCase();
  if (!schemes.includes(scheme)) {
    return fail(`unsupported scheme "${scheme}", expected ${schemes.map((s) => `${s}://`).join(', ')}`);
  }
  const host = (m[4] ?? '').replace(/^\[(.*)\]$/, '$1');
  if (host === '' && rules.listen !== true) return fail('missing host');
  const space = /\s/.exec(host);
  if (space !== null) return fail(`invalid character ${JSON.stringify(space[0])} in host name`);
  const portText = m[5] === undefined && rules.defaultPort !== undefined ? String(rules.defaultPort) : m[5];
  if (portText === undefined || portText === '') return fail('missing port in address');
  if (!/^-?\d+$/.test(portText)) return fail(`invalid port ":${portText}" after host`);
  const port = Number(portText);
  const random = rules.listen === true && port === -1;
  if (!random && (port < 1 || port > MAX_PORT)) return fail(`port ${portText} is out of range (1-${MAX_PORT})`);
  const url: RouteUrl = { scheme, host, port };
  try {
    if (m[2] !== undefined) url.user = decodeURIComponent(m[2]);
    if (m[3] !== undefined) url.password = decodeURIComponent(m[3]);
  } catch {
    return fail('invalid escape in user or password');
  }
  return { ok: true, url };
}

function fail(problem: string): RouteUrlResult {
  return { ok: false, problem };
}

/** `host:port`, an IPv6 host in brackets (as Go's net.JoinHostPort). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `host:port` of a route URL. */
export function routeHostPort(url: RouteUrl): string {
  return joinHostPort(url.host, url.port);
}

/** The URL written out again, `scheme://[user[:password]@]host:port`, credentials escaped. */
export function formatRouteUrl(url: RouteUrl): string {
  let auth = '';
  if (url.user !== undefined) {
    auth = encodeURIComponent(url.user);
    if (url.password !== undefined) auth += `:${encodeURIComponent(url.password)}`;
    auth += '@';
  }
  return `${url.scheme}://${auth}${routeHostPort(url)}`;
}

/** The URL with its password replaced, for messages and logs (nats-server writes `xxxxx`). */
export function redactRouteUrl(text: string): string {
  return text.replace(/^(\s*(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?[^:@/]*):[^@/]*@/, '$1:xxxxx@');
}
