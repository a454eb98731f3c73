// Fault schedules (seeded, replayable, every fault healed before the end), the nemesis that plays
// them (on a simulated clock against recording controls), the Toxiproxy-backed network control
// (against chaos/toxiproxy) and the segment bit flipper.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Toxiproxy } from 'toxiproxy-node-client';
import { flipSegmentBit } from '../../chaos/faults/bitflip.ts';
import { Nemesis } from '../../chaos/faults/nemesis.ts';
import type { Clock, NetworkControl, ProcessControl } from '../../chaos/faults/nemesis.ts';
import { routeProxy, streamsOf, topologyProxies, ToxiproxyNetwork } from '../../chaos/faults/network.ts';
import { FAULT_KINDS, formatSchedule, generateSchedule, selectKinds } from '../../chaos/faults/schedule.ts';
import type { Fault, Schedule } from '../../chaos/faults/schedule.ts';
import { startToxiproxy } from '../../chaos/toxiproxy/server.ts';
import type { ToxiproxyServer } from '../../chaos/toxiproxy/server.ts';
import { connect, portOf, startUpstream, until } from './tcp.ts';
import type { TestUpstream } from './tcp.ts';

describe('schedule', () => {
  it('is a function of the seed: same seed, same schedule; other seeds, other schedules', () => {
    const a = generateSchedule({ seed: 42, nodes: 5, durationMs: 300_000 });
    expect(generateSchedule({ seed: 42, nodes: 5, durationMs: 300_000 })).toEqual(a);
    expect(generateSchedule({ seed: 43, nodes: 5, durationMs: 300_000 }).faults).not.toEqual(a.faults);
    expect(a.faults.length).toBeGreaterThan(5);
  });

  it('keeps its invariants over many seeds: one fault at a time, all healed before the quiet end, valid targets', () => {
    for (const nodes of [3, 5]) {
      for (const durationMs of [10_000, 60_000, 300_000]) {
        for (let seed = 1; seed <= 40; seed++) {
          const s = generateSchedule({ seed, nodes, durationMs });
          expect(s.healedBy).toBeLessThan(durationMs);
          let previousEnd = 0;
          for (const f of s.faults) {
            expect(f.at).toBeGreaterThanOrEqual(previousEnd);
            expect(f.duration).toBeGreaterThan(0);
            expect(f.at + f.duration).toBeLessThanOrEqual(s.healedBy);
            expect(s.kinds).toContain(f.kind);
            checkTargets(f, nodes);
            previousEnd = f.at + f.duration;
          }
        }
      }
    }
  });

  function checkTargets(f: Fault, nodes: number): void {
    const inRange = (n: number) => expect(Number.isInteger(n) && n >= 0 && n < nodes).toBe(true);
    switch (f.kind) {
      case 'partition': {
        const [major, minor] = f.sides;
        expect(major.length).toBeGreaterThan(minor.length);
        expect(minor.length).toBeGreaterThan(0);
        expect([...major, ...minor].sort()).toEqual(Array.from({ length: nodes }, (_, i) => i));
        break;
      }
      case 'bridge':
        expect(nodes).toBe(5);
        expect([...f.sides[0], f.bridge, ...f.sides[1]].sort()).toEqual([0, 1, 2, 3, 4]);
        expect(f.sides[0]).toHaveLength(2);
        break;
      case 'flap-reset':
      case 'flap-timeout':
      case 'latency':
      case 'bandwidth':
        expect(f.links.length).toBeGreaterThan(0);
        for (const l of f.links) {
          inRange(l.to);
          if (l.from !== 'clients') {
            inRange(l.from);
            expect(l.from).not.toBe(l.to);
          }
        }
        break;
      case 'one-way':
      case 'kill-node':
        inRange(f.node);
        break;
      case 'pause':
        if (f.node !== 'leader') inRange(f.node);
        break;
      default:
        break;
    }
  }

  it('draws every kind the filter allows (bridge only with 5 nodes)', () => {
    const seen3 = new Set<string>();
    const seen5 = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      for (const f of generateSchedule({ seed, nodes: 3, durationMs: 300_000 }).faults) seen3.add(f.kind);
      for (const f of generateSchedule({ seed, nodes: 5, durationMs: 300_000 }).faults) seen5.add(f.kind);
    }
    expect([...seen5].sort()).toEqual([...FAULT_KINDS].sort());
    expect([...seen3].sort()).toEqual(FAULT_KINDS.filter((k) => k !== 'bridge').sort());
  });

  it('deals the kinds from a deck: no kind twice before every kind once, so a 5-minute run sees them all', () => {
    for (const nodes of [3, 5]) {
      for (let seed = 1; seed <= 40; seed++) {
        const s = generateSchedule({ seed, nodes, durationMs: 300_000 });
        const kinds = s.faults.map((f) => f.kind);
        for (let i = 0; i < kinds.length; i += s.kinds.length) {
          const round = kinds.slice(i, i + s.kinds.length);
          expect(new Set(round).size, `seed ${seed}, ${nodes} nodes: ${kinds.join(' ')}`).toBe(round.length);
        }
        if (kinds.length >= s.kinds.length) expect(new Set(kinds).size).toBe(s.kinds.length);
      }
    }
    expect(new Set(generateSchedule({ seed: 1, nodes: 3, durationMs: 300_000 }).faults.map((f) => f.kind)).size).toBe(12);
  });

  it('--faults selects families and kinds (none: no faults), and refuses unknown names and a bridge on 3 nodes', () => {
    expect(selectKinds(['partition', 'kill'], 5)).toEqual(['partition', 'isolate-leader', 'bridge', 'one-way', 'kill-node', 'kill-leader', 'crash-all']);
    expect(selectKinds(['pause', 'latency'], 3)).toEqual(['latency', 'pause']);
    expect(selectKinds(['partition'], 3)).not.toContain('bridge');
    expect(selectKinds(['none'], 3)).toEqual([]);
    expect(generateSchedule({ seed: 1, nodes: 3, durationMs: 60_000, faults: ['none'] }).faults).toEqual([]);
    expect(() => selectKinds(['bridge'], 3)).toThrow('the bridge fault needs 5 nodes');
    expect(() => selectKinds(['earthquake'], 3)).toThrow('unknown fault "earthquake"');
    const s = generateSchedule({ seed: 7, nodes: 3, durationMs: 120_000, faults: ['kill'] });
    expect(new Set(s.faults.map((f) => f.kind.startsWith('kill') || f.kind === 'crash-all'))).toEqual(new Set([true]));
  });

  it('prints one line per fault and a replay line that regenerates the same schedule', () => {
    const s = generateSchedule({ seed: 9, nodes: 5, durationMs: 60_000, faults: ['partition', 'slow'] });
    const text = formatSchedule(s);
    const lines = text.split('\n');
    expect(lines[0]).toBe(`seed 9: ${s.faults.length} faults over 60.0s on 5 nodes, all healed by ${(s.healedBy / 1000).toFixed(1)}s`);
    expect(lines).toHaveLength(s.faults.length + 2);
    const replay = /--seed (\d+) --nodes (\d+) --time (\d+) --faults (\S+)/.exec(lines.at(-1)!)!;
    const again = generateSchedule({ seed: Number(replay[1]), nodes: Number(replay[2]), durationMs: Number(replay[3]) * 1000, faults: replay[4]!.split(',') });
    expect(again).toEqual(s);
  });
});

