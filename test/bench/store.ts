// The JetStream store at scale, side by side: Go nats-server and Petrel (optionally also an older
// Petrel checkout, `--before <dir>`) each fill one file stream with N × 128 B messages through a
// pipelined publisher (1,000 acks in flight, 1,000 subjects), are read (direct get by random
// sequence, last by subject), killed with SIGKILL and restarted, read again, restarted cleanly;
// then a KV-shaped stream takes K keys written W times. One server at a time, same generator.
//
//   npm run bench:store -- [--msgs 1000000] [--kv-keys 100000] [--kv-writes 3] [--gets 2000]
//                          [--before <petrel checkout>] [--only stream,kv] [--no-go] [--json <file>]
//
// "ready" = STREAM.INFO answers with every message and the last one can be fetched, timed from
// the spawn of the server process; "memory per message" = resident memory after minus resident
// memory idle, each the lowest of five samples taken once the process has settled.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentPool } from './loadgen/pool.ts';
import { MsgParser, statusCode, type MsgFields } from './loadgen/msg-parser.ts';
import type { Target } from './loadgen/protocol.ts';
import { RawConn } from './loadgen/raw-conn.ts';
import { GO_BIN, PETREL_BIN, WANTED_FD_LIMIT, freePort, goServerVersion, processCpuMicros, processRssBytes } from './servers.ts';

const STREAM = 'STORE';
const SUBJECTS = 1000;
const KV_STREAM = 'KV_bench';
const KV_PREFIX = '$KV.bench.k';
const PAYLOAD_BYTES = 128;
const WINDOW = 1000;
/** Polling for a port file or readiness; fine-grained because Go starts in milliseconds. */
const POLL_MS = 2;
const START_DEADLINE_MS = 600_000;
const API_TIMEOUT_MS = 60_000;
/** A fill that stops acking this long ends with a fault. */
const FILL_IDLE_MS = 30_000;
/** Before sampling memory, the process gets this long to settle (Petrel trims its heaps when its threads go quiet). */
const SETTLE_MS = 5_000;
const CONSUMER_CREATES = 5;
/** Messages written before the kill -9 of the burst case: ~25 MB, under the store's 32 MiB snapshot trigger. */
const BURST_MAX = 150_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowMs = (): number => performance.now();

interface Flags {
  msgs: number;
  kvKeys: number;
  kvWrites: number;
  gets: number;
  before: string | null;
  only: Set<string>;
  go: boolean;
  json: string;
}

const USAGE = `usage: npm run bench:store -- [options]
  --msgs <n>        messages in the stream (default 1000000)
  --kv-keys <n>     keys in the KV-shaped stream (default 100000)
  --kv-writes <n>   writes per key (default 3)
  --gets <n>        direct gets per measurement (default 2000)
  --before <dir>    also run the Petrel of another checkout (its bin/nats-server)
  --only <list>     stream, kv (default both)
  --no-go           Petrel alone
  --json <file>     results (default ${path.join(os.tmpdir(), 'petrel-bench', 'store.json')})
`;

