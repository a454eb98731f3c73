// What a config reload (SIGHUP, `-sl reload`) may not change while the server runs. The cluster
// is fixed until routes learn to follow a reload: its listener, name and routes are part of the
// mesh the other nodes know. The reasons name each changed key; secrets are never printed.

import { isDeepStrictEqual } from 'node:util';
import type { ClusterOptions, ServerOptions } from './options.ts';

type ClusterKey = keyof ClusterOptions;

/** Keys whose values are printed in the reason; the others are only named. */
const SHOWN: ReadonlySet<ClusterKey> = new Set(['name', 'host', 'port', 'advertise', 'noAdvertise', 'connectRetries', 'poolSize']);

/** Config key names as the user writes them. */
const CONF_KEY: Readonly<Record<ClusterKey, string>> = {
  name: 'name',
  host: 'host',
  port: 'port',
  advertise: 'advertise',
  noAdvertise: 'no_advertise',
  routes: 'routes',
  connectRetries: 'connect_retries',
  poolSize: 'pool_size',
  authorization: 'authorization',
  tls: 'tls',
  permissions: 'permissions',
};

/** One phrase per refused change (`cluster port (old=6222, new=7000)`); empty when the reload may go ahead. */
export function refusedReloadChanges(prev: ServerOptions, next: ServerOptions): string[] {
  const refused = clusterChanges(prev.cluster, next.cluster);
  if (prev.systemAccount !== next.systemAccount) {
    refused.push(`system_account (old=${show(prev.systemAccount)}, new=${show(next.systemAccount)})`);
  }
  return refused;
}

function clusterChanges(prev: ClusterOptions | undefined, next: ClusterOptions | undefined): string[] {
  if (prev === undefined && next === undefined) return [];
  if (prev === undefined) return ['cluster (a cluster block was added)'];
  if (next === undefined) return ['cluster (the cluster block was removed)'];
  const keys = Object.keys(CONF_KEY) as ClusterKey[];
  return keys
    .filter((k) => !isDeepStrictEqual(prev[k], next[k]))
    .map((k) => (SHOWN.has(k) ? `cluster ${CONF_KEY[k]} (old=${show(prev[k])}, new=${show(next[k])})` : `cluster ${CONF_KEY[k]}`));
}

function show(value: unknown): string {
  return value === undefined || value === '' ? 'none' : String(value);
}
