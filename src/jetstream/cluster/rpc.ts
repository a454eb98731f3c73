// Requests between the nodes of a JetStream cluster that are not Raft messages (a replica
// fetching messages it is missing from its leader): msgpackr over the system account, each node
// serving `$JSC.P.RPC.<node>.<kind>` and hearing replies on its own `$JSC.P.RPC.R.<node>.>` inbox.

import { Packr } from 'msgpackr';
import type { BusSubscription, JsBus, Scheduler } from '../bus.ts';
import type { NodeId } from '../../raft/types.ts';

const RPC_PREFIX = '$JSC.P.RPC.';
const packr = new Packr({ useRecords: false, moreTypes: false });

export class NodeRpc {
  private readonly bus: JsBus;
  private readonly self: NodeId;
  private readonly scheduler: Scheduler;
  private readonly subs: BusSubscription[] = [];
  private readonly waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: unknown }>();
  private seq = 0;

  constructor(bus: JsBus, self: NodeId, scheduler: Scheduler) {
    this.bus = bus;
    this.self = self;
    this.scheduler = scheduler;
    this.subs.push(
      bus.subscribe(`${RPC_PREFIX}R.${self}.>`, null, (subject, _r, _h, data) => {
        const id = subject.slice(subject.lastIndexOf('.') + 1);
        const w = this.waiting.get(id);
        if (w === undefined) return;
        this.waiting.delete(id);
        this.scheduler.clearTimeout(w.timer);
        try {
          const v = packr.unpack(data) as [string, unknown];
          if (v[0] === 'err') w.reject(new Error(String(v[1])));
          else w.resolve(v[1]);
        } catch (err) {
          w.reject(err as Error);
        }
      }),
    );
  }

  /** Serves `kind` requests addressed to this node. */
  serve(kind: string, handler: (req: unknown) => unknown): void {
    this.subs.push(
      this.bus.subscribe(`${RPC_PREFIX}${this.self}.${kind}`, null, (_s, reply, _h, data) => {
        if (!reply) return;
        let out: [string, unknown];
        try {
          out = ['ok', handler(packr.unpack(data))];
        } catch (err) {
          out = ['err', String((err as Error)?.message ?? err)];
        }
        this.bus.publish(reply, null, null, packr.pack(out));
      }),
    );
  }

  request<T>(node: NodeId, kind: string, req: unknown, timeoutMs: number): Promise<T> {
    const id = String(++this.seq);
    return new Promise<T>((resolve, reject) => {
      const timer = this.scheduler.setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer from ${node} to ${kind} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.bus.publish(`${RPC_PREFIX}${node}.${kind}`, `${RPC_PREFIX}R.${this.self}.${id}`, null, packr.pack(req));
    });
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
    for (const w of this.waiting.values()) {
      this.scheduler.clearTimeout(w.timer);
      w.reject(new Error('closed'));
    }
    this.waiting.clear();
  }
}
