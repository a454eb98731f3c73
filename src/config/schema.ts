// The convict schema of every option Petrel knows, in nats-server's key names:
// types, ranges and defaults. validateDraft() checks a ConfigDraft against it and
// reports the first bad value at the file position or flag it came from;
// toServerOptions() maps the validated tree to ServerOptions.

import convict from 'convict';
import { DEFAULT_HOST } from './address.ts';
import { join } from 'node:path';
import { ConfigError } from './errors.ts';
import type { ConfigDraft } from './draft.ts';
import { LISTEN_BLOCKS } from './conf-reader.ts';
import type { ListenBlockName } from './conf-reader.ts';
import type { ClusterOptions, GatewayOptions, LeafNodeOptions, LeafUser, ListenBlock, LogLevel, RemoteGatewayOptions, RemoteLeafOptions, ServerOptions, TlsOptions, UserEntry } from './options.ts';
import { formatGoDuration } from './units.ts';
import { TLS_TIMEOUT_MS, tlsOptionsOf } from './tls-config.ts';
import type { CanonicalTls } from './tls-config.ts';

// nats-server defaults (server/const.go), named with their units.
export { DEFAULT_HOST };
export const DEFAULT_PORT = 4222;
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
export const MAX_CONTROL_LINE_BYTES = 4096;
export const DEFAULT_MAX_CONNECTIONS = 64 * 1024;
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;
export const DEFAULT_WRITE_DEADLINE_MS = 10_000;
export const DEFAULT_PING_INTERVAL_MS = 2 * 60_000;
export const DEFAULT_PING_MAX_OUT = 2;
export const DEFAULT_LAME_DUCK_DURATION_MS = 2 * 60_000;
/** nats-server refuses a shorter lame duck duration in a config file. */
export const MIN_LAME_DUCK_DURATION_MS = 30_000;
export const DEFAULT_LAME_DUCK_GRACE_PERIOD_MS = 10_000;
export const AUTH_TIMEOUT_MS = 2_000;
export { TLS_TIMEOUT_MS };
/** nats-server warns above this payload size (MAX_PAYLOAD_MAX_SIZE). */
export const MAX_PAYLOAD_WARN_BYTES = 8 * 1024 * 1024;
/** Protocol sizes are int32 in nats-server. */
const INT32_MAX = 2 ** 31 - 1;
/** JetStreamMaxStoreDefault: 1 TiB (nats-server also caps it at 75% of free disk when starting). */
export const JETSTREAM_MAX_FILE_STORE_DEFAULT_BYTES = 1024 ** 4;
/** nats-server gives JetStream 75% of system memory by default. */
export const JETSTREAM_MEMORY_SHARE = 0.75;
/** In max_memory_store/max_file_store: size chosen at start from the machine. */
const DYNAMIC_SIZE = -1;
/** More routing threads than this is a typo, not a machine. */
export const MAX_WORKERS = 1024;
/** The conventional NATS cluster port (nats-server itself listens for routes only when given one). */
export const DEFAULT_CLUSTER_PORT = 6222;
/** nats-server 2.10 DEFAULT_ROUTE_POOL_SIZE: routes per server pair when pool_size is 0. */
export const DEFAULT_ROUTE_POOL_SIZE = 3;
/** nats-server DEFAULT_LEAF_NODE_RECONNECT: the wait between attempts to reach a hub. */
export const DEFAULT_LEAF_NODE_RECONNECT_MS = 1_000;
/** nats-server DEFAULT_GLOBAL_ACCOUNT: the account of users that name none. */
const GLOBAL_ACCOUNT_NAME = '$G';
/** nats-server DEFAULT_SYSTEM_ACCOUNT: created when no system account is named. */
export const DEFAULT_SYSTEM_ACCOUNT = '$SYS';

/** Facts about the machine the defaults depend on; injected so tests are deterministic. */
export interface RuntimeFacts {
  cpuCount: number;
  totalMemoryBytes: number;
  tmpDir: string;
  /** Human log lines by default when stdout is a terminal. */
  isTTY: boolean;
}

interface CanonicalCluster {
  enabled: boolean;
  name: string;
  host: string;
  port: number;
  advertise: string;
  no_advertise: boolean;
  routes: string[];
  connect_retries: number;
  pool_size: number;
  authorization: { user: string; password: string; timeout: number };
  tls: CanonicalTls;
  permissions: ClusterOptions['permissions'] | null;
}

