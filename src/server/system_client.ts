// The node's internal client in the system account (nats-server's "system client"): a bus bound
// to the system account whose subscriptions, like every system-account subscription, are
// announced over the routes, so servers of the cluster reach each other through it. It answers
// `$SYS.REQ.SERVER.PING` (and `.STATSZ`, `$SYS.REQ.SERVER.<id>.STATSZ`) with this node's statsz,
// as every nats-server does: a system-account user's request collects one reply per server.
// Issue 8's Raft groups use the same kind of bus from the JetStream host.

import type { Router } from '../routing/router.ts';
import { RouterBus } from './router_bus.ts';

/** Subjects a server answers with its statsz (nats-server's serverStatsPingReqSubj and friends). */
export function statszSubjects(serverId: string): string[] {
  return ['$SYS.REQ.SERVER.PING', '$SYS.REQ.SERVER.PING.STATSZ', `$SYS.REQ.SERVER.${serverId}.STATSZ`];
}

export class SystemClient {
  readonly bus: RouterBus;

  /** `statsz` builds this node's ServerStatsMsg (the main thread holds the node-wide numbers). */
  constructor(router: Router, flush: () => void, account: number, serverId: string, statsz: () => Promise<unknown>) {
    this.bus = new RouterBus(router, flush, account);
    for (const subject of statszSubjects(serverId)) {
      this.bus.subscribe(subject, null, (_subject, reply) => {
        if (!reply) return;
        void statsz().then((msg) => this.bus.publish(reply, null, null, Buffer.from(JSON.stringify(msg))));
      });
    }
  }
}
