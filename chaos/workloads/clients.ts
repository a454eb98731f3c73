// How the workloads' clients connect and how their errors become history outcomes.
//
// Clients reach the cluster only through the client proxies, so a fault on a client link hits
// them. They ping often (a dead link is noticed within seconds, not minutes), reconnect forever,
// and ignore the server's connect_urls (there are none with no_advertise; the real ports would
// bypass the proxies).

import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { errors, RequestError } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';

export interface ConnectTarget {
  /** Client URL of each node through its proxy. */
  clientUrls: readonly string[];
}

/**
 * A client of node `home`: `pinned` keeps it on that node across reconnects (a subscriber that must
 * stay where it is); otherwise it fails over to the other nodes, home first.
 */
export async function clientOf(target: ConnectTarget, home: number, name: string, pinned = false): Promise<NatsConnection> {
  const urls = target.clientUrls;
  const servers = pinned ? [urls[home]!] : [urls[home]!, ...urls.filter((_, i) => i !== home)];
  return connect({
    servers,
    name,
    noRandomize: true,
    ignoreClusterUpdates: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 2_000,
    maxPingOut: 2,
    timeout: 5_000,
    waitOnFirstConnect: true,
  });
}

/**
 * `fail` only when the server said the operation did not happen: a JetStream API error in the
 * reply, or no responders (nothing received the message). A timeout or a dropped connection
 * leaves the outcome unknown (`info`): the server may have acted and its reply was lost.
 */
export function outcomeOfError(err: unknown): 'fail' | 'info' {
  if (err instanceof JetStreamApiError) return 'fail';
  if (err instanceof errors.NoRespondersError) return 'fail';
  if (err instanceof RequestError && err.isNoResponders()) return 'fail';
  // js.publish turns "no responders" into this; nothing stored the message.
  if (err instanceof Error && err.name === 'JetStreamNotEnabled') return 'fail';
  return 'info';
}

export function errorText(err: unknown): string {
  if (err instanceof JetStreamApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message || err.name : String(err);
}

export const pause = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