interface CanonicalGateway {
  enabled: boolean;
  name: string;
  host: string;
  port: number;
  advertise: string;
  connect_retries: number;
  reject_unknown: boolean;
  authorization: { user: string; password: string; timeout: number };
  tls: CanonicalTls;
  gateways: RemoteGatewayOptions[];
}

interface CanonicalLeafNodes {
  enabled: boolean;
  host: string;
  port: number;
  advertise: string;
  no_advertise: boolean;
  reconnect_interval: number;
  min_version: string;
  authorization: { user: string; password: string; timeout: number; account: string; users: LeafUser[] };
  tls: CanonicalTls;
  remotes: RemoteLeafOptions[];
}

interface CanonicalListenBlock {
  enabled: boolean;
  host: string;
  port: number;
  raw: Record<string, unknown>;
}

/** The validated tree: nats-server names, defaults filled, durations in ms. */
export interface CanonicalConfig {
  server_name: string;
  host: string;
  port: number;
  http_host: string;
  http_port: number;
  https_port: number;
  client_advertise: string;
  pid_file: string;
  ports_file_dir: string;
  server_tags: string[];
  max_payload: number;
  max_control_line: number;
  max_connections: number;
  max_subscriptions: number;
  max_pending: number;
  write_deadline: number;
  ping_interval: number;
  ping_max: number;
  lame_duck_duration: number;
  lame_duck_grace_period: number;
  debug: boolean;
  trace: boolean;
  logtime: boolean;
  log_file: string;
  workers: number;
  authorization: {
    token: string;
    user: string;
    password: string;
    timeout: number;
    users: UserEntry[];
    no_auth_user: string;
  };
  tls: CanonicalTls;
  jetstream: {
    enabled: boolean;
    store_dir: string;
    max_memory_store: number;
    max_file_store: number;
    domain: string;
    sync_interval: number;
    store_cache: number;
    unique_tag: string;
  };
  cluster: CanonicalCluster;
  system_account: string;
  no_system_account: boolean;
  gateway: CanonicalGateway;
  leafnodes: CanonicalLeafNodes;
  websocket: CanonicalListenBlock;
  mqtt: CanonicalListenBlock;
  accounts: Record<string, unknown> | null;
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

function intFormat(name: string, min: number, max: number, problem: string): void {
  convict.addFormat({
    name,
    validate(value) {
      if (!isInt(value) || value < min || value > max) throw new Error(problem);
    },
  });
}

let formatsRegistered = false;

/** convict formats are global; names carry a `nats-` prefix to stay out of others' way. */
function registerFormats(): void {
  if (formatsRegistered) return;
  formatsRegistered = true;
  intFormat('nats-port', -1, 65535, 'must be a port between -1 and 65535 (-1 picks a free port)');
  intFormat('nats-int32-size', 1, INT32_MAX, `must be a size between 1 and ${INT32_MAX} bytes`);
  intFormat('nats-positive-int', 1, Number.MAX_SAFE_INTEGER, 'must be a positive integer');
  intFormat('nats-count', 0, Number.MAX_SAFE_INTEGER, 'must be an integer >= 0');
  intFormat('nats-max-connections', -1, Number.MAX_SAFE_INTEGER, 'must be an integer (0 or less refuses all clients)');
  intFormat('nats-js-size', DYNAMIC_SIZE, Number.MAX_SAFE_INTEGER, 'must be a size in bytes (-1 = chosen at start)');
  intFormat('nats-workers', 1, MAX_WORKERS, `must be an integer between 1 and ${MAX_WORKERS}`);
  intFormat('nats-int', -INT32_MAX, INT32_MAX, 'must be an integer');
  convict.addFormat({
    name: 'nats-duration',
    validate(value) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new Error('must be a duration ("10s", "2m", "1h30m") or a number of seconds, not negative');
      }
    },
  });
  convict.addFormat({
    name: 'nats-positive-duration',
    validate(value) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new Error('must be a positive duration ("10s", "2m", "1h30m")');
      }
    },
  });
  convict.addFormat({
    name: 'nats-lame-duck-duration',
    validate(value) {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error('must be a duration ("30s", "2m")');
      if (value < MIN_LAME_DUCK_DURATION_MS) {
        throw new Error(`invalid lame_duck_duration of ${formatGoDuration(value)}, minimum is 30 seconds`);
      }
    },
  });
  convict.addFormat({
    name: 'nats-strings',
    validate(value) {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Error('must be a list of strings');
    },
  });
  convict.addFormat({
    name: 'nats-users',
    validate(value) {
      if (!Array.isArray(value)) throw new Error('must be a list of users');
    },
  });
}

