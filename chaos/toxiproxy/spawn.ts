// Runs the Toxiproxy server as its own process (beside a cluster, or to measure it without sharing
// a thread with the traffic) and learns its address from its startup log line.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface SpawnedToxiproxy {
  url: string;
  proc: ChildProcess;
  /** SIGTERM, then the exit code once it has stopped. */
  stop(): Promise<number | null>;
}

const SERVER = path.join(import.meta.dirname, 'server.ts');

export async function spawnToxiproxy(args: readonly string[] = ['--host', '127.0.0.1', '--port', '0']): Promise<SpawnedToxiproxy> {
  const proc = spawn(process.execPath, [SERVER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /"address":"([^"]+)"/.exec(out);
      if (!m) return;
      proc.stdout!.off('data', onData);
      proc.stdout!.resume();
      resolve(`http://${m[1]}`);
    };
    proc.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`toxiproxy exited ${code} before listening: ${out}`)));
  });
  return {
    url,
    proc,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}
