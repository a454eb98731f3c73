// Reads nats-server's `cluster {}` block and the cluster flags (`--cluster`, `--routes`,
// `--cluster_name`, `--cluster_advertise`, `--connect_retries`) into canonical keys under
// `cluster.`, with nats-server's rules and messages. Types and ranges of the leaves are left
// to the convict schema; what needs the written form (URLs, names, blocks) is checked here.

import { DEFAULT_HOST, readHostPort } from './address.ts';
import { readAuthorization, readPermissions, subjectProblem } from './auth-config.ts';
import { childPath, describeType, failAt, originIn } from './draft.ts';
import type { ConfigDraft, Origin } from './draft.ts';
import type { CliFlags, FlagField } from './flags.ts';
import type { ClusterOptions, Permissions, SubjectPermission } from './options.ts';
import { isConfMap, isUsedVariable } from './parser.ts';
import type { ConfValue } from './parser.ts';
import { parseRouteUrl, redactRouteUrl } from './route-url.ts';
import type { RouteUrlRules } from './route-url.ts';
import { readTlsBlock } from './tls-config.ts';
import { booleanLike } from './units.ts';

/** nats-server cluster keys (2.10+) Petrel reads past without acting on them. */
const UNSUPPORTED_CLUSTER_KEYS = new Set([
  'accounts', 'compression', 'connect_backoff', 'ping_interval', 'ping_max', 'write_deadline', 'write_timeout',
]);

type RoutePermissions = NonNullable<ClusterOptions['permissions']>;

export function readCluster(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  if (!isConfMap(value)) failAt(origin, `Expected map to define cluster, got ${describeType(value)}`);
  draft.set('cluster.enabled', true, origin);
  const address = new AddressParts(draft, 'cluster');
  let permissions: RoutePermissions | undefined;
  let authPermissions: RoutePermissions | undefined;
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    const lower = key.toLowerCase();
    if (address.read(lower, v, o)) continue;
    switch (lower) {
      case 'name':
        draft.set('cluster.name', readClusterName(v, o), o);
        break;
      case 'authorization':
        authPermissions = readClusterAuthorization(v, o, draft);
        break;
      case 'routes':
        draft.set('cluster.routes', readRoutes(v, o, draft), o);
        break;
      case 'tls':
        readTlsBlock(v, o, draft, { path: 'cluster.tls', clientContext: false });
        break;
      case 'cluster_advertise':
      case 'advertise':
        draft.set('cluster.advertise', readAdvertise(v, o), o);
        break;
      case 'no_advertise': {
        const b = booleanLike(v);
        if (b === undefined) failAt(o, `expected a boolean, got ${describeType(v)}`);
        draft.set('cluster.no_advertise', b, o);
        break;
      }
      case 'connect_retries':
        draft.set('cluster.connect_retries', v, o);
        break;
      case 'pool_size':
        draft.set('cluster.pool_size', v, o);
        break;
      case 'permissions':
        permissions = readRoutePermissions(v, o);
        draft.set('cluster.permissions', permissions, o);
        break;
      default:
        if (UNSUPPORTED_CLUSTER_KEYS.has(lower)) draft.warn(o, `cluster field "${key}" is not supported by Petrel, ignored`);
        else if (!isUsedVariable(value, key)) draft.warn(o, `unknown field "${key}", ignored`);
    }
  }
  // As nats-server: permissions in the cluster block win over the deprecated ones in authorization.
  if (permissions === undefined && authPermissions !== undefined) draft.set('cluster.permissions', authPermissions, origin);
}

/**
 * `listen` sets host and port, `host`/`port` one each. nats-server applies them in map order,
 * which Go randomises, so two different values for one part are refused rather than guessed.
 * Serves the cluster, gateway and leafnodes blocks (`block` is the canonical prefix).
 */
export class AddressParts {
  private readonly seen = new Map<'host' | 'port', { value: unknown; origin: Origin }>();
  private readonly draft: ConfigDraft;
  private readonly block: string;

  constructor(draft: ConfigDraft, block: string) {
    this.draft = draft;
    this.block = block;
  }

  /** Reads `listen` (port or "host:port"), `host`/`net` or `port`; false for any other key. */
  read(key: string, value: ConfValue, origin: Origin): boolean {
    switch (key) {
      case 'listen': {
        const hp = readHostPort(value, origin);
        if (hp.host !== undefined) this.set('host', hp.host, origin);
        this.set('port', hp.port, origin);
        return true;
      }
      case 'host':
      case 'net':
        this.set('host', value, origin);
        return true;
      case 'port':
        this.set('port', value, origin);
        return true;
      default:
        return false;
    }
  }