function listenBlockSchema(name: string): object {
  return {
    enabled: { doc: `Whether a ${name} block was given.`, format: Boolean, default: false },
    host: { doc: `${name} listen host.`, format: String, default: DEFAULT_HOST },
    port: { doc: `${name} listen port; 0 = none given, -1 = pick a free port.`, format: 'nats-port', default: 0 },
    raw: { doc: `The ${name} block as written, for the code that serves it.`, format: Object, default: {} },
  };
}

function tlsSchema(who: string): object {
  return {
    enabled: { doc: `${who} TLS.`, format: Boolean, default: false },
    cert_file: { doc: 'Server certificate.', format: String, default: '' },
    key_file: { doc: 'Server key.', format: String, default: '' },
    ca_file: { doc: `CA for ${who.toLowerCase()} certificates.`, format: String, default: '' },
    verify: { doc: `Require ${who.toLowerCase()} certificates.`, format: Boolean, default: false },
    timeout: { doc: 'TLS handshake timeout, ms.', format: 'nats-positive-duration', default: TLS_TIMEOUT_MS },
    handshake_first: { doc: 'TLS before INFO.', format: Boolean, default: false },
  };
}

function clusterSchema(): object {
  return {
    enabled: { doc: 'Whether a cluster block or --cluster was given.', format: Boolean, default: false },
    name: { doc: "Cluster name; '' = generated by the server.", format: String, default: '' },
    host: { doc: 'Route listen host.', format: String, default: DEFAULT_HOST },
    port: { doc: 'Route listen port; -1 = pick a free port.', format: 'nats-port', default: DEFAULT_CLUSTER_PORT },
    advertise: { doc: 'host[:port] advertised to other servers.', format: String, default: '' },
    no_advertise: { doc: 'Keep cluster URLs out of gossip and client INFO.', format: Boolean, default: false },
    routes: { doc: 'Routes to solicit, as written.', format: 'nats-strings', default: [] },
    connect_retries: { doc: 'Connect retries for routes.', format: 'nats-count', default: 0 },
    pool_size: { doc: `Routes per server pair (2.10); 0 = ${DEFAULT_ROUTE_POOL_SIZE}, negative = no pooling.`, format: 'nats-int', default: 0 },
    authorization: {
      user: { doc: 'Route user.', format: String, default: '' },
      password: { doc: 'Route password.', format: String, default: '', sensitive: true },
      timeout: { doc: 'Route authentication timeout, ms; 0 = 2s, or the TLS timeout + 1s with TLS.', format: 'nats-duration', default: 0 },
    },
    tls: tlsSchema('Route'),
    permissions: { doc: 'Route import/export permissions.', format: Object, default: null, nullable: true },
  };
}

function gatewaySchema(): object {
  return {
    enabled: { doc: 'Whether a gateway block was given.', format: Boolean, default: false },
    name: { doc: "This cluster's gateway name.", format: String, default: '' },
    host: { doc: 'Gateway listen host.', format: String, default: DEFAULT_HOST },
    port: { doc: 'Gateway listen port; 0 = none given, -1 = pick a free port.', format: 'nats-port', default: 0 },
    advertise: { doc: 'host[:port] advertised to other clusters.', format: String, default: '' },
    connect_retries: { doc: 'Attempts for an implicit gateway.', format: 'nats-count', default: 0 },
    reject_unknown: { doc: 'Refuse gateways not configured here.', format: Boolean, default: false },
    authorization: {
      user: { doc: 'Gateway user.', format: String, default: '' },
      password: { doc: 'Gateway password.', format: String, default: '', sensitive: true },
      timeout: { doc: 'Gateway authentication timeout, ms; 0 = 2s, or the TLS timeout + 1s with TLS.', format: 'nats-duration', default: 0 },
    },
    tls: tlsSchema('Gateway'),
    gateways: { doc: 'Remote gateways, as read.', format: Array, default: [] },
  };
}

