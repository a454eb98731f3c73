// Reads nats-server's `gateway {}` block (server/opts.go parseGateway, parseGateways) into
// canonical keys under `gateway.`, with its keys, aliases and messages. What needs the written
// form (names, URLs, the remote list) is checked here; types and ranges of the leaves are left
// to the convict schema, and the rules that span keys (a name and a port) to its cross-check.

import { readAuthorization } from './auth-config.ts';
import { AddressParts, checkUrl, readAdvertise, readLinkName, readUrlList } from './cluster-config.ts';
import { childPath, describeType, failAt, originIn } from './draft.ts';
import type { ConfigDraft, Origin } from './draft.ts';
import type { RemoteGatewayOptions } from './options.ts';
import { isConfMap, isUsedVariable } from './parser.ts';
import type { ConfValue } from './parser.ts';
import { readEntryTls, readTlsBlock } from './tls-config.ts';
import { booleanLike } from './units.ts';

/** nats-server gateway keys Petrel reads past without acting on them. */
const UNSUPPORTED_GATEWAY_KEYS = new Set(['tls_map', 'verify_and_map', 'pinned_certs', 'connect_backoff', 'compression']);

export function readGateway(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  if (!isConfMap(value)) failAt(origin, `Expected gateway to be a map, got ${describeType(value)}`);
  draft.set('gateway.enabled', true, origin);
  const address = new AddressParts(draft, 'gateway');
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    const lower = key.toLowerCase();
    if (address.read(lower, v, o)) continue;
    switch (lower) {
      case 'name':
        draft.set('gateway.name', readLinkName(v, o, 'gateway'), o);
        break;
      case 'authorization':
        readGatewayAuthorization(v, o, draft);
        break;
      case 'tls':
        readTlsBlock(v, o, draft, { path: 'gateway.tls', clientContext: false });
        break;
      case 'advertise':
      case 'gateway_advertise':
        draft.set('gateway.advertise', readAdvertise(v, o, 'Gateway.Advertise'), o);
        break;
      case 'connect_retries':
        draft.set('gateway.connect_retries', v, o);
        break;
      case 'gateways':
        draft.set('gateway.gateways', readRemoteGateways(v, o, draft), o);
        break;
      case 'reject_unknown':
      case 'reject_unknown_cluster': {
        const b = booleanLike(v);
        if (b === undefined) failAt(o, `expected a boolean, got ${describeType(v)}`);
        draft.set('gateway.reject_unknown', b, o);
        break;
      }
      default:
        if (UNSUPPORTED_GATEWAY_KEYS.has(lower)) draft.warn(o, `gateway field "${key}" is not supported by Petrel, ignored`);
        else if (!isUsedVariable(value, key)) draft.warn(o, `unknown field "${key}", ignored`);
    }
  }
}

/** user, password and timeout only, as a route's. */
function readGatewayAuthorization(value: ConfValue, origin: Origin, draft: ConfigDraft): void {
  const auth = readAuthorization(value, origin, draft);
  if (auth.users !== undefined) failAt(origin, 'Gateway authorization does not allow multiple users');
  if (auth.token !== undefined) failAt(origin, 'Gateway authorization does not support tokens');
  if (auth.user !== undefined) draft.set('gateway.authorization.user', auth.user, origin);
  if (auth.password !== undefined) draft.set('gateway.authorization.password', auth.password, origin);
  if (auth.timeoutMs !== undefined) draft.set('gateway.authorization.timeout', auth.timeoutMs, origin);
}

/** `gateways: [ { name, url | urls, tls } ]`: the remote clusters this one dials. */
function readRemoteGateways(value: ConfValue, origin: Origin, draft: ConfigDraft): RemoteGatewayOptions[] {
  if (!Array.isArray(value)) failAt(origin, `Expected gateways field to be an array, got ${describeType(value)}`);
  return value.map((entry, index) => {
    const o = originIn(value, index, childPath(origin.key, index));
    if (!isConfMap(entry)) failAt(o, `Expected gateway entry to be a map/struct, got ${describeType(entry)}`);
    const remote: RemoteGatewayOptions = { name: '', urls: [] };
    for (const key of Object.keys(entry)) {
      const v = entry[key] as ConfValue;
      const ko = originIn(entry, key, childPath(o.key, key));
      switch (key.toLowerCase()) {
        case 'name':
          remote.name = readLinkName(v, ko, 'gateway');
          break;
        case 'url':
          if (typeof v !== 'string') failAt(ko, `error parsing gateway url: expected a string, got ${describeType(v)}`);
          remote.urls = [checkUrl(v.trim(), ko, 'gateway')];
          break;
        case 'urls':
          remote.urls = readUrlList(v, ko, draft, 'gateway', 'urls');
          break;
        case 'tls':
          remote.tls = readEntryTls(v, ko, draft, true);
          break;
        default:
          if (!isUsedVariable(entry, key)) draft.warn(ko, `unknown field "${key}", ignored`);
      }
    }
    // nats-server's validateGatewayOptions, at the entry's position.
    if (remote.name === '') failAt(o, `gateway in the list ${index} has no name`);
    if (remote.urls.length === 0) failAt(o, `gateway ${JSON.stringify(remote.name)} has no URL`);
    return remote;
  });
}