  set(part: 'host' | 'port', value: unknown, origin: Origin): void {
    const earlier = this.seen.get(part);
    if (earlier !== undefined && earlier.value !== value) {
      const what = this.block === 'leafnodes' ? 'leafnode' : this.block;
      failAt(origin, `${part} ${JSON.stringify(value)} conflicts with ${earlier.origin.key} (${JSON.stringify(earlier.value)}); give the ${what} ${part} once`);
    }
    this.seen.set(part, { value, origin });
    this.draft.set(`${this.block}.${part}`, value, origin);
  }
}

function readClusterName(value: ConfValue, origin: Origin): string {
  if (typeof value !== 'string') failAt(origin, `expected a string, got ${describeType(value)}`);
  checkClusterName(value, origin);
  return value;
}

function checkClusterName(name: string, origin: Origin, what = 'cluster'): void {
  if (name.includes(' ')) failAt(origin, `${what} name cannot contain spaces`);
}

/** A cluster or gateway name: a string without spaces. */
export function readLinkName(value: ConfValue, origin: Origin, what: string): string {
  if (typeof value !== 'string') failAt(origin, `expected a string, got ${describeType(value)}`);
  checkClusterName(value, origin, what);
  return value;
}

/** user, password and timeout only; returns the deprecated `permissions` it may hold. */
function readClusterAuthorization(value: ConfValue, origin: Origin, draft: ConfigDraft): RoutePermissions | undefined {
  const auth = readAuthorization(value, origin, draft);
  if (auth.users !== undefined) failAt(origin, 'Cluster authorization does not allow multiple users');
  if (auth.token !== undefined) failAt(origin, 'Cluster authorization does not support tokens');
  if (auth.user !== undefined) draft.set('cluster.authorization.user', auth.user, origin);
  if (auth.password !== undefined) draft.set('cluster.authorization.password', auth.password, origin);
  if (auth.timeoutMs !== undefined) draft.set('cluster.authorization.timeout', auth.timeoutMs, origin);
  if (auth.defaultPermissions === undefined) return undefined;
  const permissions = toRoutePermissions(auth.defaultPermissions, origin);
  draft.warn(origin, 'setting "permissions" within cluster authorization block is deprecated');
  return permissions;
}

/** `permissions { import, export }`: what this server accepts from and sends to its routes. */
function readRoutePermissions(value: ConfValue, origin: Origin): RoutePermissions {
  return toRoutePermissions(readPermissions(value, origin), origin);
}

function toRoutePermissions(perms: Permissions, origin: Origin): RoutePermissions {
  if (perms.allowResponses !== undefined) failAt(origin, 'Cluster permissions do not support dynamic responses');
  // readPermissions reads `import` as publish and `export` as subscribe, as nats-server's parser does.
  const out: RoutePermissions = {};
  if (perms.publish !== undefined) out.import = checkRouteSubjects(perms.publish, 'import', origin);
  if (perms.subscribe !== undefined) out.export = checkRouteSubjects(perms.subscribe, 'export', origin);
  return out;
}

/** Route permissions name subjects only; a `subject queue` pair is valid for users, not here. */
function checkRouteSubjects(perm: SubjectPermission, direction: string, origin: Origin): SubjectPermission {
  for (const list of ['allow', 'deny'] as const) {
    for (const subject of perm[list] ?? []) {
      const problem = subjectProblem(subject, false);
      if (problem !== undefined) failAt(origin, `cluster ${direction} ${list}: ${problem}`);
    }
  }
  return perm;
}

function readRoutes(value: ConfValue, origin: Origin, draft: ConfigDraft): string[] {
  return readUrlList(value, origin, draft, 'route', 'routes');
}

/**
 * A list of server URLs (routes, a remote gateway's, a leaf remote's) as nats-server's
 * parseURLs reads it: duplicates warned about and dropped, each URL checked. `what` names the
 * kind in messages ("route", "gateway", "leafnode"); a single string is a list of one when allowed.
 */