/** A clock that jumps: sleeping advances it at once. */
function fakeClock(): Clock {
  let t = 0;
  return { now: () => t, sleep: async (ms) => void (t += Math.max(1, ms)) };
}

interface Call {
  t: number;
  what: string;
}

function recordingControls(clock: Clock, nodes: number, leader: number | null) {
  const calls: Call[] = [];
  const log = (what: string) => calls.push({ t: clock.now(), what });
  const tags = new Set<string>();
  const net: NetworkControl = {
    drop: async (tag, links) => void (tags.add(tag), log(`drop ${tag} ${links.length}`)),
    slow: async (tag, _l, toxic) => void (tags.add(tag), log(`slow ${tag} ${toxic.type}`)),
    flap: async (tag, _l, toxic) => void (tags.add(tag), log(`flap ${tag} ${toxic.type}`)),
    heal: async (tag) => void (tags.delete(tag), log(`heal ${tag}`)),
    healAll: async () => void (tags.clear(), log('healAll')),
  };
  const down = new Set<number>();
  const stopped = new Set<number>();
  const proc: ProcessControl = {
    nodes,
    leader: async () => leader,
    kill: async (n) => void (down.add(n), log(`kill ${n}`)),
    start: async (n) => void (down.delete(n), log(`start ${n}`)),
    pause: async (n) => void (stopped.add(n), log(`pause ${n}`)),
    resume: async (n) => void (stopped.delete(n), log(`resume ${n}`)),
    corruptSegment: async (n, c) => (log(`corrupt ${n} bit ${c.bit}`), `msgs/1.seg@${c.offset.toFixed(2)}`),
  };
  return { calls, net, proc, tags, down, stopped };
}