function leafNodesSchema(): object {
  return {
    enabled: { doc: 'Whether a leafnodes block was given.', format: Boolean, default: false },
    host: { doc: 'Leafnode listen host.', format: String, default: DEFAULT_HOST },
    port: { doc: 'Leafnode listen port; 0 = no listener, -1 = pick a free port.', format: 'nats-port', default: 0 },
    advertise: { doc: 'host[:port] advertised to leaf nodes.', format: String, default: '' },
    no_advertise: { doc: 'Keep leafnode URLs out of INFO.', format: Boolean, default: false },
    reconnect_interval: { doc: 'Wait between attempts to reach a hub, ms.', format: 'nats-positive-duration', default: DEFAULT_LEAF_NODE_RECONNECT_MS },
    min_version: { doc: 'Oldest leaf node version accepted.', format: String, default: '' },
    authorization: {
      user: { doc: 'Leafnode user.', format: String, default: '' },
      password: { doc: 'Leafnode password.', format: String, default: '', sensitive: true },
      timeout: { doc: 'Leafnode authentication timeout, ms; 0 = 2s, or the TLS timeout + 1s with TLS.', format: 'nats-duration', default: 0 },
      account: { doc: 'Account leaf connections bind to.', format: String, default: '' },
      users: { doc: 'Leafnode users, as read.', format: Array, default: [] },
    },
    tls: tlsSchema('Leafnode'),
    remotes: { doc: 'Hubs to connect to, as read.', format: Array, default: [] },
  };
}

function buildSchema(facts: RuntimeFacts): object {
  registerFormats();
  const schema: Record<string, unknown> = {
    server_name: { doc: 'Server name; empty = the server ID.', format: String, default: '' },
    host: { doc: 'Client listen host.', format: String, default: DEFAULT_HOST },
    port: { doc: 'Client port; -1 = pick a free port.', format: 'nats-port', default: DEFAULT_PORT },
    http_host: { doc: 'Monitoring host; empty = same as host.', format: String, default: '' },
    http_port: { doc: 'Monitoring port; 0 = disabled.', format: 'nats-port', default: 0 },
    https_port: { doc: 'Accepted for compatibility, not served.', format: 'nats-port', default: 0 },
    client_advertise: { doc: 'Client URL advertised to other servers.', format: String, default: '' },
    pid_file: { doc: 'File to write the PID to.', format: String, default: '' },
    ports_file_dir: { doc: 'Directory for the <name>_<pid>.ports file.', format: String, default: '' },
    server_tags: { doc: 'Tags for placement.', format: 'nats-strings', default: [] },
    max_payload: { doc: 'Largest message payload, bytes.', format: 'nats-int32-size', default: MAX_PAYLOAD_BYTES },
    max_control_line: { doc: 'Longest protocol line, bytes.', format: 'nats-int32-size', default: MAX_CONTROL_LINE_BYTES },
    max_connections: { doc: 'Client connection limit.', format: 'nats-max-connections', default: DEFAULT_MAX_CONNECTIONS },
    max_subscriptions: { doc: 'Per-connection subscription limit; 0 = unlimited.', format: 'nats-count', default: 0 },
    max_pending: { doc: 'Outbound bytes pending per connection before slow consumer.', format: 'nats-positive-int', default: MAX_PENDING_BYTES },
    write_deadline: { doc: 'Write deadline, ms.', format: 'nats-positive-duration', default: DEFAULT_WRITE_DEADLINE_MS },
    ping_interval: { doc: 'Server PING interval, ms.', format: 'nats-positive-duration', default: DEFAULT_PING_INTERVAL_MS },
    ping_max: { doc: 'Outstanding PINGs before disconnect.', format: 'nats-positive-int', default: DEFAULT_PING_MAX_OUT },
    lame_duck_duration: { doc: 'Lame duck duration, ms.', format: 'nats-lame-duck-duration', default: DEFAULT_LAME_DUCK_DURATION_MS },
    lame_duck_grace_period: { doc: 'Wait before closing clients in lame duck, ms.', format: 'nats-duration', default: DEFAULT_LAME_DUCK_GRACE_PERIOD_MS },
    debug: { doc: 'Debug logging.', format: Boolean, default: false },
    trace: { doc: 'Protocol trace logging.', format: Boolean, default: false },
    logtime: { doc: 'Timestamps on log lines.', format: Boolean, default: true },
    log_file: { doc: 'Log file; empty = stderr.', format: String, default: '' },
    workers: { doc: 'Routing worker threads (Petrel).', format: 'nats-workers', default: defaultWorkers(facts.cpuCount) },
    authorization: {
      token: { doc: 'Client token.', format: String, default: '', sensitive: true },
      user: { doc: 'Single client user.', format: String, default: '' },
      password: { doc: 'Single client password.', format: String, default: '', sensitive: true },
      timeout: { doc: 'Authentication timeout, ms.', format: 'nats-positive-duration', default: AUTH_TIMEOUT_MS },
      users: { doc: 'Users (authorization block and accounts).', format: 'nats-users', default: [] },
      no_auth_user: { doc: 'User for clients that give no credentials.', format: String, default: '' },
    },
    tls: tlsSchema('Client'),
    cluster: clusterSchema(),
    gateway: gatewaySchema(),
    leafnodes: leafNodesSchema(),
    system_account: { doc: `System account; '' = ${DEFAULT_SYSTEM_ACCOUNT} unless no_system_account.`, format: String, default: '' },
    no_system_account: { doc: 'No default system account.', format: Boolean, default: false },
    jetstream: {
      enabled: { doc: 'JetStream.', format: Boolean, default: false },
      store_dir: { doc: 'Storage directory; `jetstream` is created inside it.', format: String, default: '' },
      max_memory_store: { doc: 'Memory storage limit, bytes; -1 = 75% of RAM.', format: 'nats-js-size', default: DYNAMIC_SIZE },
      max_file_store: { doc: 'File storage limit, bytes; -1 = 1 TiB.', format: 'nats-js-size', default: DYNAMIC_SIZE },
      domain: { doc: 'JetStream domain.', format: String, default: '' },
      sync_interval: { doc: 'Lazy fsync interval, ms; 0 = fsync every write.', format: 'nats-duration', default: 0 },
      store_cache: { doc: "File stores' offset-table cache per JetStream thread, bytes; -1 = 128 MiB (Petrel only).", format: 'nats-js-size', default: DYNAMIC_SIZE },
      unique_tag: { doc: 'Tag prefix whose values the replicas of one stream must not share (placement).', format: String, default: '' },
    },
    accounts: { doc: 'Accounts as written.', format: Object, default: null, nullable: true },
  };
  for (const name of LISTEN_BLOCKS) schema[name] = listenBlockSchema(name);
  return schema;
}

