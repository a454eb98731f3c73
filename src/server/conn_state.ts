// What monitoring reports about a connection, kept as plain counters on the connection so the
// hot path only increments numbers; /connz builds JSON from it on request.

import { formatGoDuration } from '../config/units.ts';

export class ConnectionState {
  readonly cid: number;
  readonly ip: string;
  readonly port: number;
  readonly start: number;
  lastActivity: number;
  rttMs = 0;
  inMsgs = 0;
  inBytes = 0;
  inBytesRaw = 0;
  outMsgs = 0;
  outBytes = 0;
  name = '';
  lang = '';
  version = '';
  user: string | undefined;
  account: string | undefined;
  tls = false;
  tlsVerified = false;
  reason = '';

  constructor(cid: number, ip: string, port: number, now: number) {
    this.cid = cid;
    this.ip = ip;
    this.port = port;
    this.start = now;
    this.lastActivity = now;
  }
}

/** A closed connection as /connz?state=closed shows it (kept in a bounded ring). */
export class ClosedState {
  readonly state: ConnectionState;
  readonly reason: string;
  readonly stop: number;

  constructor(state: ConnectionState, reason: string, stop: number) {
    this.state = state;
    this.reason = reason;
    this.stop = stop;
  }
}

const SECONDS_PER_YEAR = 365 * 86_400;

/** Whole seconds with years and days, as nats-server prints uptime and idle ("0s", "5m3s", "2d0h0m1s"). */
export function goUptime(ms: number): string {
  const secs = Math.max(0, Math.floor(ms / 1000));
  const y = Math.floor(secs / SECONDS_PER_YEAR);
  const d = Math.floor((secs % SECONDS_PER_YEAR) / 86_400);
  const h = Math.floor((secs % 86_400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  if (y > 0) return `${y}y${d}d${h}h${m}m${s}s`;
  if (d > 0) return `${d}d${h}h${m}m${s}s`;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** One connection's /connz entry, with nats-server's JSON field names. */
export function connzEntry(
  st: ConnectionState,
  now: number,
  extra: { pendingBytes: number; subscriptions: number; subsList?: string[]; stop?: number; reason?: string; kind?: string },
): Record<string, unknown> {
  const kind = extra.kind ?? 'Client';
  const e: Record<string, unknown> = {
    cid: st.cid,
    kind,
    // nats-server names the type (nats, websocket, mqtt) of client connections only.
    type: kind === 'Client' ? 'nats' : undefined,
    ip: st.ip,
    port: st.port,
    start: new Date(st.start).toISOString(),
    last_activity: new Date(st.lastActivity).toISOString(),
    rtt: formatGoDuration(st.rttMs),
    uptime: goUptime((extra.stop ?? now) - st.start),
    idle: goUptime(now - st.lastActivity),
    pending_bytes: extra.pendingBytes,
    in_msgs: st.inMsgs,
    out_msgs: st.outMsgs,
    in_bytes: st.inBytes,
    out_bytes: st.outBytes,
    subscriptions: extra.subscriptions,
  };
  if (e.type === undefined) delete e.type;
  if (st.name) e.name = st.name;
  if (st.lang) e.lang = st.lang;
  if (st.version) e.version = st.version;
  if (st.user) e.authorized_user = st.user;
  if (st.account) e.account = st.account;
  if (st.tls) e.tls_version = '1.3';
  if (extra.stop !== undefined) e.stop = new Date(extra.stop).toISOString();
  if (extra.reason) e.reason = extra.reason;
  if (extra.subsList) e.subscriptions_list = extra.subsList;
  return e;
}
