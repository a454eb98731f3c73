// Turns a parsed config file into a ConfigDraft: folds nats-server's key aliases
// and case, converts polymorphic forms (`http: "h:p"`, `jetstream: enabled`,
// durations, string sizes) into one canonical shape, and records where each
// value was written. Types and ranges of the canonical leaves are left to the
// convict schema; unknown keys become warnings.

import { readHostPort } from './address.ts';
import { checkDuplicateUsers, parseDurationAt, readAuthorization, readUsers } from './auth-config.ts';
import { readCluster } from './cluster-config.ts';
import { readGateway } from './gateway-config.ts';
import { readLeafNodes } from './leafnode-config.ts';
import type { UserEntry } from './options.ts';
import { ConfigDraft, childPath, describeType, failAt, originIn } from './draft.ts';
import type { Origin } from './draft.ts';
import { isConfMap, isUsedVariable } from './parser.ts';
import type { ConfMap, ConfValue } from './parser.ts';
import { readTlsBlock } from './tls-config.ts';
import { booleanLike, parseStorageSize } from './units.ts';

export const LISTEN_BLOCKS = ['websocket', 'mqtt'] as const;
export type ListenBlockName = (typeof LISTEN_BLOCKS)[number];

/** Keys nats-server knows that Petrel reads but does not act on (yet). */
const ACCEPTED_UNSUPPORTED = new Set([
  'syslog', 'remote_syslog', 'logtime_utc', 'log_size_limit', 'logfile_size_limit', 'log_max_num', 'logfile_max_num',
  'trace_headers', 'http_base_path', 'prof_port', 'prof_block_rate', 'max_traced_msg_len', 'disable_sublist_cache',
  'no_sublist_cache', 'max_sub_tokens', 'max_subscription_tokens', 'proxy_protocol', 'ocsp', 'ocsp_cache',
  'allow_non_tls', 'write_timeout', 'operator', 'operators', 'roots', 'root', 'root_operators', 'root_operator',
  'resolver', 'account_resolver', 'accounts_resolver', 'resolver_tls', 'resolver_preload', 'resolver_pinned_accounts',
  'no_header_support', 'trusted',
  'trusted_keys', 'connect_error_reports', 'reconnect_error_reports', 'server_metadata', 'feature_flags',
  'default_js_domain', 'no_fast_producer_stall', 'max_closed_clients', 'proxies', 'mappings', 'maps',
  'default_sentinel',
]);

type TopLevelReader = (value: ConfValue, origin: Origin, draft: ConfigDraft) => void;

const raw =
  (path: string): TopLevelReader =>
  (value, origin, draft) =>
    draft.set(path, value, origin);

const bool =
  (path: string): TopLevelReader =>
  (value, origin, draft) =>
    draft.set(path, booleanLike(value) ?? value, origin);

const duration =
  (path: string): TopLevelReader =>
  (value, origin, draft) =>
    draft.set(path, readDuration(value, origin, draft), origin);

