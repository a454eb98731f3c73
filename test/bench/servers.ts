// Starts the servers under test — Petrel (bin/nats-server) and the Go reference nats-server —
// on free 127.0.0.1 ports, one at a time, and reads their CPU time and RSS from /proc.

import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PETREL_BIN = path.join(ROOT, 'bin', 'nats-server');
const PETREL_ENTRY = path.join(ROOT, 'src', 'cli.ts');
const PINNED_NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
export const GO_BIN = '/usr/sbin/nats-server';
/** Petrel starts worker threads before it listens; a second is typical, this is generous. */
const START_TIMEOUT_MS = 20_000;
/** What the server's shell asks for with `ulimit -n`, so 5,000 idle connections fit. */
export const WANTED_FD_LIMIT = 65_536;

export type ServerKind = 'petrel' | 'go';

export interface ServerSpec {
  kind: ServerKind;
  /** Label in the report, e.g. "petrel" or "petrel w1". */
  label: string;
  /** Petrel's --workers; undefined leaves Petrel's own default. */
  workers?: number;
  /** Run Petrel as `node <nodeArgs> src/cli.ts` (e.g. --cpu-prof) instead of bin/nats-server. */
  nodeArgs?: string[];
  /** JetStream on (`-js -sd <tmp>`), its store inside the server's temp dir and removed with it. */
  jetstream?: boolean;
  /** A config file's text (gateway, leafnodes blocks), passed with `-c`; the flags still set the ports. */
  config?: string;
}

export interface RunningServer {
  spec: ServerSpec;
  pid: number;
  host: string;
  port: number;
  httpPort: number;
  /** The open-files limit the server process ended up with. */
  fdLimit: number;
  stop(): Promise<void>;
  /** The last `lines` lines of the server's output. */
  logTail(lines?: number): string;
}

export function goServerVersion(): string | null {
  try {
    return execFileSync(GO_BIN, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The command line that starts the server of a spec, before its own options. */
export function serverCommand(spec: ServerSpec): string[] {
  if (spec.kind === 'go') return [GO_BIN];
  const cmd = spec.nodeArgs ? [PINNED_NODE, ...spec.nodeArgs, PETREL_ENTRY] : [PETREL_BIN];
  if (spec.workers !== undefined) cmd.push('--workers', String(spec.workers));
  return cmd;
}

export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-bench-'));
  const host = '127.0.0.1';
  const port = await freePort();
  const httpPort = await freePort();
  const [bin, ...lead] = serverCommand(spec);
  const args = [...lead, '-a', host, '-p', String(port), '-m', String(httpPort), '--ports_file_dir', dir];
  if (spec.jetstream) args.push('-js', '-sd', path.join(dir, 'store'));
  if (spec.config !== undefined) {
    const file = path.join(dir, 'server.conf');
    fs.writeFileSync(file, spec.config);
    args.push('-c', file);
  }
  const logFile = path.join(dir, 'server.log');
  const log = fs.openSync(logFile, 'w');
  // A shell raises the open-files limit as far as the hard limit allows, then execs the server
  // so the pid we hold is the server's own.
  const script = `ulimit -n ${WANTED_FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
  const proc: ChildProcess = spawn('/bin/sh', ['-c', script, bin, ...args], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', (code) => {
      exited = code;
      resolve();
    }),
  );
  const logTail = (lines = 20): string => {
    try {
      return fs.readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const portsFile = path.join(dir, `nats-server_${proc.pid}.ports`);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!fs.existsSync(portsFile)) {
    if (exited !== undefined) throw new Error(`${spec.label} exited (${exited}) before listening:\n${logTail()}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${spec.label} wrote no ports file within ${START_TIMEOUT_MS} ms:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const pid = proc.pid!;
  return {
    spec,
    pid,
    host,
    port,
    httpPort,
    fdLimit: readFdLimit(pid),
    logTail,
    async stop() {
      if (exited === undefined) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of a whole process (all its threads), in µs. */
export function processCpuMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of a process, in bytes. */
export function processRssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** The soft open-files limit of a process. */
export function readFdLimit(pid: number | 'self'): number {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
    if (!m) return NaN;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return NaN;
  }
}

/** CPU time the whole machine spent busy (everything but idle and iowait), in µs, summed over cores. */
export function machineBusyMicros(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const busy = ticks[0]! + ticks[1]! + ticks[2]! + ticks[5]! + ticks[6]! + ticks[7]!;
  return (busy * 1e6) / CLOCK_TICKS_PER_SECOND;
}
