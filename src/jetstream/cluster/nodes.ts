// Who is in the JetStream cluster: every JetStream node announces itself in the system account
// once a second (and at once when it hears of a node it did not know), so each node knows the
// others' ids, names, tags and whether they are online, which is what placement, the meta
// group's bootstrap and stream info's `offline` flags need. Announcements are gossip, not state:
// decisions made from them (a placement) are recorded in the meta group's log.

import type { BusSubscription, JsBus, Scheduler } from '../bus.ts';
import type { NodeId } from '../../raft/types.ts';

export const NODE_ANNOUNCE_SUBJECT = '$JSC.P.NODE';
export const ANNOUNCE_INTERVAL_MS = 1_000;
/** A node silent for this long is offline (placement skips it, infos flag it). */
export const NODE_OFFLINE_MS = 5_000;
/** Announcing again at once is rate-limited to this. */
const REANNOUNCE_MIN_MS = 100;

export interface NodeAnnouncement {
  v: 1;
  id: NodeId;
  name: string;
  cluster: string;
  domain: string;
  tags: string[];
  /** 'fresh': no meta group state yet; 'member': has it (or joined one). */
  meta: 'fresh' | 'member';
  /** The fresh nodes this one sees (itself included), for the bootstrap agreement. */
  seen: NodeId[];
  /** The meta leader as this node knows it ('' when none). */
  leader: NodeId;
  /** Per account: bytes in the streams this node leads, and their consumers. */
  usage: Record<string, { memory: number; storage: number; consumers: number }>;
}

export interface KnownNode extends NodeAnnouncement {
  /** Local clock when its last announcement arrived. */
  heardMs: number;
}

export class NodeDirectory {
  private readonly bus: JsBus;
  private readonly scheduler: Scheduler;
  private readonly self: () => NodeAnnouncement;
  private readonly known = new Map<NodeId, KnownNode>();
  private sub: BusSubscription | null = null;
  private timer: unknown = null;
  private lastAnnounceMs = 0;
  private reannounceQueued = false;
  /** Told when a node appears, changes its announcement's meta fields, or goes silent. */
  onChange: () => void = () => {};

  constructor(bus: JsBus, scheduler: Scheduler, self: () => NodeAnnouncement) {
    this.bus = bus;
    this.scheduler = scheduler;
    this.self = self;
  }

  start(): void {
    this.sub = this.bus.subscribe(NODE_ANNOUNCE_SUBJECT, null, (_s, _r, _h, data) => this.heard(data));
    this.announce();
    this.tick();
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
    if (this.timer !== null) this.scheduler.clearTimeout(this.timer);
    this.timer = null;
  }

  private tick(): void {
    this.timer = this.scheduler.setTimeout(() => {
      this.announce();
      this.tick();
      this.onChange();
    }, ANNOUNCE_INTERVAL_MS);
  }

  announce(): void {
    if (this.sub === null) return;
    this.lastAnnounceMs = this.scheduler.now();
    this.bus.publish(NODE_ANNOUNCE_SUBJECT, null, null, Buffer.from(JSON.stringify(this.self())));
  }

  private heard(data: Uint8Array): void {
    let a: NodeAnnouncement;
    try {
      a = JSON.parse(Buffer.from(data).toString('utf8')) as NodeAnnouncement;
    } catch {
      return;
    }
    if (a.v !== 1 || typeof a.id !== 'string') return;
    const me = this.self();
    if (a.id === me.id) return;
    const prev = this.known.get(a.id);
    this.known.set(a.id, { ...a, heardMs: this.scheduler.now() });
    const news = prev === undefined || this.silent(prev) || prev.meta !== a.meta || prev.leader !== a.leader || prev.seen.join() !== a.seen.join();
    if (prev === undefined || this.silent(prev)) this.reannounce();
    if (news) this.onChange();
  }

  /** A newcomer learns of us at once instead of within a second. */
  private reannounce(): void {
    if (this.reannounceQueued) return;
    const wait = Math.max(0, REANNOUNCE_MIN_MS - (this.scheduler.now() - this.lastAnnounceMs));
    this.reannounceQueued = true;
    this.scheduler.setTimeout(() => {
      this.reannounceQueued = false;
      this.announce();
    }, wait);
  }

  private silent(n: KnownNode): boolean {
    return this.scheduler.now() - n.heardMs > NODE_OFFLINE_MS;
  }

  get(id: NodeId): KnownNode | undefined {
    return this.known.get(id);
  }

  /** Other nodes heard from recently. */
  online(): KnownNode[] {
    return [...this.known.values()].filter((n) => !this.silent(n));
  }

  all(): KnownNode[] {
    return [...this.known.values()];
  }

  isOnline(id: NodeId): boolean {
    if (id === this.self().id) return true;
    const n = this.known.get(id);
    return n !== undefined && !this.silent(n);
  }

  /** ms since `id` announced itself, null if never (0 for this node). */
  silenceMs(id: NodeId): number | null {
    if (id === this.self().id) return 0;
    const n = this.known.get(id);
    return n === undefined ? null : this.scheduler.now() - n.heardMs;
  }

  nameOf(id: NodeId): string {
    if (id === this.self().id) return this.self().name;
    return this.known.get(id)?.name ?? id;
  }

  /** The id of the node named `name` (online ones first), or undefined. */
  idOf(nameOrId: string): NodeId | undefined {
    if (nameOrId === this.self().name || nameOrId === this.self().id) return this.self().id;
    let found: KnownNode | undefined;
    for (const n of this.known.values()) {
      if (n.id === nameOrId) return n.id;
      if (n.name === nameOrId && (found === undefined || !this.silent(n))) found = n;
    }
    return found?.id;
  }
}