/** convict's message line: `<path>: <problem>[: value was <json>]`. */
const CONVICT_LINE = /^([\w.]+): (.*)$/;

/** Validates the draft with convict; throws ConfigError at the first bad value's origin. */
export function validateDraft(draft: ConfigDraft, facts: RuntimeFacts): CanonicalConfig {
  const config = convict<CanonicalConfig>(buildSchema(facts), { env: {}, args: [] });
  try {
    config.load(draft.values);
    config.validate({ allowed: 'strict' });
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0] ?? '';
    const m = CONVICT_LINE.exec(first);
    if (m === null) throw new ConfigError(first);
    const origin = draft.originOf(m[1] ?? '');
    throw ConfigError.at(origin.position, origin.key, m[2] ?? first);
  }
  const canonical = config.getProperties();
  // convict deep-clones; keep the parsed objects themselves so their positions stay readable.
  for (const name of LISTEN_BLOCKS) {
    const raw = draft.get(`${name}.raw`);
    if (raw !== undefined) canonical[name].raw = raw as Record<string, unknown>;
  }
  const accounts = draft.get('accounts');
  if (accounts !== undefined) canonical.accounts = accounts as Record<string, unknown>;
  // The lists were built and checked by the readers; keep them as built.
  for (const path of ['gateway.gateways', 'leafnodes.remotes', 'leafnodes.authorization.users']) {
    const v = draft.get(path);
    if (v === undefined) continue;
    const [block, ...rest] = path.split('.');
    let node = canonical[block as 'gateway'] as unknown as Record<string, unknown>;
    for (const k of rest.slice(0, -1)) node = node[k] as Record<string, unknown>;
    node[rest[rest.length - 1]!] = v;
  }
  const routePermissions = draft.get('cluster.permissions');
  if (routePermissions !== undefined) canonical.cluster.permissions = routePermissions as ClusterOptions['permissions'];
  crossCheck(canonical, draft);
  return canonical;
}

