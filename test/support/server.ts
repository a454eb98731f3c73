// Starts Petrel the way test launchers start nats-server: a generated config with `port: -1`,
// `bin/nats-server -c <file>`, and the ports file to learn where it listens.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'nats-server');

export interface RunningServer {
  pid: number;
  port: number;
  httpPort: number;
  /** The route port, when the config has a cluster block (0 otherwise). */
  clusterPort: number;
  url: string;
  dir: string;
  configFile: string;
  proc: ChildProcess;
  output(): string;
  /** Graceful stop (SIGTERM) and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL, as launchers do between restarts. */
  kill(): Promise<void>;
  signal(sig: NodeJS.Signals): void;
  waitExit(): Promise<number | null>;
}

export interface StartOptions {
  /** Extra config text appended after the generated lines. */
  config?: string;
  workers?: number;
  /** Reuse a directory (restarts on the same ports/store). */
  dir?: string;
  args?: string[];
  port?: number;
  httpPort?: number;
  timeoutMs?: number;
  /** Another nats-server binary (the Go reference server); Petrel-only lines are left out. */
  binary?: string;
  /** Extra environment for the server process. */
  env?: Record<string, string>;
}

/** Directories tempDir made in this test process: removed when it exits (its servers are stopped by then). */
const madeDirs: string[] = [];
process.once('exit', () => {
  for (const d of madeDirs) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'petrel-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeDirs.push(d);
  return d;
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const dir = opts.dir ?? tempDir();
  const portsDir = path.join(dir, 'ports');
  fs.mkdirSync(portsDir, { recursive: true });
  const configFile = path.join(dir, 'server.conf');
  const binary = opts.binary ?? BIN;
  const lines = [
    `port: ${opts.port ?? -1}`,
    `http: "127.0.0.1:${opts.httpPort ?? -1}"`,
    `host: 127.0.0.1`,
    `ports_file_dir: "${portsDir}"`,
    binary === BIN ? `workers: ${opts.workers ?? 2}` : '',
    opts.config ?? '',
  ];
  fs.writeFileSync(configFile, lines.join('\n') + '\n');
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  const proc = spawn(binary, ['-c', configFile, ...(opts.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const pid = proc.pid!;
  const portsFile = path.join(portsDir, `nats-server_${pid}.ports`);
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let ports: { nats: string[]; monitoring?: string[]; cluster?: string[] } | null = null;
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  while (!ports) {
    if (exitCode !== undefined) throw new Error(`server exited with ${exitCode} before listening:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`server did not write ${portsFile} in time:\n${out}`);
    }
    try {
      ports = JSON.parse(fs.readFileSync(portsFile, 'utf8'));
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const port = Number(new URL(ports!.nats[0]!).port);
  const httpPort = ports!.monitoring ? Number(new URL(ports!.monitoring[0]!).port) : 0;
  const clusterPort = ports!.cluster ? Number(new URL(ports!.cluster[0]!).port) : 0;
  return {
    pid,
    port,
    httpPort,
    clusterPort,
    url: `nats://127.0.0.1:${port}`,
    dir,
    configFile,
    proc,
    output: () => out,
    async stop() {
      if (exitCode !== undefined) return exitCode;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (exitCode !== undefined) return;
      proc.kill('SIGKILL');
      await exited;
    },
    signal(sig) {
      proc.kill(sig);
    },
    waitExit: () => exited,
  };
}

export async function monitor(server: RunningServer, pathAndQuery: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${pathAndQuery}`);
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