export function readUrlList(value: ConfValue, origin: Origin, draft: ConfigDraft, what: string, field: string, rules: RouteUrlRules = {}, single = false): string[] {
  const list = single && typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) {
    failAt(origin, single ? `Expected remote ${what} url to be an array or string, got ${describeType(value)}` : `Expected ${field} to be an array, got ${describeType(value)}`);
  }
  const urls: string[] = [];
  list.forEach((entry, index) => {
    const o = Array.isArray(value) ? originIn(value, index, childPath(origin.key, index)) : origin;
    if (typeof entry !== 'string') failAt(o, `error parsing ${what} url: expected a string, got ${describeType(entry)}`);
    const url = entry.trim();
    if (urls.includes(url)) {
      draft.warn(o, `Duplicate ${what} entry detected: "${redactRouteUrl(url)}", ignored`);
      return;
    }
    checkUrl(url, o, what, rules);
    urls.push(url);
  });
  return urls;
}

/** Checks one URL; nats-server's message is `error parsing <what> url [...]`. */
export function checkUrl(url: string, origin: Origin, what: string, rules: RouteUrlRules = {}): string {
  const parsed = parseRouteUrl(url, rules);
  if (!parsed.ok) failAt(origin, `error parsing ${what} url [${JSON.stringify(redactRouteUrl(url))}]: ${parsed.problem}`);
  return url;
}

function checkRouteUrl(url: string, origin: Origin): void {
  checkUrl(url, origin, 'route');
}

/** `host` or `host:port` (the port defaults to the cluster port), as nats-server's parseHostPort. */
const ADVERTISE = /^(?:\[[^\]\s]+\]|[^:\s[\]]+)(?::\d+)?$/;

/** An `advertise` value; `label` names it in the error as nats-server does (`Cluster.Advertise`). */
export function readAdvertise(value: ConfValue, origin: Origin, label = 'Cluster.Advertise'): string {
  if (typeof value !== 'string') failAt(origin, `expected a string, got ${describeType(value)}`);
  checkAdvertise(value, origin, label);
  return value;
}

function checkAdvertise(value: string, origin: Origin, label = 'Cluster.Advertise'): void {
  if (!ADVERTISE.test(value)) failAt(origin, `invalid ${label} value of ${value}, expected host or host:port`);
}

/** The cluster flags over the file's block, as nats-server's ConfigureOptions applies them. */
export function applyClusterFlags(draft: ConfigDraft, flags: CliFlags, flagOrigin: (field: FlagField) => Origin): void {
  if (flags.cluster !== undefined) applyClusterListenFlag(draft, flags.cluster, flagOrigin('cluster'));
  if (flags.routes !== undefined) {
    const origin = flagOrigin('routes');
    // An empty --routes clears the file's routes.
    const routes = flags.routes.split(',').map((r) => r.trim()).filter((r) => r !== '');
    for (const url of routes) checkRouteUrl(url, origin);
    draft.set('cluster.routes', routes, origin);
    if (routes.length > 0 && draft.get('cluster.enabled') !== true) failAt(origin, 'solicited routes require cluster capabilities, e.g. --cluster');
  }
  if (flags.clusterName !== undefined) {
    const origin = flagOrigin('clusterName');
    checkClusterName(flags.clusterName, origin);
    draft.set('cluster.name', flags.clusterName, origin);
  }
  if (flags.clusterAdvertise !== undefined) {
    const origin = flagOrigin('clusterAdvertise');
    if (flags.clusterAdvertise !== '') checkAdvertise(flags.clusterAdvertise, origin);
    draft.set('cluster.advertise', flags.clusterAdvertise, origin);
  }
  if (flags.connectRetries !== undefined) draft.set('cluster.connect_retries', flags.connectRetries, flagOrigin('connectRetries'));
}

/** `--cluster nats://[user:pass@]host:port`; an empty value turns clustering off. */
function applyClusterListenFlag(draft: ConfigDraft, text: string, origin: Origin): void {
  if (text === '') {
    draft.set('cluster.enabled', false, origin);
    return;
  }
  const parsed = parseRouteUrl(text, { listen: true });
  if (!parsed.ok) failAt(origin, `could not parse cluster URL "${redactRouteUrl(text)}": ${parsed.problem}`);
  const { host, port, user, password } = parsed.url;
  if (user !== undefined && password === undefined) failAt(origin, 'expected cluster password to be set');
  draft.set('cluster.enabled', true, origin);
  draft.set('cluster.host', host === '' ? DEFAULT_HOST : host, origin);
  draft.set('cluster.port', port, origin);
  // As nats-server: the URL's credentials replace the file's, and a URL without them clears them.
  draft.set('cluster.authorization.user', user ?? '', origin);
  draft.set('cluster.authorization.password', password ?? '', origin);
}
