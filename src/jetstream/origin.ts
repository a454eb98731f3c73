// Where a mirror or a source reads its origin stream. On a single server, and in a cluster when
// this node holds a replica of the origin, it reads the origin's store directly and is woken by
// its appends (any replica holds a committed prefix, so a follower's copy is as good). Otherwise
// the origin lives on other nodes and is read over the account's bus with the JetStream API
// (`STREAM.MSG.GET` with next_by_subj), answered by the origin's leader wherever it runs; such
// an origin has no change notifications and is asked again after a pause once caught up.

import type { JsContext } from './seams.ts';
import type { StoredMessage } from './store/index.ts';
import type { Stream } from './stream.ts';
import { parseRfc3339 } from './json_time.ts';

/** A remote origin is asked again this long after it had nothing new (or did not answer). */
export const REMOTE_ORIGIN_POLL_MS = 250;
const REMOTE_ORIGIN_TIMEOUT_MS = 2_000;

export interface Origin {
  readonly name: string;
  /** Remote origins are polled; local ones wake the follower through watch(). */
  readonly polled: boolean;
  /** The origin's last sequence (Infinity when it is not known here). */
  lastSequence(): number;
  /** First message at or after `seq` matching `filter`, or null when there is none (yet). */
  next(filter: string, seq: number): StoredMessage | null | Promise<StoredMessage | null>;
  /** First sequence stored at or after `ns`. */
  seqForTime(ns: bigint): number | Promise<number>;
  /** Local origins: calls onAppend on new messages, onGone when deleted. Returns the stop function. */
  watch(onAppend: () => void, onGone: () => void): () => void;
}

/** The origin's stream is on this node (its replica here, or the only copy on a single server). */
export function localOrigin(stream: Stream): Origin {
  return {
    name: stream.name,
    polled: false,
    lastSequence: () => stream.lastSequence(),
    next: (filter, seq) => stream.store.loadNext(filter, seq),
    seqForTime: (ns) => stream.store.seqForTime(ns),
    watch: (onAppend, onGone) =>
      stream.onChange((ev) => {
        if (ev.kind === 'append') onAppend();
        else if (ev.kind === 'delete') onGone();
      }),
  };
}

/** The origin answers `STREAM.MSG.GET` from another node; a missing stream raises OriginMissing. */
export class OriginMissing extends Error {}

export class BusOrigin implements Origin {
  readonly name: string;
  readonly polled = true;
  private readonly ctx: JsContext;
  private seq = 0;

  constructor(ctx: JsContext, name: string) {
    this.ctx = ctx;
    this.name = name;
  }

  lastSequence(): number {
    return Infinity;
  }

  async next(filter: string, seq: number): Promise<StoredMessage | null> {
    const r = await this.ask({ seq, next_by_subj: filter });
    if (r === null) return null;
    const m = r['message'] as Record<string, unknown>;
    return {
      seq: m['seq'] as number,
      subject: m['subject'] as string,
      hdr: typeof m['hdrs'] === 'string' ? Buffer.from(m['hdrs'], 'base64') : null,
      data: typeof m['data'] === 'string' ? Buffer.from(m['data'], 'base64') : new Uint8Array(0),
      time: parseRfc3339(m['time'] as string) ?? 0n,
    };
  }

  async seqForTime(ns: bigint): Promise<number> {
    const r = await this.ask({ start_time: new Date(Number(ns / 1_000_000n)).toISOString() });
    return r === null ? 1 : ((r['message'] as Record<string, unknown>)['seq'] as number);
  }

  watch(): () => void {
    return () => undefined;
  }

  /** The message the origin's leader answers with, or null for "no message found". */
  private ask(body: Record<string, unknown>): Promise<Record<string, unknown> | null> {
    const bus = this.ctx.bus;
    const inbox = `$JSC.P.ORIGIN.${this.name}.${++this.seq}.${Math.random().toString(36).slice(2)}`;
    return new Promise((resolve, reject) => {
      const timer = this.ctx.scheduler.setTimeout(() => {
        sub.unsubscribe();
        reject(new Error(`origin ${this.name} did not answer`));
      }, REMOTE_ORIGIN_TIMEOUT_MS);
      const sub = bus.subscribe(inbox, null, (_s, _r, _h, data) => {
        sub.unsubscribe();
        this.ctx.scheduler.clearTimeout(timer);
        let r: Record<string, unknown>;
        try {
          r = JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>;
        } catch (err) {
          reject(err as Error);
          return;
        }
        const error = r['error'] as { err_code?: number } | undefined;
        if (error === undefined) resolve(r);
        else if (error.err_code === 10037) resolve(null);
        else if (error.err_code === 10059) reject(new OriginMissing(`origin ${this.name} not found`));
        else reject(new Error(`origin ${this.name}: ${JSON.stringify(error)}`));
      });
      bus.publish(`$JS.API.STREAM.MSG.GET.${this.name}`, inbox, null, Buffer.from(JSON.stringify(body)));
    });
  }
}