describe('nemesis', () => {
  const schedule = (faults: Fault[], nodes = 3): Schedule => ({ seed: 0, nodes, durationMs: 100_000, kinds: [], healedBy: 90_000, faults });

  it('plays each fault at its time, resolves the leader, heals each at its end and everything at the close', async () => {
    const clock = fakeClock();
    const c = recordingControls(clock, 3, 2);
    const faults: Fault[] = [
      { id: 1, at: 1_000, duration: 2_000, kind: 'partition', sides: [[0, 1], [2]] },
      { id: 2, at: 5_000, duration: 1_000, kind: 'kill-leader', fallback: 0 },
      { id: 3, at: 8_000, duration: 1_000, kind: 'pause', node: 'leader', fallback: 0 },
      { id: 4, at: 10_000, duration: 1_000, kind: 'bitflip-follower', fallback: 0, pick: 3, offset: 0.5, bit: 6 },
      { id: 5, at: 12_000, duration: 1_000, kind: 'crash-all' },
      { id: 6, at: 14_000, duration: 1_000, kind: 'latency', links: [{ from: 'clients', to: 1 }], latencyMs: 50, jitterMs: 5 },
    ];
    const windows = await new Nemesis(c.net, c.proc, clock).run(schedule(faults));
    expect(c.calls).toEqual([
      { t: 1_000, what: 'drop chaos_f1 4' },
      { t: 3_000, what: 'heal chaos_f1' },
      { t: 5_000, what: 'kill 2' },
      { t: 6_000, what: 'start 2' },
      { t: 8_000, what: 'pause 2' },
      { t: 9_000, what: 'resume 2' },
      // The leader is n2: the follower is the pick among n0, n1.
      { t: 10_000, what: 'kill 1' },
      { t: 10_000, what: 'corrupt 1 bit 6' },
      { t: 11_000, what: 'start 1' },
      { t: 12_000, what: 'kill 0' },
      { t: 12_000, what: 'kill 1' },
      { t: 12_000, what: 'kill 2' },
      { t: 13_000, what: 'start 0' },
      { t: 13_000, what: 'start 1' },
      { t: 13_000, what: 'start 2' },
      { t: 14_000, what: 'slow chaos_f6 latency' },
      { t: 15_000, what: 'heal chaos_f6' },
      { t: 15_000, what: 'healAll' },
    ]);
    expect(windows.map((w) => [w.id, w.start, w.end, w.target])).toEqual([
      [1, 1_000, 3_000, 'n0,n1 | n2'],
      [2, 5_000, 6_000, 'n2'],
      [3, 8_000, 9_000, 'n2'],
      [4, 10_000, 11_000, 'n1 (msgs/1.seg@0.50)'],
      [5, 12_000, 13_000, 'all nodes'],
      [6, 14_000, 15_000, 'clients->n1'],
    ]);
    expect(windows.every((w) => w.errors.length === 0)).toBe(true);
  });

  it('a heal that takes long moves the rest of the schedule back; every fault keeps its full length', async () => {
    const clock = fakeClock();
    const c = recordingControls(clock, 3, 0);
    // Restarting takes 3 s (a node coming up on a busy machine).
    const proc = { ...c.proc, start: async (n: number) => (await clock.sleep(3_000), c.proc.start(n)) };
    const windows = await new Nemesis(c.net, proc, clock).run(
      schedule([
        { id: 1, at: 1_000, duration: 2_000, kind: 'kill-node', node: 1 },
        { id: 2, at: 4_000, duration: 2_000, kind: 'partition', sides: [[0, 1], [2]] },
        { id: 3, at: 7_000, duration: 1_000, kind: 'pause', node: 0, fallback: 0 },
      ]),
    );
    expect(windows.map((w) => [w.id, w.start, w.end])).toEqual([
      [1, 1_000, 6_000],
      [2, 7_000, 9_000],
      [3, 10_000, 11_000],
    ]);
  });

  it('flaps a link on and off through the window and leaves it clean', async () => {
    const clock = fakeClock();
    const c = recordingControls(clock, 3, null);
    await new Nemesis(c.net, c.proc, clock).run(
      schedule([{ id: 1, at: 0, duration: 1_000, kind: 'flap-reset', links: [{ from: 0, to: 1 }], periodMs: 300, timeoutMs: 0 }]),
    );
    expect(c.calls.map((x) => `${x.t} ${x.what}`)).toEqual([
      '0 flap chaos_f1 reset_peer',
      '300 heal chaos_f1',
      '600 flap chaos_f1 reset_peer',
      '900 heal chaos_f1',
      '1000 heal chaos_f1',
      '1000 healAll',
    ]);
  });

  it('uses the fallback when there is no leader, and records it', async () => {
    const clock = fakeClock();
    const c = recordingControls(clock, 3, null);
    const [w] = await new Nemesis(c.net, c.proc, clock).run(
      schedule([{ id: 1, at: 0, duration: 10, kind: 'isolate-leader', fallback: 1 }]),
    );
    expect(w!.target).toBe('n1');
    expect(w!.errors).toEqual(['no leader: used n1']);
  });

  it('a generated schedule leaves nothing broken: every kill restarted, every pause resumed, every tag healed', async () => {
    for (const seed of [1, 2, 3]) {
      const clock = fakeClock();
      const c = recordingControls(clock, 5, 0);
      const s = generateSchedule({ seed, nodes: 5, durationMs: 300_000 });
      const windows = await new Nemesis(c.net, c.proc, clock).run(s);
      expect(windows.map((w) => w.id)).toEqual(s.faults.map((f) => f.id));
      expect(c.down.size).toBe(0);
      expect(c.stopped.size).toBe(0);
      expect(c.tags.size).toBe(0);
      for (const w of windows) expect(w.end).toBeLessThanOrEqual(s.healedBy);
    }
  });

  it('an abort stops the schedule and still heals what was broken', async () => {
    const clock = fakeClock();
    const c = recordingControls(clock, 3, 0);
    const abort = new AbortController();
    const proc = { ...c.proc, kill: async (n: number) => (await c.proc.kill(n), abort.abort()) };
    const windows = await new Nemesis(c.net, proc, clock).run(
      schedule([
        { id: 1, at: 0, duration: 50_000, kind: 'kill-node', node: 1 },
        { id: 2, at: 60_000, duration: 1_000, kind: 'crash-all' },
      ]),
      abort.signal,
    );
    expect(windows.map((w) => w.id)).toEqual([1]);
    expect(c.down.size).toBe(0);
    expect(c.calls.at(-1)!.t).toBeLessThan(50_000);
  });
});

