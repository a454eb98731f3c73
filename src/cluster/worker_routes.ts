// A routing worker's side of the cluster: the route connections it owns, the cluster state the
// main thread tells it (name, our route INFO, client connect URLs), the main thread's verdicts on
// new routes, and this node's announced interest fanned out to the registered routes.

import type { Router } from '../routing/router.ts';
import type { InterestExport } from '../routing/interest_export.ts';
import { formatGoDuration } from '../config/units.ts';
import { goUptime } from '../server/conn_state.ts';
import type { RouteConnection } from './route.ts';
import type { RouteInfo } from './route_info.ts';

/** What the main thread tells every routing worker about the cluster (on start and on change). */
export interface ClusterState {
  name: string;
  dynamic: boolean;
  /** Our route INFO (a nonce is added per connection). */
  routeInfo: RouteInfo;
  /** connect_urls for clients' INFO; undefined when no other server advertises any. */
  connectUrls?: string[];
  /** When connectUrls last changed (ms): clients connected before then get an INFO after their first PONG. */
  urlsChangedAt: number;
}

/** One route as /routez shows it (nats-server's RouteInfo names; the main thread adds the rest). */
export interface WorkerRoutez {
  rid: number;
  remote_id: string;
  remote_name: string;
  did_solicit: boolean;
  ip: string;
  port: number;
  start: string;
  last_activity: string;
  rtt: string;
  uptime: string;
  idle: string;
  pending_size: number;
  in_msgs: number;
  out_msgs: number;
  in_bytes: number;
  out_bytes: number;
  subscriptions: number;
  subscriptions_list?: string[];
}

export class WorkerRoutes {
  state: ClusterState;
  readonly conns = new Map<number, RouteConnection>();
  readonly interest: InterestExport;

  constructor(router: Router, state: ClusterState) {
    this.state = state;
    this.interest = router.exportInterest((account, subject, queue, weight, origin) => {
      for (const r of this.conns.values()) r.sendInterest(account, subject, queue, weight, origin);
    });
  }

  add(r: RouteConnection): void {
    this.conns.set(r.id, r);
  }

  remove(r: RouteConnection): void {
    this.conns.delete(r.id);
  }

  verdict(cid: number, ok: boolean, reason?: string): void {
    this.conns.get(cid)?.verdict(ok, reason);
  }

  sendInfo(cid: number, info: RouteInfo): void {
    this.conns.get(cid)?.sendInfo(info);
  }

  close(cid: number, reason: string): void {
    this.conns.get(cid)?.close(reason, true);
  }

  routez(now: number, subs: boolean): WorkerRoutez[] {
    const out: WorkerRoutez[] = [];
    for (const r of this.conns.values()) {
      if (!r.registered) continue;
      const st = r.state;
      const e: WorkerRoutez = {
        rid: r.id,
        remote_id: r.remote?.server_id ?? '',
        remote_name: r.remote?.server_name ?? '',
        did_solicit: r.link.solicited,
        ip: st.ip,
        port: st.port,
        start: new Date(st.start).toISOString(),
        last_activity: new Date(st.lastActivity).toISOString(),
        rtt: formatGoDuration(st.rttMs),
        uptime: goUptime(now - st.start),
        idle: goUptime(now - st.lastActivity),
        pending_size: r.out.pending,
        in_msgs: st.inMsgs,
        out_msgs: st.outMsgs,
        in_bytes: st.inBytes,
        out_bytes: st.outBytes,
        subscriptions: r.subs.size,
      };
      if (subs) e.subscriptions_list = [...r.subs.values()].map((s) => s.subject);
      out.push(e);
    }
    return out;
  }
}
