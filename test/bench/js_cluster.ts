// Replicated JetStream, side by side: a three-node Petrel cluster and a three-node Go 2.9.10
// cluster, one after the other on the same machine, with the bench's load generator.
//   npm run bench:jscluster -- [--duration 3] [--repeat 1] [--js-msgs 50000] [--no-go] [--json <file>]
// Scenarios (128 B payloads, file storage):
//   r3-pub-leader     acked publish, window of 1,000 acks in flight, client on the stream leader
//   r3-pub-follower   the same through a node that is not the stream leader
//   r1-pub            an R1 stream on the cluster, client on its node
//   r3-pull           durable pull consumer + ack of a pre-filled R3 stream, client on the leader
//   r3-latency        single acked publish, one at a time: p50 / p99
// Durability differs: nats-server acks once a quorum has the entry in memory (and syncs its
// files every 2 min); Petrel acks once the entry is fsynced on a quorum.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { AgentPool } from './loadgen/pool.ts';
import type { Target } from './loadgen/protocol.ts';
import { GO_BIN, PETREL_BIN, goServerVersion } from './servers.ts';

const SIZE = 128;
const WINDOW = 1000;
const IDLE_MS = 10_000;
const LATENCY_SAMPLES = 2000;
const API_TIMEOUT_MS = 15_000;

interface Flags {
  durationMs: number;
  repeat: number;
  pullMsgs: number;
  go: boolean;
  json: string;
}

