// The nemesis: plays a fault schedule against a cluster through two seams — the network (links
// between nodes and in front of them, see network.ts) and the processes (kill, restart, pause,
// corrupt) — and records when each fault really started and ended, for the report.
//
// Every fault it starts it heals, even when starting it failed halfway, and after the last fault
// (or an abort) it heals everything: toxics removed, paused nodes resumed, killed nodes started.
//
// Each fault lasts its full duration from when it really started. Restarting a node takes real
// time (seconds, on a busy machine), so a fault may end later than planned; the rest of the
// schedule then moves back by as much, keeping every gap between faults — never a fault cut
// short, nor two at once.

import { describeFault, formatLinks, formatNodes, linksBetween, oneWayLinks } from './schedule.ts';
import type { DirectedLink, Fault, Schedule } from './schedule.ts';

export type SlowToxic = { type: 'latency'; latencyMs: number; jitterMs: number } | { type: 'bandwidth'; rateKBps: number };
export type FlapToxic = { type: 'reset_peer' | 'timeout'; timeoutMs: number };

/** Network faults, grouped by a tag so that one heal undoes exactly what one fault did. */
export interface NetworkControl {
  /** Drop all traffic on these links (a partition), keeping connections open until healed. */
  drop(tag: string, links: readonly DirectedLink[]): Promise<void>;
  slow(tag: string, links: readonly DirectedLink[], toxic: SlowToxic): Promise<void>;
  /** One "bad" phase of a flapping link. */
  flap(tag: string, links: readonly DirectedLink[], toxic: FlapToxic): Promise<void>;
  heal(tag: string): Promise<void>;
  healAll(): Promise<void>;
}

export interface SegmentChoice {
  pick: number;
  offset: number;
  bit: number;
}

export interface ProcessControl {
  readonly nodes: number;
  /** The node leading the workload's stream now, if any. */
  leader(): Promise<number | null>;
  /** SIGKILL. */
  kill(node: number): Promise<void>;
  /** Start a killed node again on its data. */
  start(node: number): Promise<void>;
  pause(node: number): Promise<void>;
  resume(node: number): Promise<void>;
  /** Flip one bit in one of a stopped node's stream segments; says which, or null if it has none. */
  corruptSegment(node: number, choice: SegmentChoice): Promise<string | null>;
}

/** Time since the start of the run; `sleep` may be simulated in tests. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock = (start = performance.now()): Clock => ({
  now: () => performance.now() - start,
  sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
});

export interface FaultWindow {
  id: number;
  kind: Fault['kind'];
  description: string;
  /** When it was applied and healed, in ms from the start of the run. */
  start: number;
  end: number;
  /** The nodes it hit once roles were resolved ("n2"), or the links. */
  target: string;
  /** Anything that went wrong applying or healing it. */
  errors: string[];
}

export interface NemesisEvents {
  /** A fault started ("start") or was healed ("end"); for the live progress line. */
  onFault?(phase: 'start' | 'end', window: FaultWindow): void;
}

export class Nemesis {
  private readonly net: NetworkControl;
  private readonly proc: ProcessControl;
  private readonly clock: Clock;
  private readonly events: NemesisEvents;
  private readonly killed = new Set<number>();
  private readonly paused = new Set<number>();

  constructor(net: NetworkControl, proc: ProcessControl, clock: Clock, events: NemesisEvents = {}) {
    this.net = net;
    this.proc = proc;
    this.clock = clock;
    this.events = events;
  }

  /** Plays the whole schedule; resolves with the windows once everything is healed. */
  async run(schedule: Schedule, signal?: AbortSignal): Promise<FaultWindow[]> {
    const windows: FaultWindow[] = [];
    /** How far behind the schedule the faults run: what the previous heals overran. */
    let lag = 0;
    try {
      for (const fault of schedule.faults) {
        if (signal?.aborted) break;
        await this.sleepUntil(fault.at + lag, signal);
        if (signal?.aborted) break;
        const w = await this.play(fault, signal);
        windows.push(w);
        lag = Math.max(lag, w.end - (fault.at + fault.duration));
      }
    } finally {
      await this.healEverything();
    }
    return windows;
  }

  private async sleepUntil(t: number, signal?: AbortSignal): Promise<void> {
    while (!signal?.aborted) {
      const wait = t - this.clock.now();
      if (wait <= 0) return;
      // Short steps so an abort is noticed promptly.
      await this.clock.sleep(Math.min(wait, 250));
    }
  }