const TOP_LEVEL: Readonly<Record<string, TopLevelReader>> = {
  listen: (value, origin, draft) => {
    const hp = readHostPort(value, origin);
    if (hp.host !== undefined) draft.set('host', hp.host, origin);
    draft.set('port', hp.port, origin);
  },
  host: raw('host'),
  net: raw('host'),
  port: raw('port'),
  server_name: (value, origin, draft) => {
    if (typeof value === 'string' && value.includes(' ')) failAt(origin, 'server name cannot contain spaces');
    draft.set('server_name', value, origin);
  },
  client_advertise: raw('client_advertise'),
  http: (value, origin, draft) => {
    const hp = readHostPort(value, origin);
    if (hp.host !== undefined) draft.set('http_host', hp.host, origin);
    draft.set('http_port', hp.port, origin);
  },
  http_port: raw('http_port'),
  monitor_port: raw('http_port'),
  https: (value, origin, draft) => {
    const hp = readHostPort(value, origin);
    if (hp.host !== undefined) draft.set('http_host', hp.host, origin);
    draft.set('https_port', hp.port, origin);
    draft.warn(origin, 'https monitoring is not supported by Petrel yet, ignored');
  },
  https_port: (value, origin, draft) => {
    draft.set('https_port', value, origin);
    draft.warn(origin, 'https monitoring is not supported by Petrel yet, ignored');
  },
  pid_file: raw('pid_file'),
  pidfile: raw('pid_file'),
  ports_file_dir: raw('ports_file_dir'),
  server_tags: (value, origin, draft) => {
    const tags = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
      failAt(origin, `error parsing tags: unsupported type ${describeType(value)}, expected strings`);
    }
    draft.set('server_tags', tags, origin);
  },
  max_payload: raw('max_payload'),
  max_control_line: raw('max_control_line'),
  max_connections: maxConnections,
  max_conn: maxConnections,
  max_subscriptions: raw('max_subscriptions'),
  max_subs: raw('max_subscriptions'),
  max_pending: raw('max_pending'),
  write_deadline: duration('write_deadline'),
  ping_interval: duration('ping_interval'),
  ping_max: raw('ping_max'),
  lame_duck_duration: duration('lame_duck_duration'),
  lame_duck_grace_period: duration('lame_duck_grace_period'),
  // Not a nats-server key (its flag is): the cluster's no_advertise, kept for older Petrel configs.
  no_advertise: bool('cluster.no_advertise'),
  system_account: systemAccount,
  system: systemAccount,
  no_system_account: bool('no_system_account'),
  no_system: bool('no_system_account'),
  no_sys_acc: bool('no_system_account'),
  debug: bool('debug'),
  trace: bool('trace'),
  trace_verbose: bool('trace'),
  logtime: bool('logtime'),
  log_file: raw('log_file'),
  logfile: raw('log_file'),
  workers: raw('workers'),
  no_auth_user: raw('authorization.no_auth_user'),
  authorization: (value, origin, draft) => {
    const auth = readAuthorization(value, origin, draft);
    if (auth.token !== undefined) draft.set('authorization.token', auth.token, origin);
    if (auth.user !== undefined) draft.set('authorization.user', auth.user, origin);
    if (auth.password !== undefined) draft.set('authorization.password', auth.password, origin);
    if (auth.timeoutMs !== undefined) draft.set('authorization.timeout', auth.timeoutMs, origin);
    if (auth.users !== undefined) addUsers(draft, auth.users, origin);
  },
  tls: (value, origin, draft) => readTlsBlock(value, origin, draft, { path: 'tls', clientContext: true }),
  jetstream: readJetStream,
  store_dir: storeDir,
  storedir: storeDir,
  accounts: readAccounts,
  cluster: readCluster,
  gateway: readGateway,
  leafnodes: readLeafNodes,
  leaf: readLeafNodes,
  websocket: listenBlock('websocket'),
  ws: listenBlock('websocket'),
  mqtt: listenBlock('mqtt'),
};

/** Reads a parsed config file into a new draft. */
export function readConfMap(root: ConfMap): ConfigDraft {
  const draft = new ConfigDraft();
  for (const key of Object.keys(root)) {
    const value = root[key] as ConfValue;
    const origin = originIn(root, key, key);
    const lower = key.toLowerCase();
    const reader = TOP_LEVEL[lower];
    if (reader !== undefined) {
      reader(value, origin, draft);
    } else if (ACCEPTED_UNSUPPORTED.has(lower)) {
      draft.warn(origin, `field "${key}" is not supported by Petrel, ignored`);
    } else if (!isUsedVariable(root, key)) {
      // A top-level key referenced as `$key` is a variable definition, not an option.
      draft.warn(origin, `unknown field "${key}", ignored`);
    }
  }
  const users = draft.get('authorization.users');
  if (Array.isArray(users)) checkDuplicateUsers(users as UserEntry[], draft.originOf('authorization.users'));
  return draft;
}

function addUsers(draft: ConfigDraft, users: UserEntry[], origin: Origin): void {
  const existing = draft.get('authorization.users');
  const all = Array.isArray(existing) ? [...(existing as UserEntry[]), ...users] : users;
  draft.set('authorization.users', all, origin);
}

function maxConnections(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  // nats-server: `max_connections: 0` (or negative) refuses every client; -1 says so.
  draft.set('max_connections', typeof value === 'number' && value <= 0 ? -1 : value, origin);
}

function systemAccount(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  if (typeof value !== 'string') failAt(origin, 'system account name must be a string');
  draft.set('system_account', value, origin);
}

function storeDir(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  if (draft.has('jetstream.store_dir')) failAt(origin, "Duplicate 'store_dir' configuration");
  draft.set('jetstream.store_dir', value, origin);
}

/** A duration string; a bare number is seconds (nats-server's older form, with its warning). */
function readDuration(value: ConfValue, origin: Origin, draft: ConfigDraft): unknown {
  const field = origin.key;
  if (typeof value === 'string') return parseDurationAt(value, origin, `error parsing ${field}: `);
  if (typeof value === 'number') {
    draft.warn(origin, `invalid use of field "${field}": ${field} should be converted to a duration`);
    return value * 1000;
  }
  return value; // the schema reports the wrong type
}