function parseFlags(argv: string[]): Flags {
  const f: Flags = { durationMs: 3000, repeat: 1, pullMsgs: 50_000, go: true, json: path.join(os.tmpdir(), 'petrel-bench', 'jscluster.json') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => argv[++i] ?? '';
    if (a === '--duration') f.durationMs = Number(v()) * 1000;
    else if (a === '--repeat') f.repeat = Math.max(1, Number(v()));
    else if (a === '--js-msgs') f.pullMsgs = Number(v());
    else if (a === '--no-go') f.go = false;
    else if (a === '--json') f.json = path.resolve(v());
    else throw new Error(`unknown option ${a}`);
  }
  return f;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Node {
  name: string;
  port: number;
  proc: ChildProcess;
  log: string[];
}

interface Cluster {
  kind: 'petrel' | 'go';
  nodes: Node[];
  dir: string;
  stop(): Promise<void>;
}

/** Three nodes, every route configured on every node (as nats-server's JetStream wants). */
async function startCluster(kind: 'petrel' | 'go'): Promise<Cluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `petrel-bench-jsc-${kind}-`));
  const ports = await Promise.all([0, 1, 2].map(async () => ({ client: await freePort(), cluster: await freePort() })));
  const nodes: Node[] = [];
  for (let i = 0; i < 3; i++) {
    const name = `${kind[0]}${i + 1}`;
    const conf = path.join(dir, `${name}.conf`);
    const routes = ports.map((p) => `nats-route://127.0.0.1:${p.cluster}`).join(', ');
    fs.writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${ports[i]!.client}`,
        `jetstream { store_dir: "${path.join(dir, name)}" }`,
        `cluster { name: bench, listen: 127.0.0.1:${ports[i]!.cluster}, routes: [${routes}] }`,
        kind === 'petrel' ? 'workers: 1' : '',
      ].join('\n'),
    );
    const proc = spawn(kind === 'petrel' ? PETREL_BIN : GO_BIN, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    const keep = (d: Buffer) => {
      log.push(...d.toString().split('\n'));
      if (log.length > 200) log.splice(0, log.length - 200);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    nodes.push({ name, port: ports[i]!.client, proc, log });
  }
  const stop = async (): Promise<void> => {
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.proc.exitCode !== null) return resolve();
            n.proc.once('exit', () => resolve());
            n.proc.kill('SIGTERM');
            setTimeout(() => n.proc.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const c: Cluster = { kind, nodes, dir, stop };
  // Ready when every node answers account info (each has a meta leader to ask).
  const deadline = Date.now() + 60_000;
  for (const n of nodes) {
    for (;;) {
      try {
        const nc = await connect({ servers: `127.0.0.1:${n.port}`, timeout: 1000 });
        const r = (await nc.request('$JS.API.INFO', '', { timeout: 1000 })).json<Record<string, unknown>>();
        await nc.close();
        if (r['error'] === undefined) break;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${kind} cluster did not form:\n${nodes.map((x) => x.log.slice(-10).join('\n')).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return c;
}

async function api(c: Cluster, subject: string, body: unknown): Promise<Record<string, unknown>> {
  const nc = await connect({ servers: c.nodes.map((n) => `127.0.0.1:${n.port}`) });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = (await nc.request(subject, JSON.stringify(body), { timeout: API_TIMEOUT_MS })).json<Record<string, unknown>>();
        if (r['error'] !== undefined) throw new Error(`${subject}: ${JSON.stringify(r['error'])}`);
        return r;
      } catch (err) {
        if (attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await nc.close();
  }
}

/** Creates a stream and returns its leader's and one follower's client targets. */
async function createStream(c: Cluster, name: string, replicas: number): Promise<{ leader: Target; follower: Target }> {
  await api(c, `$JS.API.STREAM.CREATE.${name}`, { name, subjects: [`${name}.>`], storage: 'file', num_replicas: replicas });
  let leaderName = '';
  for (let i = 0; i < 100 && leaderName === ''; i++) {
    const info = await api(c, `$JS.API.STREAM.INFO.${name}`, {});
    leaderName = ((info['cluster'] as { leader?: string } | undefined)?.leader ?? '') as string;
    if (leaderName === '') await new Promise((r) => setTimeout(r, 100));
  }
  const leader = c.nodes.find((n) => n.name === leaderName)!;
  const follower = c.nodes.find((n) => n !== leader)!;
  return { leader: { host: '127.0.0.1', port: leader.port }, follower: { host: '127.0.0.1', port: follower.port } };
}

interface Figure {
  scenario: string;
  value: number;
  unit: string;
  detail: string;
}

async function publishRun(pool: AgentPool, target: Target, subject: string, durationMs: number, maxMsgs = Number.MAX_SAFE_INTEGER): Promise<{ rate: number; acked: number; faults: string }> {
  const { jsPub: r } = await pool.pub.call({ op: 'jsPublish', target, subject, size: SIZE, window: WINDOW, durationMs, maxMsgs, idleMs: IDLE_MS });
  const ns = r!.lastAckNs - r!.startNs;
  const faults = [r!.faults.join('; '), r!.errors ? `${r!.errors} errors (${r!.firstError})` : '', r!.missingAcks ? `${r!.missingAcks} never acked` : ''].filter(Boolean).join('; ');
  return { rate: ns > 0 ? r!.acked / (ns / 1e9) : 0, acked: r!.acked, faults };
}

async function measure(c: Cluster, pool: AgentPool, f: Flags): Promise<Figure[]> {
  const out: Figure[] = [];
  const r3 = await createStream(c, 'R3L', 3);
  let p = await publishRun(pool, r3.leader, 'R3L.x', f.durationMs);
  out.push({ scenario: 'r3-pub-leader', value: p.rate, unit: 'msgs/s', detail: `${p.acked} acked ${p.faults}` });

  const r3f = await createStream(c, 'R3F', 3);
  p = await publishRun(pool, r3f.follower, 'R3F.x', f.durationMs);
  out.push({ scenario: 'r3-pub-follower', value: p.rate, unit: 'msgs/s', detail: `${p.acked} acked ${p.faults}` });

  const r1 = await createStream(c, 'R1', 1);
  p = await publishRun(pool, r1.leader, 'R1.x', f.durationMs);
  out.push({ scenario: 'r1-pub', value: p.rate, unit: 'msgs/s', detail: `${p.acked} acked ${p.faults}` });

  const pull = await createStream(c, 'R3P', 3);
  const fill = await publishRun(pool, pull.leader, 'R3P.x', 60_000, f.pullMsgs);
  await api(c, '$JS.API.CONSUMER.DURABLE.CREATE.R3P.PULL', {
    stream_name: 'R3P',
    config: { durable_name: 'PULL', ack_policy: 'explicit', deliver_policy: 'all', max_ack_pending: 20_000 },
  });
  const { jsPull: r } = await pool.subs[0]!.call({
    op: 'jsPull',
    target: pull.leader,
    stream: 'R3P',
    consumer: 'PULL',
    batch: 500,
    outstanding: 2,
    expiresMs: 10_000,
    total: fill.acked,
    durationMs: f.durationMs * 4,
    idleMs: IDLE_MS,
  });
  const ns = r!.endNs - r!.startNs;
  out.push({ scenario: 'r3-pull', value: ns > 0 ? r!.consumed / (ns / 1e9) : 0, unit: 'msgs/s', detail: `${r!.consumed} of ${fill.acked} ${r!.faults.join('; ')}` });

  const lat = await createStream(c, 'R3T', 3);
  const nc = await connect({ servers: `127.0.0.1:${lat.leader.port}` });
  const js = jetstream(nc);
  const payload = new Uint8Array(SIZE);
  for (let i = 0; i < 200; i++) await js.publish('R3T.x', payload);
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t = process.hrtime.bigint();
    await js.publish('R3T.x', payload);
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  await nc.close();
  samples.sort((a, b) => a - b);
  out.push({ scenario: 'r3-latency-p50', value: samples[Math.floor(samples.length * 0.5)]!, unit: 'µs', detail: `${LATENCY_SAMPLES} sequential publishes` });
  out.push({ scenario: 'r3-latency-p99', value: samples[Math.floor(samples.length * 0.99)]!, unit: 'µs', detail: '' });
  return out;
}

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  const go = f.go && goServerVersion() !== null;
  const pool = new AgentPool(1);
  const results: Record<string, Figure[][]> = { petrel: [], go: [] };
  try {
    for (const kind of go ? (['petrel', 'go'] as const) : (['petrel'] as const)) {
      for (let i = 0; i < f.repeat; i++) {
        const c = await startCluster(kind);
        try {
          results[kind]!.push(await measure(c, pool, f));
        } finally {
          await c.stop();
        }
        await pool.pub.call({ op: 'reset' });
        await pool.subs[0]!.call({ op: 'reset' });
      }
    }
  } finally {
    await pool.stop();
  }
  const best = (kind: string, scenario: string, lower: boolean): number | undefined => {
    const vals = (results[kind] ?? []).map((run) => run.find((x) => x.scenario === scenario)?.value).filter((v): v is number => v !== undefined);
    if (vals.length === 0) return undefined;
    return lower ? Math.min(...vals) : Math.max(...vals);
  };
  const scenarios = ['r3-pub-leader', 'r3-pub-follower', 'r1-pub', 'r3-pull', 'r3-latency-p50', 'r3-latency-p99'];
  console.log(`\nReplicated JetStream, 3 nodes, 128 B, file storage (${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log('Go 2.9.10 acks once a quorum holds the entry in memory; Petrel once a quorum fsynced it.\n');
  console.log(`${'scenario'.padEnd(18)} ${'Petrel'.padStart(12)} ${'Go 2.9.10'.padStart(12)} ${'Petrel/Go'.padStart(10)}`);
  for (const s of scenarios) {
    const lower = s.includes('latency');
    const pv = best('petrel', s, lower);
    const gv = best('go', s, lower);
    const ratio = pv !== undefined && gv !== undefined ? (lower ? gv / pv : pv / gv).toFixed(2) : '—';
    const fmt = (v: number | undefined) => (v === undefined ? 'n/a' : Math.round(v).toLocaleString('en-US'));
    console.log(`${s.padEnd(18)} ${fmt(pv).padStart(12)} ${fmt(gv).padStart(12)} ${ratio.padStart(10)}`);
  }
  for (const kind of ['petrel', 'go']) for (const run of results[kind] ?? []) for (const x of run) if (x.detail.trim()) console.log(`  ${kind} ${x.scenario}: ${x.detail}`);
  fs.mkdirSync(path.dirname(f.json), { recursive: true });
  fs.writeFileSync(f.json, JSON.stringify(results, null, 2));
  console.log(`\n(latency ratios are Go/Petrel: above 1 means Petrel is faster)  full results: ${f.json}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
