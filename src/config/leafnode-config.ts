// Reads nats-server's `leafnodes {}` block (server/opts.go parseLeafNodes, parseLeafAuthorization,
// parseLeafUsers, parseRemoteLeafNodes) into canonical keys under `leafnodes.`, with its keys,
// aliases and messages. The rules that need other blocks (the accounts named must exist, a
// system account with gateways) are in the schema's cross-check.

import { readSecondsOrDuration, readUsers, subjectProblem } from './auth-config.ts';
import { AddressParts, readAdvertise, readUrlList } from './cluster-config.ts';
import { childPath, describeType, failAt, originIn } from './draft.ts';
import type { ConfigDraft, Origin } from './draft.ts';
import type { LeafUser, RemoteLeafOptions } from './options.ts';
import { isConfMap, isUsedVariable } from './parser.ts';
import type { ConfValue } from './parser.ts';
import { DEFAULT_LEAFNODE_PORT, LEAF_URL_SCHEMES } from './route-url.ts';
import { readEntryTls, readTlsBlock } from './tls-config.ts';
import { booleanLike } from './units.ts';

/** nats-server leafnode keys Petrel reads past without acting on them. */
const UNSUPPORTED_LEAF_KEYS = new Set(['tls_map', 'verify_and_map', 'pinned_certs', 'compression']);
const UNSUPPORTED_REMOTE_KEYS = new Set([
  'ws_compress', 'ws_compression', 'websocket_compress', 'websocket_compression', 'ws_no_masking', 'websocket_no_masking',
  'jetstream_cluster_migrate', 'js_cluster_migrate', 'compression',
]);

export function readLeafNodes(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  if (!isConfMap(value)) failAt(origin, `Expected map to define a leafnode, got ${describeType(value)}`);
  draft.set('leafnodes.enabled', true, origin);
  const address = new AddressParts(draft, 'leafnodes');
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    const lower = key.toLowerCase();
    if (address.read(lower, v, o)) continue;
    switch (lower) {
      case 'authorization':
        readLeafAuthorization(v, o, draft);
        break;
      case 'remotes':
        draft.set('leafnodes.remotes', readRemotes(v, o, draft), o);
        break;
      case 'reconnect':
      case 'reconnect_delay':
      case 'reconnect_interval':
        draft.set('leafnodes.reconnect_interval', readSecondsOrDuration(v, o, 'error parsing leafnodes config, '), o);
        break;
      case 'tls':
        readTlsBlock(v, o, draft, { path: 'leafnodes.tls', clientContext: false });
        break;
      case 'advertise':
      case 'leafnode_advertise':
        draft.set('leafnodes.advertise', readAdvertise(v, o, 'LeafNode.Advertise'), o);
        break;
      case 'no_advertise': {
        const b = booleanLike(v);
        if (b === undefined) failAt(o, `expected a boolean, got ${describeType(v)}`);
        draft.set('leafnodes.no_advertise', b, o);
        break;
      }
      case 'min_version':
      case 'minimum_version':
        draft.set('leafnodes.min_version', readMinVersion(v, o), o);
        break;
      case 'no_tls':
        // A websocket-era key some configs carry; nothing to do without websocket leafs.
        if (booleanLike(v) === undefined) failAt(o, `expected a boolean, got ${describeType(v)}`);
        draft.warn(o, `leafnodes field "${key}" is not supported by Petrel, ignored`);
        break;
      default:
        if (UNSUPPORTED_LEAF_KEYS.has(lower)) draft.warn(o, `leafnodes field "${key}" is not supported by Petrel, ignored`);
        else if (!isUsedVariable(value, key)) draft.warn(o, `unknown field "${key}", ignored`);
    }
  }
}

/** `authorization { user, password, timeout, account, users: [...] }` of the leafnode port. */
function readLeafAuthorization(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  if (!isConfMap(value)) failAt(origin, `Expected authorization to be a map, got ${describeType(value)}`);
  let user: string | undefined;
  let users: LeafUser[] | undefined;
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    switch (key.toLowerCase()) {
      case 'user':
      case 'username':
        user = expectText(v, o);
        draft.set('leafnodes.authorization.user', user, o);
        break;
      case 'pass':
      case 'password':
        draft.set('leafnodes.authorization.password', expectText(v, o), o);
        break;
      case 'timeout':
        draft.set('leafnodes.authorization.timeout', readSecondsOrDuration(v, o, 'error parsing leafnodes authorization config, '), o);
        break;
      case 'account':
        draft.set('leafnodes.authorization.account', expectText(v, o), o);
        break;
      case 'users':
        users = readLeafUsers(v, o, draft);
        draft.set('leafnodes.authorization.users', users, o);
        break;
      default:
        if (!isUsedVariable(value, key)) draft.warn(o, `unknown field "${key}", ignored`);
    }
  }
  // nats-server's validateLeafNodeAuthOptions.
  if (users !== undefined && users.length > 0) {
    if (user !== undefined && user !== '') failAt(origin, 'can not have a single user/pass and a users array');
    const seen = new Set<string>();
    for (const u of users) {
      if (seen.has(u.user)) failAt(origin, `duplicate user ${JSON.stringify(u.user)} detected in leafnode authorization`);
      seen.add(u.user);
    }
  }
}