function parseFlags(argv: string[]): Flags {
  const f: Flags = {
    msgs: 1_000_000,
    kvKeys: 100_000,
    kvWrites: 3,
    gets: 2000,
    before: null,
    only: new Set(['stream', 'kv']),
    go: true,
    json: path.join(os.tmpdir(), 'petrel-bench', 'store.json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return x;
    };
    const n = (): number => {
      const x = Number(v());
      if (!Number.isInteger(x) || x <= 0) throw new Error(`${a} needs a positive integer\n${USAGE}`);
      return x;
    };
    if (a === '--msgs') f.msgs = n();
    else if (a === '--kv-keys') f.kvKeys = n();
    else if (a === '--kv-writes') f.kvWrites = n();
    else if (a === '--gets') f.gets = n();
    else if (a === '--before') f.before = path.resolve(v());
    else if (a === '--only') f.only = new Set(v().split(','));
    else if (a === '--no-go') f.go = false;
    else if (a === '--json') f.json = v();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  return f;
}

// ---------------------------------------------------------------- a request/reply client

interface Reply {
  status: number;
  headers: string;
  data: Buffer;
}

/** One connection, one request at a time: the latency of each is the round trip. */
class ApiClient extends RawConn {
  private readonly parser: MsgParser;
  private waiting: ((r: Reply) => void) | null = null;
  private next = 0;

  constructor(target: Target) {
    super(target, JSON.stringify({ verbose: false, pedantic: false, headers: true, no_responders: true, lang: 'bench', version: '0', protocol: 1 }));
    this.parser = new MsgParser((m) => this.onMsg(m), (line) => this.onControl(line));
  }

  static async open(target: Target): Promise<ApiClient> {
    const c = new ApiClient(target);
    await c.handshake('SUB _INBOX.store.* 1\r\n');
    return c;
  }

  protected onData(d: Buffer): void {
    this.parser.push(d);
  }

  private onMsg(m: MsgFields): void {
    const w = this.waiting;
    this.waiting = null;
    w?.({ status: statusCode(m), headers: m.buf.toString('latin1', m.headerStart, m.headerEnd), data: Buffer.from(m.buf.subarray(m.payloadStart, m.payloadEnd)) });
  }

  request(subject: string, body: string, timeoutMs = API_TIMEOUT_MS): Promise<Reply> {
    const inbox = `_INBOX.store.${this.next++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no reply to ${subject} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.sock.write(`PUB ${subject} ${inbox} ${Buffer.byteLength(body)}\r\n${body}\r\n`);
    });
  }

  async api(subject: string, body: unknown = {}): Promise<Record<string, unknown>> {
    const r = await this.request(subject, JSON.stringify(body));
    const o = JSON.parse(r.data.toString('utf8')) as Record<string, unknown>;
    if (o['error']) throw new Error(`${subject}: ${JSON.stringify(o['error'])}`);
    return o;
  }
}

function header(r: Reply, name: string): string | null {
  const at = r.headers.toLowerCase().indexOf(`\r\n${name.toLowerCase()}:`);
  if (at < 0) return null;
  const end = r.headers.indexOf('\r\n', at + 2);
  return r.headers.slice(at + name.length + 3, end < 0 ? undefined : end).trim();
}

// ---------------------------------------------------------------- servers

interface Contender {
  label: string;
  kind: 'go' | 'petrel';
  bin: string;
}

interface Proc {
  pid: number;
  target: Target;
  spawnedAt: number;
  child: ChildProcess;
  exited: Promise<void>;
  logFile: string;
  httpPort: number;
  /** Bytes of the log written before this process started (the log is shared across restarts). */
  logFrom: number;
}

/** Starts a server on `storeDir` and returns once it listens (its ports file exists). */
async function launch(c: Contender, dir: string): Promise<Proc> {
  const port = await freePort();
  const httpPort = await freePort();
  const portsDir = path.join(dir, 'ports');
  fs.mkdirSync(portsDir, { recursive: true });
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort), '--ports_file_dir', portsDir, '-js', '-sd', path.join(dir, 'store')];
  const logFile = path.join(dir, 'server.log');
  const logFrom = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const log = fs.openSync(logFile, 'a');
  const script = `ulimit -n ${WANTED_FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
  const spawnedAt = nowMs();
  const child = spawn('/bin/sh', ['-c', script, c.bin, ...args], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { pid: child.pid!, target: { host: '127.0.0.1', port }, spawnedAt, child, exited, logFile, httpPort, logFrom };
}

async function stop(p: Proc, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
  await p.exited;
  clearTimeout(timer);
}

/** Milliseconds from the spawn until `check` passes on a fresh connection. */
async function readyAfter(p: Proc, check: (c: ApiClient) => Promise<boolean>): Promise<number> {
  const deadline = p.spawnedAt + START_DEADLINE_MS;
  let exited = false;
  void p.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`server exited while starting:\n${fs.readFileSync(p.logFile, 'utf8').slice(-2000)}`);
    if (nowMs() > deadline) throw new Error('server not ready in time');
    let c: ApiClient | null = null;
    try {
      c = await ApiClient.open(p.target);
      if (await check(c)) return nowMs() - p.spawnedAt;
    } catch {
      // not listening yet, or JetStream not up yet
    } finally {
      c?.close();
    }
    await sleep(POLL_MS);
  }
}

const jetStreamAnswers = async (c: ApiClient): Promise<boolean> => {
  const r = await c.request('$JS.API.INFO', '', 1000);
  return r.status === 0 && !r.data.toString().includes('"error"');
};

/** STREAM.INFO shows every message, and the last one can be fetched. */
function streamReady(stream: string, msgs: number, lastSeq: number): (c: ApiClient) => Promise<boolean> {
  return async (c) => {
    const info = await c.request(`$JS.API.STREAM.INFO.${stream}`, '', 60_000);
    const state = (JSON.parse(info.data.toString()) as { state?: { messages?: number } }).state;
    if (state?.messages !== msgs) return false;
    const last = await c.request(`$JS.API.DIRECT.GET.${stream}`, JSON.stringify({ seq: lastSeq }), 60_000);
    return last.status === 0 && header(last, 'Nats-Sequence') === String(lastSeq);
  };
}

/** Petrel only: the offset tables and read windows held by the store cache (/jsz store_cache). */
async function storeCacheBytes(p: Proc): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${p.httpPort}/jsz`);
  const cache = ((await res.json()) as { store_cache?: { table_bytes: number; read_window_bytes: number } }).store_cache;
  return cache === undefined ? undefined : cache.table_bytes + cache.read_window_bytes;
}

/**
 * Petrel only, from its log: how long the stream's store took to open, and how many bytes written
 * after its index snapshot it read (a crash restart).
 */
function storeOpen(p: Proc, stream: string): { ms: number; afterSnapshotBytes: number } | undefined {
  const text = fs.readFileSync(p.logFile, 'utf8').slice(p.logFrom);
  let ms: number | undefined;
  let after = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const o = JSON.parse(line) as { stream?: string; ms?: number; after_snapshot_bytes?: number };
    if (o.stream !== stream) continue;
    if (typeof o.ms === 'number') ms = o.ms;
    if (typeof o.after_snapshot_bytes === 'number') after = o.after_snapshot_bytes;
  }
  return ms === undefined ? undefined : { ms, afterSnapshotBytes: after };
}

/** Resident memory once settled: the lowest of five samples. */
async function settledRss(pid: number): Promise<number> {
  await sleep(SETTLE_MS);
  let low = Infinity;
  for (let i = 0; i < 5; i++) {
    low = Math.min(low, processRssBytes(pid));
    await sleep(200);
  }
  return low;
}

// ---------------------------------------------------------------- measurements

interface Latency {
  p50: number;
  p99: number;
}

function percentiles(us: number[]): Latency {
  us.sort((a, b) => a - b);
  return { p50: us[Math.floor(us.length * 0.5)]!, p99: us[Math.min(us.length - 1, Math.floor(us.length * 0.99))]! };
}

/** Sequential requests; every reply must carry a message (no status). */
async function timedGets(c: ApiClient, subject: string, bodies: string[]): Promise<Latency> {
  const us: number[] = [];
  for (const body of bodies) {
    const t = process.hrtime.bigint();
    const r = await c.request(subject, body);
    us.push(Number(process.hrtime.bigint() - t) / 1000);
    if (r.status !== 0) throw new Error(`${subject} ${body}: status ${r.status}`);
  }
  return percentiles(us);
}

function randomSeqBodies(n: number, max: number): string[] {
  return Array.from({ length: n }, () => JSON.stringify({ seq: 1 + Math.floor(Math.random() * max) }));
}

function randomLastBodies(n: number, prefix: string, subjects: number): string[] {
  return Array.from({ length: n }, () => JSON.stringify({ last_by_subj: `${prefix}${Math.floor(Math.random() * subjects)}` }));
}

async function fill(pool: AgentPool, p: Proc, subject: string, subjects: number, msgs: number): Promise<{ rate: number; cpuUsPerMsg: number }> {
  const cpu0 = processCpuMicros(p.pid);
  const { jsPub: r } = await pool.pub.call({
    op: 'jsPublish',
    target: p.target,
    subject,
    subjects,
    size: PAYLOAD_BYTES,
    window: WINDOW,
    durationMs: 24 * 3600_000,
    maxMsgs: msgs,
    idleMs: FILL_IDLE_MS,
  });
  const cpu1 = processCpuMicros(p.pid);
  const faults = [...r!.faults];
  if (r!.errors) faults.push(`${r!.errors} publishes answered with an error, first: ${r!.firstError}`);
  if (r!.missingAcks) faults.push(`${r!.missingAcks} publishes never acked`);
  if (faults.length > 0 || r!.acked !== msgs) throw new Error(`fill: ${r!.acked}/${msgs} acked; ${faults.join('; ')}`);
  const seconds = (r!.lastAckNs - r!.startNs) / 1e9;
  return { rate: msgs / seconds, cpuUsPerMsg: (cpu1 - cpu0) / msgs };
}

type Figures = Record<string, number>;

async function streamScenario(c: Contender, pool: AgentPool, f: Flags, log: (s: string) => void): Promise<Figures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-store-bench-'));
  const out: Figures = {};
  try {
    // One launch first, so the figures are those of a server started before (for Petrel, with Node's
    // compile cache filled: a first start after a code change strips TypeScript, ~17 MB per thread).
    const warm = await launch(c, dir);
    await readyAfter(warm, jetStreamAnswers);
    await stop(warm, 'SIGTERM');
    fs.rmSync(path.join(dir, 'store'), { recursive: true, force: true });
    let p = await launch(c, dir);
    out['first_start_ms'] = await readyAfter(p, jetStreamAnswers);
    out['rss_idle'] = await settledRss(p.pid);
    log(`${c.label}: JetStream answered ${out['first_start_ms'].toFixed(0)} ms after spawn, idle RSS ${(out['rss_idle'] / 1048576).toFixed(1)} MB`);
    let api = await ApiClient.open(p.target);
    await api.api(`$JS.API.STREAM.CREATE.${STREAM}`, { name: STREAM, subjects: [`${STREAM.toLowerCase()}.>`], storage: 'file', num_replicas: 1, allow_direct: true });
    const filled = await fill(pool, p, `${STREAM.toLowerCase()}.`, SUBJECTS, f.msgs);
    out['fill_rate'] = filled.rate;
    out['cpu_us_per_msg'] = filled.cpuUsPerMsg;
    const grown = (await settledRss(p.pid)) - out['rss_idle'];
    out['mem_per_msg_fill'] = grown / f.msgs;
    const cache = c.kind === 'petrel' ? await storeCacheBytes(p) : undefined;
    if (cache !== undefined) out['mem_per_msg_fill_beyond_cache'] = (grown - cache) / f.msgs;
    const storedBytes = Number((((await api.api(`$JS.API.STREAM.INFO.${STREAM}`))['state'] as Record<string, unknown>)['bytes']));
    log(
      `${c.label}: filled ${f.msgs.toLocaleString('en-US')} at ${Math.round(filled.rate).toLocaleString('en-US')} msgs/s, ${filled.cpuUsPerMsg.toFixed(2)} µs CPU each, ` +
        `${out['mem_per_msg_fill'].toFixed(1)} B/msg resident${cache === undefined ? '' : ` (${out['mem_per_msg_fill_beyond_cache']!.toFixed(1)} beyond the store cache's ${mb(cache)})`}`,
    );

    const direct = `$JS.API.DIRECT.GET.${STREAM}`;
    let g = await timedGets(api, direct, randomSeqBodies(f.gets, f.msgs));
    out['get_p50_us'] = g.p50;
    out['get_p99_us'] = g.p99;
    g = await timedGets(api, direct, randomLastBodies(f.gets, `${STREAM.toLowerCase()}.`, SUBJECTS));
    out['last_p50_us'] = g.p50;
    out['last_p99_us'] = g.p99;
    const mid = await api.request(direct, JSON.stringify({ seq: Math.floor(f.msgs / 2) }));
    const midTime = header(mid, 'Nats-Time-Stamp')!;
    const creates: number[] = [];
    for (let i = 0; i < CONSUMER_CREATES; i++) {
      const name = `BYTIME${i}`;
      const t = nowMs();
      await api.api(`$JS.API.CONSUMER.DURABLE.CREATE.${STREAM}.${name}`, {
        stream_name: STREAM,
        config: { durable_name: name, deliver_policy: 'by_start_time', opt_start_time: midTime, ack_policy: 'explicit' },
      });
      creates.push(nowMs() - t);
      await api.api(`$JS.API.CONSUMER.DELETE.${STREAM}.${name}`);
    }
    out['by_start_time_ms'] = creates.sort((a, b) => a - b)[Math.floor(CONSUMER_CREATES / 2)]!;
    log(`${c.label}: direct get p50 ${out['get_p50_us'].toFixed(0)} µs p99 ${out['get_p99_us'].toFixed(0)} µs, last-by-subject p50 ${out['last_p50_us'].toFixed(0)} µs, by_start_time consumer ${out['by_start_time_ms'].toFixed(1)} ms`);
    api.close();

    await stop(p, 'SIGKILL');
    p = await launch(c, dir);
    out['kill_ready_ms'] = await readyAfter(p, streamReady(STREAM, f.msgs, f.msgs));
    const killOpen = c.kind === 'petrel' ? storeOpen(p, STREAM) : undefined;
    if (killOpen !== undefined) {
      out['kill_open_ms'] = killOpen.ms;
      // Stored bytes per message (record size) turn the bytes read after the snapshot into messages.
      out['kill_replayed_msgs'] = Math.round(killOpen.afterSnapshotBytes / (storedBytes / f.msgs));
      log(`${c.label}: after kill -9 the store opened in ${killOpen.ms} ms, reading ${out['kill_replayed_msgs'].toLocaleString('en-US')} messages written after its last snapshot`);
    }
    api = await ApiClient.open(p.target);
    g = await timedGets(api, direct, randomSeqBodies(f.gets, f.msgs));
    out['get_restart_p50_us'] = g.p50;
    out['get_restart_p99_us'] = g.p99;
    out['mem_per_msg_restart'] = ((await settledRss(p.pid)) - out['rss_idle']) / f.msgs;
    api.close();
    log(`${c.label}: kill -9 -> ready ${out['kill_ready_ms'].toFixed(0)} ms; after it direct get p50 ${g.p50.toFixed(0)} µs p99 ${g.p99.toFixed(0)} µs, ${out['mem_per_msg_restart'].toFixed(1)} B/msg resident`);

    await stop(p, 'SIGTERM');
    p = await launch(c, dir);
    out['clean_ready_ms'] = await readyAfter(p, streamReady(STREAM, f.msgs, f.msgs));
    const cleanOpen = c.kind === 'petrel' ? storeOpen(p, STREAM) : undefined;
    if (cleanOpen !== undefined) out['clean_open_ms'] = cleanOpen.ms;
    log(`${c.label}: clean restart -> ready ${out['clean_ready_ms'].toFixed(0)} ms${cleanOpen === undefined ? '' : ` (store opened in ${cleanOpen.ms} ms)`}`);

    // A kill right after a burst of writes: what was written since the last snapshot is read again.
    // The clean stop above left a snapshot; a burst below the store's snapshot triggers (32 MiB,
    // 10 s) is read again whole, so the rate per message re-read is measured on a known amount.
    const burst = Math.max(1, Math.min(BURST_MAX, Math.floor(f.msgs / 5)));
    await fill(pool, p, `${STREAM.toLowerCase()}.`, SUBJECTS, burst);
    await stop(p, 'SIGKILL');
    p = await launch(c, dir);
    out['burst_kill_ready_ms'] = await readyAfter(p, streamReady(STREAM, f.msgs + burst, f.msgs + burst));
    const burstOpen = c.kind === 'petrel' ? storeOpen(p, STREAM) : undefined;
    if (burstOpen !== undefined) {
      out['burst_kill_open_ms'] = burstOpen.ms;
      out['burst_kill_replayed_msgs'] = Math.round(burstOpen.afterSnapshotBytes / (storedBytes / f.msgs));
      // The target's unit: seconds of start-up per million messages re-read (the open beyond a clean one).
      if (out['burst_kill_replayed_msgs'] >= 10_000 && cleanOpen !== undefined) {
        out['reread_s_per_million'] = ((burstOpen.ms - cleanOpen.ms) / out['burst_kill_replayed_msgs']) * 1000;
      }
    }
    log(
      `${c.label}: ${burst.toLocaleString('en-US')} more messages, kill -9 at once -> ready ${out['burst_kill_ready_ms'].toFixed(0)} ms` +
        (burstOpen === undefined ? '' : ` (store opened in ${burstOpen.ms} ms, reading ${out['burst_kill_replayed_msgs']!.toLocaleString('en-US')} messages written after its last snapshot)`) +
        (out['reread_s_per_million'] === undefined ? '' : `, ${out['reread_s_per_million'].toFixed(2)} s per million re-read`),
    );
    await stop(p, 'SIGTERM');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function kvScenario(c: Contender, pool: AgentPool, f: Flags, log: (s: string) => void): Promise<Figures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-store-bench-'));
  const out: Figures = {};
  try {
    const p = await launch(c, dir);
    await readyAfter(p, jetStreamAnswers);
    const idle = await settledRss(p.pid);
    const api = await ApiClient.open(p.target);
    // The shape the KV clients create: one message per key, direct gets, rollups, no deletes.
    await api.api(`$JS.API.STREAM.CREATE.${KV_STREAM}`, {
      name: KV_STREAM,
      subjects: ['$KV.bench.>'],
      storage: 'file',
      num_replicas: 1,
      max_msgs_per_subject: 1,
      discard: 'new',
      allow_rollup_hdrs: true,
      deny_delete: true,
      allow_direct: true,
    });
    const filled = await fill(pool, p, KV_PREFIX, f.kvKeys, f.kvKeys * f.kvWrites);
    out['kv_write_rate'] = filled.rate;
    out['kv_mem_per_key'] = ((await settledRss(p.pid)) - idle) / f.kvKeys;
    const g = await timedGets(api, `$JS.API.DIRECT.GET.${KV_STREAM}`, randomLastBodies(f.gets, KV_PREFIX, f.kvKeys));
    out['kv_get_p50_us'] = g.p50;
    out['kv_get_p99_us'] = g.p99;
    api.close();
    log(`${c.label}: KV ${f.kvKeys.toLocaleString('en-US')} keys × ${f.kvWrites} at ${Math.round(filled.rate).toLocaleString('en-US')} writes/s, ${out['kv_mem_per_key'].toFixed(0)} B/key, get p50 ${g.p50.toFixed(0)} µs`);
    await stop(p, 'SIGTERM');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

// ---------------------------------------------------------------- report

interface Row {
  key: string;
  title: string;
  format: (v: number) => string;
  /** Higher is better: the ratio is Petrel/Go; otherwise Petrel/Go is a "× worse" factor. */
  higherBetter: boolean;
}

const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const mb = (v: number): string => `${(v / 1048576).toFixed(1)} MB`;
const bytesPer = (v: number): string => `${v.toFixed(1)} B`;
const us = (v: number): string => `${v.toFixed(0)} µs`;
const ms = (v: number): string => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;

const ROWS: Row[] = [
  { key: 'rss_idle', title: 'RSS idle, JetStream on', format: mb, higherBetter: false },
  { key: 'first_start_ms', title: 'first start until JetStream answers', format: ms, higherBetter: false },
  { key: 'fill_rate', title: 'fill, acked msgs/s', format: int, higherBetter: true },
  { key: 'cpu_us_per_msg', title: 'server CPU per stored message', format: (v) => `${v.toFixed(2)} µs`, higherBetter: false },
  { key: 'mem_per_msg_fill', title: 'memory per stored message after the fill', format: bytesPer, higherBetter: false },
  { key: 'mem_per_msg_fill_beyond_cache', title: '… of which beyond the store cache (Petrel)', format: bytesPer, higherBetter: false },
  { key: 'mem_per_msg_restart', title: 'memory per stored message after a restart', format: bytesPer, higherBetter: false },
  { key: 'get_p50_us', title: 'direct get of a random sequence, p50', format: us, higherBetter: false },
  { key: 'get_p99_us', title: 'direct get of a random sequence, p99', format: us, higherBetter: false },
  { key: 'last_p50_us', title: 'last-by-subject get, p50', format: us, higherBetter: false },
  { key: 'last_p99_us', title: 'last-by-subject get, p99', format: us, higherBetter: false },
  { key: 'get_restart_p99_us', title: 'direct get after kill -9 restart, p99', format: us, higherBetter: false },
  { key: 'by_start_time_ms', title: 'by_start_time consumer created', format: ms, higherBetter: false },
  { key: 'kill_ready_ms', title: 'kill -9 → ready', format: ms, higherBetter: false },
  { key: 'kill_open_ms', title: '… of which the store opening (Petrel)', format: ms, higherBetter: false },
  { key: 'kill_replayed_msgs', title: '… messages read after the last snapshot (Petrel)', format: int, higherBetter: false },
  { key: 'clean_ready_ms', title: 'clean restart → ready', format: ms, higherBetter: false },
  { key: 'clean_open_ms', title: '… of which the store opening (Petrel)', format: ms, higherBetter: false },
  { key: 'burst_kill_ready_ms', title: `N/5 (at most ${BURST_MAX.toLocaleString('en-US')}) more messages, kill -9 at once → ready`, format: ms, higherBetter: false },
  { key: 'burst_kill_open_ms', title: '… of which the store opening (Petrel)', format: ms, higherBetter: false },
  { key: 'burst_kill_replayed_msgs', title: '… messages read after the last snapshot (Petrel)', format: int, higherBetter: false },
  { key: 'reread_s_per_million', title: '… seconds per million messages re-read (Petrel)', format: (v) => `${v.toFixed(2)} s`, higherBetter: false },
  { key: 'kv_mem_per_key', title: 'KV: memory per key', format: (v) => `${v.toFixed(0)} B`, higherBetter: false },
  { key: 'kv_write_rate', title: 'KV: acked writes/s', format: int, higherBetter: true },
  { key: 'kv_get_p50_us', title: 'KV: get p50', format: us, higherBetter: false },
];

function ratio(p: number | undefined, g: number | undefined, higherBetter: boolean): string {
  if (p === undefined || g === undefined || g <= 0 || p <= 0) return '—';
  const r = p / g;
  return higherBetter ? r.toFixed(2) : `${r.toFixed(1)}×`;
}

function table(columns: Array<[string, Figures]>): string {
  const go = columns.find(([l]) => l.startsWith('go'))?.[1];
  const petrels = columns.filter(([l]) => !l.startsWith('go'));
  const head = ['', ...columns.map(([l]) => l), ...petrels.map(([l]) => `${l} / Go`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`];
  for (const row of ROWS) {
    if (!columns.some(([, f]) => f[row.key] !== undefined)) continue;
    const cells = columns.map(([, f]) => (f[row.key] === undefined ? '—' : row.format(f[row.key]!)));
    const ratios = petrels.map(([, f]) => ratio(f[row.key], go?.[row.key], row.higherBetter));
    lines.push(`| ${[row.title, ...cells, ...ratios].join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  const contenders: Contender[] = [];
  const goVersion = goServerVersion();
  if (f.go && goVersion !== null) contenders.push({ label: 'go 2.9.10', kind: 'go', bin: GO_BIN });
  else if (f.go) process.stdout.write('reference server not installed: Petrel alone\n');
  if (f.before !== null) contenders.push({ label: 'petrel before', kind: 'petrel', bin: path.join(f.before, 'bin', 'nats-server') });
  contenders.push({ label: 'petrel', kind: 'petrel', bin: PETREL_BIN });
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  process.stdout.write(
    `JetStream store at scale: ${f.msgs.toLocaleString('en-US')} × ${PAYLOAD_BYTES} B on ${SUBJECTS} subjects, KV ${f.kvKeys.toLocaleString('en-US')} keys × ${f.kvWrites}; ` +
      `${os.availableParallelism()} cores, load average ${load} at start\n`,
  );
  const pool = new AgentPool(0);
  const results: Array<[string, Figures]> = [];
  const log = (s: string): void => void process.stdout.write(`  ${s}\n`);
  try {
    for (const c of contenders) {
      const figures: Figures = {};
      if (f.only.has('stream')) Object.assign(figures, await streamScenario(c, pool, f, log));
      if (f.only.has('kv')) Object.assign(figures, await kvScenario(c, pool, f, log));
      results.push([c.label, figures]);
      await pool.reset();
    }
  } finally {
    await pool.stop();
  }
  process.stdout.write(`\n${table(results)}\n\n`);
  process.stdout.write(
    'Petrel fsyncs every publish before its ack (group commit); nats-server 2.9.10 acks once written and fsyncs every 2 minutes, so fill rates are not like for like.\n',
  );
  fs.mkdirSync(path.dirname(f.json), { recursive: true });
  fs.writeFileSync(f.json, JSON.stringify({ flags: { ...f, only: [...f.only] }, go: goVersion, loadavg: os.loadavg(), results: Object.fromEntries(results) }, null, 2));
  process.stdout.write(`results written to ${f.json}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
