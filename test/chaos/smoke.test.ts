// The chaos smoke run: `npm run chaos` itself, short, on three Petrel nodes with a fixed seed whose
// schedule isolates the stream leader, flaps a route, kills the leader and crashes the whole
// cluster. Every workload must pass (nothing acknowledged lost, duplicated or diverging, KV
// linearizable), every fault must have been applied and healed, and the result JSON and the HTML
// report must be written. Exit status 0 says the same.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readResult } from '../../chaos/report/result.ts';

const RUN = path.join(import.meta.dirname, '..', '..', 'chaos', 'run.ts');
const SEED = 206;

function runChaos(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d) => (output += d));
    p.stderr.on('data', (d) => (output += d));
    p.once('exit', (code) => resolve({ code, output }));
  });
}

describe('chaos smoke', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-smoke-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('breaks a 3-node cluster on a fixed schedule and finds nothing acknowledged lost', { timeout: 170_000 }, async () => {
    const { code, output } = await runChaos(['--nodes', '3', '--time', '30', '--seed', String(SEED), '--settle', '30', '--out', out]);
    expect(code, output).toBe(0);
    expect(output).toContain(`seed ${SEED}: 4 faults`);
    expect(output).toMatch(/verdict: PASS/);

    const r = readResult(path.join(out, 'result.json'));
    expect(r.verdict).toBe('pass');
    expect(r.problems ?? []).toEqual([]);
    expect(r.workloads.map((w) => [w.name, w.summary.verdict])).toEqual([
      ['queue', 'pass'],
      ['consumer', 'pass'],
      ['kv', 'pass'],
      ['core', 'pass'],
    ]);
    // Every scheduled fault was applied and healed, none with a problem.
    expect(r.faults.map((f) => f.kind)).toEqual(r.schedule.faults.map((f) => f.kind));
    expect(r.faults.flatMap((f) => f.errors)).toEqual([]);
    for (const w of r.workloads) expect(w.summary.acked, w.name).toBeGreaterThan(0);
    const queue = r.workloads.find((w) => w.name === 'queue')!;
    expect(queue.check.checker === 'queue' && queue.check.nodes).toEqual(['n0', 'n1', 'n2']);
    expect(r.workloads.find((w) => w.name === 'kv')!.summary.linearizable).toBe('yes');

    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain(`seed ${SEED}`);
    // A passing run keeps the logs and configs, not the stores.
    expect(fs.existsSync(path.join(out, 'n0', 'n0.log'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'n0', 'store'))).toBe(false);
  });
});
