// A routing worker's side of leaf nodes: the leaf connections it owns, the leafnode state the
// main thread tells it (our INFO with the cluster's leafnode URLs, the loop-detection subjects),
// and their /leafz entries.

import { formatGoDuration } from '../config/units.ts';
import type { LeafConnection, LeafSide } from './leafnode.ts';
import type { LeafInfo } from './leaf_info.ts';

/** What the main thread tells every routing worker about this server's leafnode side. */
export interface LeafState {
  info: LeafInfo;
  /** `$LDS.<id>` per account name: the same for every connection of this server. */
  lds: Record<string, string>;
  clusterName: string;
  gatewayEnabled: boolean;
}

/** What a worker tells the main thread about a leaf connection. */
export type LeafEvent =
  | { kind: 'registered'; account: string; server: string; cluster: string; spoke: boolean }
  /** Wait this long before redialling (a loop, or the hub refused our cluster name). */
  | { kind: 'delay'; ms: number }
  /** The hub cluster's leafnode URLs, to redial any of them. */
  | { kind: 'urls'; urls: string[] };

/** One leaf connection as /leafz shows it (nats-server's LeafInfo). */
export interface WorkerLeafz {
  account: string;
  ip: string;
  port: number;
  rtt?: string;
  in_msgs: number;
  out_msgs: number;
  in_bytes: number;
  out_bytes: number;
  subscriptions: number;
  subscriptions_list?: string[];
}

export class WorkerLeafs implements LeafSide {
  state: LeafState;
  readonly conns = new Map<number, LeafConnection>();

  constructor(state: LeafState) {
    this.state = state;
  }

  info(): LeafInfo {
    return this.state.info;
  }

  ldsFor(account: string): string {
    return this.state.lds[account] ?? '$LDS.unknown';
  }

  get clusterName(): string {
    return this.state.clusterName;
  }

  get gatewayEnabled(): boolean {
    return this.state.gatewayEnabled;
  }

  add(c: LeafConnection): void {
    this.conns.set(c.id, c);
  }

  remove(c: LeafConnection): void {
    this.conns.delete(c.id);
  }

  /** The main thread's new state: connected leaf nodes hear of new URLs (nats-server's sendAsyncLeafNodeInfo). */
  changed(state: LeafState, announce: boolean): void {
    this.state = state;
    if (!announce) return;
    for (const c of this.conns.values()) {
      if (!c.open || c.link.solicited) continue;
      c.enqueue(Buffer.from(`INFO ${JSON.stringify({ ...state.info, client_id: c.id })}\r\n`));
    }
  }

  close(cid: number, reason: string, err: string | null): void {
    const c = this.conns.get(cid);
    if (!c) return;
    if (err !== null) c.sendErr(err);
    c.close(reason, true);
  }

  get count(): number {
    let n = 0;
    for (const c of this.conns.values()) if (c.open) n++;
    return n;
  }

  leafz(subs: boolean, account?: string): WorkerLeafz[] {
    const out: WorkerLeafz[] = [];
    for (const c of this.conns.values()) {
      if (!c.open) continue;
      const name = c.host.accountName(c.account);
      if (account !== undefined && account !== '' && name !== account) continue;
      const st = c.state;
      const e: WorkerLeafz = {
        account: name,
        ip: st.ip,
        port: st.port,
        rtt: formatGoDuration(st.rttMs),
        in_msgs: st.inMsgs,
        out_msgs: st.outMsgs,
        in_bytes: st.inBytes,
        out_bytes: st.outBytes,
        subscriptions: c.subs.size,
      };
      if (subs) e.subscriptions_list = [...c.subs.values()].map((s) => s.subject);
      out.push(e);
    }
    return out;
  }
}
