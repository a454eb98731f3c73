// The simulated network: per-link blocking (symmetric and one-way partitions) and
// global conditions (loss, duplication, delay range that causes reordering).

import type { Random } from '../prng.ts';
import type { NodeId } from '../types.ts';

export interface LinkConditions {
  lossPerMille: number;
  dupPerMille: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const CALM_NETWORK: LinkConditions = { lossPerMille: 0, dupPerMille: 0, minDelayMs: 1, maxDelayMs: 15 };

export class SimNetwork {
  /** "from>to" -> number of active faults blocking that direction */
  private readonly blocked = new Map<string, number>();
  private readonly lossy: LinkConditions[] = [];
  private readonly random: Random;
  conditions: LinkConditions = CALM_NETWORK;

  constructor(random: Random) {
    this.random = random;
  }

  block(from: NodeId, to: NodeId): void {
    const k = `${from}>${to}`;
    this.blocked.set(k, (this.blocked.get(k) ?? 0) + 1);
  }

  unblock(from: NodeId, to: NodeId): void {
    const k = `${from}>${to}`;
    const n = (this.blocked.get(k) ?? 0) - 1;
    if (n <= 0) this.blocked.delete(k);
    else this.blocked.set(k, n);
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.size > 0 && this.blocked.has(`${from}>${to}`);
  }

  addLossy(c: LinkConditions): void {
    this.lossy.push(c);
    this.recompute();
  }

  removeLossy(c: LinkConditions): void {
    const i = this.lossy.indexOf(c);
    if (i >= 0) this.lossy.splice(i, 1);
    this.recompute();
  }

  healAll(): void {
    this.blocked.clear();
    this.lossy.length = 0;
    this.recompute();
  }

  private recompute(): void {
    let c = CALM_NETWORK;
    for (const l of this.lossy) {
      c = {
        lossPerMille: Math.max(c.lossPerMille, l.lossPerMille),
        dupPerMille: Math.max(c.dupPerMille, l.dupPerMille),
        minDelayMs: 1,
        maxDelayMs: Math.max(c.maxDelayMs, l.maxDelayMs),
      };
    }
    this.conditions = c;
  }

  /** Delivery delays for one message: [] when dropped, two entries when duplicated. */
  plan(from: NodeId, to: NodeId): number[] {
    if (this.isBlocked(from, to)) return [];
    const c = this.conditions;
    const r = this.random;
    if (c.lossPerMille > 0 && r.int(1000) < c.lossPerMille) return [];
    const delay = (): number => c.minDelayMs + r.int(c.maxDelayMs - c.minDelayMs + 1);
    if (c.dupPerMille > 0 && r.int(1000) < c.dupPerMille) return [delay(), delay()];
    return [delay()];
  }
}