function readLeafUsers(value: ConfValue, origin: Origin, draft: ConfigDraft): LeafUser[] {
  // The client users' reader, then nats-server's narrower leaf user: a name, a password, an account.
  return readUsers(value, origin, draft).map((u, index) => {
    if (u.nkey !== undefined || u.permissions !== undefined) failAt(originIn(value as ConfValue[], index, childPath(origin.key, index)), 'leafnode users take only user, password and account');
    const leaf: LeafUser = { user: u.user ?? '', password: u.password ?? '' };
    if (u.account !== undefined) leaf.account = u.account;
    return leaf;
  });
}

function readRemotes(value: ConfValue, origin: Origin, draft: ConfigDraft): RemoteLeafOptions[] {
  if (!Array.isArray(value)) failAt(origin, `Expected remotes field to be an array, got ${describeType(value)}`);
  const remotes: RemoteLeafOptions[] = [];
  value.forEach((entry, index) => {
    const o = originIn(value, index, childPath(origin.key, index));
    if (!isConfMap(entry)) failAt(o, `Expected remote leafnode entry to be a map/struct, got ${describeType(entry)}`);
    const r: RemoteLeafOptions = { urls: [], hub: false, denyImports: [], denyExports: [], noRandomize: false };
    for (const key of Object.keys(entry)) {
      const v = entry[key] as ConfValue;
      const ko = originIn(entry, key, childPath(o.key, key));
      const lower = key.toLowerCase();
      switch (lower) {
        case 'url':
        case 'urls':
          r.urls = readUrlList(v, ko, draft, 'leafnode', 'urls', { schemes: LEAF_URL_SCHEMES, defaultPort: DEFAULT_LEAFNODE_PORT }, true);
          break;
        case 'account':
        case 'local':
          r.account = expectText(v, ko);
          break;
        case 'creds':
        case 'credentials':
          r.credentials = expectText(v, ko);
          break;
        case 'tls':
          r.tls = readEntryTls(v, ko, draft, false);
          break;
        case 'hub':
          r.hub = expectBoolean(v, ko);
          break;
        case 'no_randomize':
        case 'dont_randomize':
          r.noRandomize = expectBoolean(v, ko);
          break;
        case 'deny_imports':
        case 'deny_import':
          r.denyImports = readDenySubjects(v, ko);
          break;
        case 'deny_exports':
        case 'deny_export':
          r.denyExports = readDenySubjects(v, ko);
          break;
        default:
          if (UNSUPPORTED_REMOTE_KEYS.has(lower)) draft.warn(ko, `remote leafnode field "${key}" is not supported by Petrel, ignored`);
          else if (!isUsedVariable(entry, key)) draft.warn(ko, `unknown field "${key}", ignored`);
      }
    }
    // nats-server skips such an entry ("Empty remote leafnode definition, nothing to connect").
    if (r.urls.length === 0) draft.warn(o, 'remote leafnode entry has no url, ignored');
    else remotes.push(r);
  });
  return remotes;
}

/** deny_imports/deny_exports: a subject or a list of subjects. */
function readDenySubjects(value: ConfValue, origin: Origin): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) failAt(origin, `Expected subject permissions to be a subject, or array of subjects, got ${describeType(value)}`);
  return list.map((s) => {
    if (typeof s !== 'string') failAt(origin, 'Subject in permissions array cannot be cast to string');
    const problem = subjectProblem(s, false);
    if (problem !== undefined) failAt(origin, problem);
    return s;
  });
}

/** nats-server checkLeafMinVersionConfig: a semantic version of at least 2.8.0. */
function readMinVersion(value: ConfValue, origin: Origin): string {
  if (typeof value !== 'string') failAt(origin, `expected a string, got ${describeType(value)}`);
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-.*)?$/.exec(value);
  if (m === null) failAt(origin, `invalid leafnode's minimum version: invalid semver ${JSON.stringify(value)}`);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < 2 || (major === 2 && minor < 8)) failAt(origin, 'the minimum version should be at least 2.8.0');
  return value;
}

function expectText(value: ConfValue, origin: Origin): string {
  if (typeof value !== 'string') failAt(origin, `expected a string, got ${describeType(value)}`);
  return value;
}

function expectBoolean(value: ConfValue, origin: Origin): boolean {
  const b = booleanLike(value);
  if (b === undefined) failAt(origin, `expected a boolean, got ${describeType(value)}`);
  return b;
}