/** Rules that involve more than one option (nats-server validateOptions and friends). */
function crossCheck(c: CanonicalConfig, draft: ConfigDraft): void {
  if (c.lame_duck_grace_period >= c.lame_duck_duration) {
    const o = draft.originOf('lame_duck_grace_period');
    throw ConfigError.at(
      o.position,
      o.key,
      `lame duck grace period (${formatGoDuration(c.lame_duck_grace_period)}) should be strictly lower than lame duck duration (${formatGoDuration(c.lame_duck_duration)})`,
    );
  }
  if (c.max_payload > c.max_pending) {
    const o = draft.originOf('max_payload');
    throw ConfigError.at(o.position, o.key, `max_payload (${c.max_payload}) cannot be higher than max_pending (${c.max_pending})`);
  }
  if (c.max_payload > MAX_PAYLOAD_WARN_BYTES) {
    draft.warn(draft.originOf('max_payload'), 'Maximum payloads over 8.00 MB are generally discouraged and could lead to poor performance');
  }
  const noAuthUser = c.authorization.no_auth_user;
  if (noAuthUser !== '' && !c.authorization.users.some((u) => u.user === noAuthUser || u.nkey === noAuthUser)) {
    const o = draft.originOf('authorization.no_auth_user');
    throw ConfigError.at(
      o.position,
      o.key,
      `no_auth_user: "${noAuthUser}" not present as user or nkey in authorization block or account configuration`,
    );
  }
  const sys = c.system_account;
  if (sys !== '' && sys !== DEFAULT_SYSTEM_ACCOUNT && !Object.hasOwn(c.accounts ?? {}, sys)) {
    const o = draft.originOf('system_account');
    throw ConfigError.at(o.position, o.key, `error resolving system account: account "${sys}" missing (define it in accounts)`);
  }
  crossCheckGateway(c, draft);
  crossCheckLeafNodes(c, draft);
  if (c.tls.enabled && (c.tls.cert_file === '' || c.tls.key_file === '')) {
    const o = draft.originOf('tls');
    throw ConfigError.at(o.position, o.key, c.tls.cert_file === '' ? 'TLS Server certificate must be present and valid' : 'TLS Server private key must be present and valid');
  }
}

/** nats-server validateGatewayOptions: a gateway needs a name and a port (a block with neither is none). */
function crossCheckGateway(c: CanonicalConfig, draft: ConfigDraft): void {
  const g = c.gateway;
  if (!g.enabled || (g.name === '' && g.port === 0)) return;
  const o = draft.originOf('gateway');
  if (g.name === '') throw ConfigError.at(o.position, o.key, 'gateway has no name');
  if (g.port === 0) throw ConfigError.at(o.position, o.key, `gateway ${JSON.stringify(g.name)} has no port specified (select -1 for random port)`);
  // nats-server's validateCluster: a cluster carries its gateway's name.
  if (c.cluster.enabled && c.cluster.name !== '' && c.cluster.name !== g.name) {
    const n = draft.originOf('cluster.name');
    throw ConfigError.at(n.position, n.key, 'cluster name conflicts between cluster and gateway definitions');
  }
}

/** nats-server validateLeafNode: the accounts leaf connections bind to exist; gateways want a system account. */
function crossCheckLeafNodes(c: CanonicalConfig, draft: ConfigDraft): void {
  const l = c.leafnodes;
  if (!l.enabled) return;
  const known = new Set(['', GLOBAL_ACCOUNT_NAME, ...Object.keys(c.accounts ?? {})]);
  if (c.system_account === '' && !c.no_system_account) known.add(DEFAULT_SYSTEM_ACCOUNT);
  if (c.system_account !== '') known.add(c.system_account);
  const check = (account: string | undefined, where: string, path: string): void => {
    if (account === undefined || known.has(account)) return;
    const o = draft.originOf(path);
    throw ConfigError.at(o.position, o.key, `cannot find local account ${JSON.stringify(account)} specified in leafnode ${where}`);
  };
  check(l.authorization.account, 'authorization', 'leafnodes.authorization.account');
  for (const u of l.authorization.users) check(u.account, 'authorization', 'leafnodes.authorization.users');
  for (const r of l.remotes) check(r.account, 'remote', 'leafnodes.remotes');
  const gatewayOn = c.gateway.enabled && (c.gateway.name !== '' || c.gateway.port !== 0);
  // As nats-server, the default system account does not count here: it must be named.
  if (l.port !== 0 && gatewayOn && c.system_account === '') {
    const o = draft.originOf('leafnodes');
    throw ConfigError.at(o.position, o.key, 'leaf nodes and gateways (both being defined) require a system account to also be configured');
  }
}