function readJetStream(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  if (typeof value === 'boolean') return draft.set('jetstream.enabled', value, origin);
  if (typeof value === 'string') {
    const b = booleanLike(value);
    if (b === undefined) failAt(origin, `Expected 'enabled' or 'disabled' for string value, got '${value}'`);
    return draft.set('jetstream.enabled', b, origin);
  }
  if (!isConfMap(value)) failAt(origin, `Expected map, bool or string to define JetStream, got ${describeType(value)}`);
  let enabled: unknown = true;
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    switch (key.toLowerCase()) {
      case 'store':
      case 'store_dir':
      case 'storedir':
        storeDir(v, o, draft);
        break;
      case 'max_memory_store':
      case 'max_mem_store':
      case 'max_mem':
        draft.set('jetstream.max_memory_store', storageSize(v, o, 'max_mem_store'), o);
        break;
      case 'max_file_store':
      case 'max_file':
        draft.set('jetstream.max_file_store', storageSize(v, o, 'max_file_store'), o);
        break;
      case 'domain':
        draft.set('jetstream.domain', v, o);
        break;
      case 'sync':
      case 'sync_interval':
        // `always` = fsync every write, which is Petrel's default (0).
        draft.set('jetstream.sync_interval', typeof v === 'string' && v.toLowerCase() === 'always' ? 0 : readDuration(v, o, draft), o);
        break;
      case 'store_cache':
        draft.set('jetstream.store_cache', storageSize(v, o, 'store_cache'), o);
        break;
      case 'unique_tag':
        draft.set('jetstream.unique_tag', v, o);
        break;
      case 'enable':
      case 'enabled':
        enabled = booleanLike(v) ?? v;
        draft.set('jetstream.enabled', enabled, o);
        break;
      default:
        draft.warn(o, `jetstream field "${key}" is not supported by Petrel, ignored`);
    }
  }
  if (enabled === true) draft.set('jetstream.enabled', true, origin);
}

function storageSize(value: ConfValue, origin: Origin, label: string): number {
  try {
    return parseStorageSize(value);
  } catch (err) {
    return failAt(origin, `${label} ${(err as Error).message}`);
  }
}

/** Blocks served by later work: check the listen address shape, keep the rest as written. */
function listenBlock(name: ListenBlockName): TopLevelReader {
  return (value, origin, draft) => {
    if (!isConfMap(value)) failAt(origin, `Expected map to define ${name}, got ${describeType(value)}`);
    draft.set(`${name}.enabled`, true, origin);
    draft.set(`${name}.raw`, value, origin);
    for (const key of Object.keys(value)) {
      const v = value[key] as ConfValue;
      const o = originIn(value, key, childPath(origin.key, key));
      switch (key.toLowerCase()) {
        case 'listen': {
          const hp = readHostPort(v, o);
          if (hp.host !== undefined) draft.set(`${name}.host`, hp.host, o);
          draft.set(`${name}.port`, hp.port, o);
          break;
        }
        case 'host':
        case 'net':
          draft.set(`${name}.host`, v, o);
          break;
        case 'port':
          draft.set(`${name}.port`, v, o);
          break;
        case 'no_tls':
          if (booleanLike(v) === undefined) failAt(o, `expected a boolean, got ${describeType(v)}`);
          break;
        case 'name':
          if (typeof v !== 'string') failAt(o, `expected a string, got ${describeType(v)}`);
          if (v.includes(' ')) failAt(o, `${name} name cannot contain spaces`);
          break;
        case 'authorization':
          if (!isConfMap(v)) failAt(o, `Expected authorization to be a map, got ${describeType(v)}`);
          break;
        default:
        // Served later; kept in `raw`.
      }
    }
  };
}

/** `accounts { A: { users: [...] } }`: account users join the user list with their account set. */
function readAccounts(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  if (!isConfMap(value)) failAt(origin, `Expected accounts to be a map, got ${describeType(value)}`);
  for (const name of Object.keys(value)) {
    const account = value[name] as ConfValue;
    const o = originIn(value, name, childPath(origin.key, name));
    if (!isConfMap(account)) failAt(o, `Expected account "${name}" to be a map, got ${describeType(account)}`);
    const usersKey = Object.keys(account).find((k) => k.toLowerCase() === 'users');
    if (usersKey !== undefined) {
      const uo = originIn(account, usersKey, childPath(o.key, usersKey));
      addUsers(draft, readUsers(account[usersKey] as ConfValue, uo, draft, name), uo);
    }
  }
  draft.set('accounts', value, origin);
}