  private async play(fault: Fault, signal?: AbortSignal): Promise<FaultWindow> {
    const w: FaultWindow = {
      id: fault.id,
      kind: fault.kind,
      description: describeFault(fault),
      start: this.clock.now(),
      end: 0,
      target: '',
      errors: [],
    };
    const tag = `chaos_f${fault.id}`;
    const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        w.errors.push(`${what}: ${(e as Error).message}`);
      }
    };
    let heal: () => Promise<void> = async () => undefined;
    let announced = false;
    const healNet = async () => attempt('heal network', () => this.net.heal(tag));

    switch (fault.kind) {
      case 'partition':
      case 'bridge': {
        const links = linksBetween(fault.sides[0], fault.sides[1]);
        w.target = fault.kind === 'bridge' ? `${formatNodes(fault.sides[0])} | ${formatNodes(fault.sides[1])} via n${fault.bridge}` : `${formatNodes(fault.sides[0])} | ${formatNodes(fault.sides[1])}`;
        await attempt('drop', () => this.net.drop(tag, links));
        heal = healNet;
        break;
      }
      case 'isolate-leader': {
        const leader = await this.resolveLeader(fault.fallback, w);
        const others = range(this.proc.nodes).filter((n) => n !== leader);
        w.target = `n${leader}`;
        await attempt('drop', () => this.net.drop(tag, linksBetween([leader], others)));
        heal = healNet;
        break;
      }
      case 'one-way':
        w.target = `n${fault.node} ${fault.direction}`;
        await attempt('drop', () => this.net.drop(tag, oneWayLinks(fault.node, fault.direction, this.proc.nodes)));
        heal = healNet;
        break;
      case 'latency':
      case 'bandwidth': {
        const toxic: SlowToxic =
          fault.kind === 'latency'
            ? { type: 'latency', latencyMs: fault.latencyMs, jitterMs: fault.jitterMs }
            : { type: 'bandwidth', rateKBps: fault.rateKBps };
        w.target = formatLinks(fault.links);
        await attempt('slow', () => this.net.slow(tag, fault.links, toxic));
        heal = healNet;
        break;
      }
      case 'flap-reset':
      case 'flap-timeout': {
        w.target = formatLinks(fault.links);
        const toxic: FlapToxic = { type: fault.kind === 'flap-reset' ? 'reset_peer' : 'timeout', timeoutMs: fault.timeoutMs };
        // The window is the flapping itself: announce it before the loop, not after.
        this.events.onFault?.('start', w);
        announced = true;
        const end = w.start + fault.duration;
        for (let on = true; this.clock.now() < end && !signal?.aborted; on = !on) {
          await attempt(on ? 'flap on' : 'flap off', () => (on ? this.net.flap(tag, fault.links, toxic) : this.net.heal(tag)));
          await this.sleepUntil(Math.min(end, this.clock.now() + fault.periodMs), signal);
        }
        heal = healNet;
        break;
      }
      case 'kill-node':
      case 'kill-leader': {
        const node = fault.kind === 'kill-node' ? fault.node : await this.resolveLeader(fault.fallback, w);
        w.target = `n${node}`;
        await attempt('kill', () => this.kill(node));
        heal = () => attempt('restart', () => this.start(node));
        break;
      }
      case 'crash-all': {
        const all = range(this.proc.nodes);
        w.target = 'all nodes';
        for (const n of all) await attempt(`kill n${n}`, () => this.kill(n));
        // Power comes back everywhere at once: the nodes start together and find each other.
        heal = async () => void (await Promise.all(all.map((n) => attempt(`restart n${n}`, () => this.start(n)))));
        break;
      }
      case 'pause': {
        const node = fault.node === 'leader' ? await this.resolveLeader(fault.fallback, w) : fault.node;
        w.target = `n${node}`;
        await attempt('pause', () => this.pause(node));
        heal = () => attempt('resume', () => this.resume(node));
        break;
      }
      case 'bitflip-follower': {
        const leader = await this.proc.leader().catch(() => null);
        const followers = range(this.proc.nodes).filter((n) => n !== leader);
        const node = followers.length > 0 ? followers[fault.pick % followers.length]! : fault.fallback;
        w.target = `n${node}`;
        await attempt('kill', () => this.kill(node));
        await attempt('corrupt', async () => {
          const what = await this.proc.corruptSegment(node, { pick: fault.pick, offset: fault.offset, bit: fault.bit });
          w.target += what ? ` (${what})` : ' (no segment to corrupt)';
        });
        heal = () => attempt('restart', () => this.start(node));
        break;
      }
    }
    if (!announced) this.events.onFault?.('start', w);
    await this.sleepUntil(w.start + fault.duration, signal);
    await heal();
    w.end = this.clock.now();
    this.events.onFault?.('end', w);
    return w;
  }

  private async resolveLeader(fallback: number, w: FaultWindow): Promise<number> {
    try {
      const leader = await this.proc.leader();
      if (leader !== null) return leader;
      w.errors.push(`no leader: used n${fallback}`);
    } catch (e) {
      w.errors.push(`leader lookup: ${(e as Error).message}; used n${fallback}`);
    }
    return fallback;
  }

  private async kill(node: number): Promise<void> {
    if (this.paused.has(node)) await this.resume(node);
    await this.proc.kill(node);
    this.killed.add(node);
  }

  private async start(node: number): Promise<void> {
    await this.proc.start(node);
    this.killed.delete(node);
  }

  private async pause(node: number): Promise<void> {
    if (this.killed.has(node)) return;
    await this.proc.pause(node);
    this.paused.add(node);
  }

  private async resume(node: number): Promise<void> {
    await this.proc.resume(node);
    this.paused.delete(node);
  }

  /** Whatever is still broken — by an abort or a heal that failed — is mended here. */
  private async healEverything(): Promise<void> {
    await this.net.healAll().catch(() => undefined);
    for (const n of [...this.paused]) await this.resume(n).catch(() => undefined);
    for (const n of [...this.killed]) await this.start(n).catch(() => undefined);
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