const orUndefined = (s: string): string | undefined => (s === '' ? undefined : s);

function logLevel(c: CanonicalConfig): LogLevel {
  if (c.trace) return 'trace';
  if (c.debug) return 'debug';
  return 'info';
}

function listenBlock(c: CanonicalConfig, name: ListenBlockName): ListenBlock | undefined {
  const b = c[name];
  return b.enabled ? { host: b.host, port: b.port, raw: b.raw } : undefined;
}

const tlsOptions = tlsOptionsOf;

/** nats-server getDefaultAuthTimeout: 2s, or with TLS one second more than the handshake may take. */
export function defaultRouteAuthTimeoutMs(tls: TlsOptions | undefined): number {
  return tls !== undefined ? tls.timeoutMs + 1000 : AUTH_TIMEOUT_MS;
}

function clusterOptions(c: CanonicalCluster): ClusterOptions {
  const cluster: ClusterOptions = {
    name: c.name,
    host: c.host,
    port: c.port,
    noAdvertise: c.no_advertise,
    routes: c.routes,
    connectRetries: c.connect_retries,
    poolSize: c.pool_size === 0 ? DEFAULT_ROUTE_POOL_SIZE : Math.max(-1, c.pool_size),
  };
  if (c.advertise !== '') cluster.advertise = c.advertise;
  if (c.tls.enabled) cluster.tls = tlsOptions(c.tls, true);
  const a = c.authorization;
  if (a.user !== '' || a.password !== '') {
    cluster.authorization = { timeoutMs: a.timeout > 0 ? Math.round(a.timeout) : defaultRouteAuthTimeoutMs(cluster.tls) };
    if (a.user !== '') cluster.authorization.user = a.user;
    if (a.password !== '') cluster.authorization.password = a.password;
  }
  if (c.permissions !== null && c.permissions !== undefined) cluster.permissions = c.permissions;
  return cluster;
}

function gatewayOptions(c: CanonicalGateway): GatewayOptions | undefined {
  if (!c.enabled || (c.name === '' && c.port === 0)) return undefined;
  const g: GatewayOptions = {
    name: c.name,
    host: c.host,
    port: c.port,
    connectRetries: c.connect_retries,
    rejectUnknown: c.reject_unknown,
    gateways: c.gateways,
  };
  if (c.advertise !== '') g.advertise = c.advertise;
  if (c.tls.enabled) g.tls = tlsOptions(c.tls, true);
  const a = c.authorization;
  if (a.user !== '' || a.password !== '') {
    g.authorization = { timeoutMs: a.timeout > 0 ? Math.round(a.timeout) : defaultRouteAuthTimeoutMs(g.tls) };
    if (a.user !== '') g.authorization.user = a.user;
    if (a.password !== '') g.authorization.password = a.password;
  }
  return g;
}

function leafNodeOptions(c: CanonicalLeafNodes): LeafNodeOptions | undefined {
  if (!c.enabled) return undefined;
  const l: LeafNodeOptions = {
    host: c.host,
    port: c.port,
    noAdvertise: c.no_advertise,
    reconnectIntervalMs: Math.round(c.reconnect_interval),
    remotes: c.remotes,
  };
  if (c.advertise !== '') l.advertise = c.advertise;
  if (c.min_version !== '') l.minVersion = c.min_version;
  if (c.tls.enabled) l.tls = tlsOptions(c.tls, false);
  const a = c.authorization;
  const auth: NonNullable<LeafNodeOptions['authorization']> = { timeoutMs: a.timeout > 0 ? Math.round(a.timeout) : defaultRouteAuthTimeoutMs(l.tls) };
  if (a.user !== '') auth.user = a.user;
  if (a.password !== '') auth.password = a.password;
  if (a.account !== '') auth.account = a.account;
  if (a.users.length > 0) auth.users = a.users;
  l.authorization = auth;
  return l;
}

