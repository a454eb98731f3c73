// Route URLs as nats-server takes them in `routes: [...]`, `--routes` and `--cluster`:
// `nats-route://[user:password@]host:port`, also `nats://` and `tls://`, and (Petrel's
// convenience) a bare `host:port`. One parser serves the config reader and the code that
// dials routes, so both agree on what a route is.

/** Schemes a route URL may carry; nats-server dials `host:port` whatever the scheme says. */
export const ROUTE_URL_SCHEMES: readonly string[] = ['nats-route', 'nats', 'tls'];

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
}

export function parseRouteUrl(text: string, rules: RouteUrlRules = {}): RouteUrlResult {
  const trimmed = text.trim();
  const m = ROUTE_URL.exec(trimmed);
  if (m === null) return fail('not of the form nats-route://[user:password@]host:port');
  const scheme = (m[1] ?? 'nats-route').toLowerCase();
  if (!ROUTE_URL_SCHEMES.includes(scheme)) {
    return fail(`unsupported scheme "${scheme}", expected ${ROUTE_URL_SCHEMES.map((s) => `${s}://`).join(', ')}`);
  }
  const host = (m[4] ?? '').replace(/^\[(.*)\]$/, '$1');
  if (host === '' && rules.listen !== true) return fail('missing host');
  const space = /\s/.exec(host);
  if (space !== null) return fail(`invalid character ${JSON.stringify(space[0])} in host name`);
  const portText = m[5];
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

/** The URL with its password replaced, for messages and logs (nats-server writes `xxxxx`). */
export function redactRouteUrl(text: string): string {
  return text.replace(/^(\s*(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?[^:@/]*):[^@/]*@/, '$1:xxxxx@');
}