describe('Toxiproxy network', () => {
  let server: ToxiproxyServer;
  let client: Toxiproxy;
  const upstreams: TestUpstream[] = [];

  beforeAll(async () => {
    server = await startToxiproxy({ port: 0 });
    client = new Toxiproxy(server.url);
    for (let i = 0; i < 3; i++) upstreams.push(await startUpstream('echo'));
    await client.populate(topologyProxies(upstreams.map((u) => ({ route: u.address, client: u.address }))));
  });

  afterAll(async () => {
    await server.close();
    for (const u of upstreams) await u.close();
  });

  const toxicsOf = async (proxy: string) =>
    ((await client.getApi().get(`${server.url}/proxies/${proxy}/toxics`)).data as { name: string; type: string; stream: string; attributes: object }[]).map(
      (t) => `${t.name}:${t.type}:${t.stream}:${JSON.stringify(t.attributes)}`,
    );

  it('builds the standard topology: a client proxy per node and a route proxy per ordered pair', async () => {
    expect(Object.keys(await client.getAll()).sort()).toEqual(
      ['client_n0', 'client_n1', 'client_n2', 'route_n0_n1', 'route_n0_n2', 'route_n1_n0', 'route_n1_n2', 'route_n2_n0', 'route_n2_n1'],
    );
    expect(streamsOf({ from: 0, to: 2 })).toEqual([
      { proxy: 'route_n0_n2', stream: 'upstream' },
      { proxy: 'route_n2_n0', stream: 'downstream' },
    ]);
  });

  it('drop puts timeout toxics on both proxies carrying a direction; heal takes exactly those off', async () => {
    const net = new ToxiproxyNetwork(client);
    await net.drop('t1', [{ from: 0, to: 1 }]);
    await net.slow('t2', [{ from: 'clients', to: 2 }], { type: 'bandwidth', rateKBps: 100 });
    expect(await toxicsOf('route_n0_n1')).toEqual(['t1_upstream:timeout:upstream:{"timeout":0}']);
    expect(await toxicsOf('route_n1_n0')).toEqual(['t1_downstream:timeout:downstream:{"timeout":0}']);
    expect(await toxicsOf('client_n2')).toEqual(['t2_upstream:bandwidth:upstream:{"rate":100}']);
    await net.heal('t1');
    expect(await toxicsOf('route_n0_n1')).toEqual([]);
    expect(await toxicsOf('route_n1_n0')).toEqual([]);
    expect(await toxicsOf('client_n2')).toHaveLength(1);
    await net.flap('t3', [{ from: 2, to: 0 }], { type: 'reset_peer', timeoutMs: 20 });
    expect(await toxicsOf('route_n2_n0')).toEqual(['t3_upstream:reset_peer:upstream:{"timeout":20}']);
    await net.healAll();
    for (const p of Object.keys(await client.getAll())) expect(await toxicsOf(p)).toEqual([]);
  });

  it('a dropped link carries no bytes until healed, and healing closes the connection it swallowed from', async () => {
    const net = new ToxiproxyNetwork(client);
    const proxy = await client.get(routeProxy(0, 1));
    const c = await connect(portOf(proxy.listen));
    c.send('before');
    await c.waitBytes(6);
    await net.drop('cut', [{ from: 0, to: 1 }]);
    c.send('during');
    const stats = server.api.proxies.get(routeProxy(0, 1))!.stats;
    await until(() => stats.upstream.bytesIn === 12, 'bytes at the proxy');
    expect(stats.upstream.bytesOut).toBe(6);
    await net.heal('cut');
    expect(await c.closed).toBe('end');
    expect(c.data.toString()).toBe('before');
  });
});