function systemAccount(c: CanonicalConfig): string {
  if (c.system_account !== '') return c.system_account;
  return c.no_system_account ? '' : DEFAULT_SYSTEM_ACCOUNT;
}

export interface PresentationChoices {
  configFile?: string;
  /** `--pretty`; undefined = decide from the terminal. */
  pretty?: boolean;
}

export function toServerOptions(c: CanonicalConfig, facts: RuntimeFacts, choices: PresentationChoices = {}): ServerOptions {
  const a = c.authorization;
  const js = c.jetstream;
  const options: ServerOptions = {
    serverName: c.server_name,
    host: c.host,
    port: c.port,
    httpHost: c.http_host === '' ? c.host : c.http_host,
    httpPort: c.http_port,
    noAdvertise: c.cluster.no_advertise,
    serverTags: c.server_tags,
    maxPayload: c.max_payload,
    maxControlLine: c.max_control_line,
    maxConnections: c.max_connections,
    maxSubscriptions: c.max_subscriptions,
    maxPending: c.max_pending,
    writeDeadlineMs: Math.round(c.write_deadline),
    pingIntervalMs: Math.round(c.ping_interval),
    pingMax: c.ping_max,
    lameDuckDurationMs: Math.round(c.lame_duck_duration),
    lameDuckGracePeriodMs: Math.round(c.lame_duck_grace_period),
    auth: {
      users: a.users,
      timeoutMs: Math.round(a.timeout),
    },
    logLevel: logLevel(c),
    pretty: choices.pretty ?? facts.isTTY,
    logtime: c.logtime,
    workers: c.workers,
    systemAccount: systemAccount(c),
    jetstream: {
      enabled: js.enabled,
      // As nats-server: data lives in `<store_dir>/jetstream`, by default under the temp dir.
      storeDir: join(js.store_dir === '' ? join(facts.tmpDir, 'nats') : js.store_dir, 'jetstream'),
      maxMemoryStore: js.max_memory_store === DYNAMIC_SIZE ? Math.floor(facts.totalMemoryBytes * JETSTREAM_MEMORY_SHARE) : js.max_memory_store,
      maxFileStore: js.max_file_store === DYNAMIC_SIZE ? JETSTREAM_MAX_FILE_STORE_DEFAULT_BYTES : js.max_file_store,
      syncIntervalMs: Math.round(js.sync_interval),
    },
  };
  const optional: Partial<ServerOptions> = {
    configFile: choices.configFile,
    clientAdvertise: orUndefined(c.client_advertise),
    pidFile: orUndefined(c.pid_file),
    portsFileDir: orUndefined(c.ports_file_dir),
    logFile: orUndefined(c.log_file),
    // nats-server's validateCluster: without a name of its own, a cluster takes its gateway's.
    cluster: c.cluster.enabled ? clusterOptions({ ...c.cluster, name: c.cluster.name || (c.gateway.enabled ? c.gateway.name : '') }) : undefined,
    gateway: gatewayOptions(c.gateway),
    leafnodes: leafNodeOptions(c.leafnodes),
    websocket: listenBlock(c, 'websocket'),
    mqtt: listenBlock(c, 'mqtt'),
    accounts: c.accounts ?? undefined,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (options as unknown as Record<string, unknown>)[k] = v;
  if (a.token !== '') options.auth.token = a.token;
  if (a.user !== '') options.auth.user = a.user;
  if (a.password !== '') options.auth.password = a.password;
  if (a.no_auth_user !== '') options.auth.noAuthUser = a.no_auth_user;
  if (js.domain !== '') options.jetstream.domain = js.domain;
  if (js.store_cache !== DYNAMIC_SIZE) options.jetstream.storeCacheBytes = js.store_cache;
  if (js.unique_tag !== '') options.jetstream.uniqueTag = js.unique_tag;
  if (c.tls.enabled) options.tls = tlsOptions(c.tls, false);
  return options;
}

/**
 * Routing workers when the config does not say: half the cores. Measured on 2 cores
 * (test/bench/README.md), one worker beat two in every scenario — a message that crosses workers
 * pays a ring hop and a wake-up, and the main thread, the JetStream host and the kernel need
 * cores too — so small machines get one worker and larger ones leave room for those threads.
 */
export function defaultWorkers(cpuCount: number): number {
  return Math.max(1, Math.min(MAX_WORKERS, Math.floor(cpuCount / 2)));
}
