// What monitoring reports about a connection, kept as plain counters on the connection so the
// hot path only increments numbers; /connz builds JSON from it on request.

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

/** A Go-style duration string ("1h2m3s", "150ms") as nats-server prints uptime and rtt. */
export function goDuration(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${Math.round(ms * 1000) / 1000}ms`;
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  let out = '';
  if (d) out += `${d}d`;
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  out += `${s}s`;
  return out;
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
    rtt: goDuration(st.rttMs),
    uptime: goDuration((extra.stop ?? now) - st.start),
    idle: goDuration(now - st.lastActivity),
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