describe('segment bit flip', () => {
  it('flips exactly one bit of the chosen segment, chosen by the schedule', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitflip-'));
    try {
      fs.mkdirSync(path.join(dir, 'jetstream', 'ORDERS', 'msgs'), { recursive: true });
      const seg = (n: number) => path.join(dir, 'jetstream', 'ORDERS', 'msgs', `${n}.seg`);
      fs.writeFileSync(seg(1), Buffer.alloc(100, 0));
      fs.writeFileSync(seg(2), Buffer.alloc(200, 0));
      fs.writeFileSync(path.join(dir, 'jetstream', 'ORDERS', 'meta.inf'), 'x');
      const flipped = flipSegmentBit(dir, { pick: 3, offset: 0.5, bit: 2 });
      expect(flipped).toEqual({ file: path.join('jetstream', 'ORDERS', 'msgs', '2.seg'), position: 100, bit: 2 });
      const data = fs.readFileSync(seg(2));
      expect(data[100]).toBe(4);
      expect(data.reduce((n, b) => n + (b === 0 ? 0 : 1), 0)).toBe(1);
      expect(fs.readFileSync(seg(1)).every((b) => b === 0)).toBe(true);
      expect(flipSegmentBit(path.join(dir, 'empty'), { pick: 0, offset: 0, bit: 0 })).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
