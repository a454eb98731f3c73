// The run result (JSON, summary table, timeline, progress line) and the self-contained HTML report,
// from a synthetic run checked by the real checkers.

import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderHtml } from '../../chaos/report/html.ts';
import { faultSummary, formatSummaryTable, overallVerdict, progressLine, readResult, timelineOf, writeResult } from '../../chaos/report/result.ts';
import type { Op } from '../../chaos/checker/history.ts';
import { sampleRun } from './sample_run.ts';

describe('run result', () => {
  it('summarises every workload of a clean run as passing', () => {
    const r = sampleRun(7);
    expect(r.workloads.map((w) => [w.name, w.summary.verdict])).toEqual([
      ['queue', 'pass'],
      ['consumer', 'pass'],
      ['kv', 'pass'],
      ['core', 'pass'],
    ]);
    expect(r.verdict).toBe('pass');
    const kv = r.workloads.find((w) => w.name === 'kv')!.summary;
    expect(kv.linearizable).toBe('yes');
    const queue = r.workloads[0]!.summary;
    expect(queue.acked).toBeGreaterThan(100);
    expect(queue.unknown).toBeGreaterThan(0);
    expect(queue.lost).toBe(0);
  });

  it('fails the run when one workload fails, and the table says where', () => {
    const r = sampleRun(7, { plant: true });
    expect(r.verdict).toBe('fail');
    const table = formatSummaryTable(r.workloads.map((w) => w.summary));
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^workload\s+faults\s+acked\s+failed\s+unknown\s+lost\s+duplicated\s+unexpected\s+divergent\s+linearizable\s+verdict$/);
    expect(lines).toHaveLength(2 + 4);
    expect(lines[2]).toMatch(/^queue .* 1 .* fail$/);
    expect(lines[4]).toMatch(/^kv .* yes\s+pass$/);
    expect(overallVerdict([])).toBe('unknown');
    expect(r.workloads[0]!.summary.faults).toBe(faultSummary(r.faults));
    expect(faultSummary([])).toBe('none');
  });

  it('round-trips through the JSON file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-result-'));
    try {
      const file = path.join(dir, 'out', 'result.json');
      const r = sampleRun(3);
      writeResult(file, r);
      expect(readResult(file)).toEqual(JSON.parse(JSON.stringify(r)));
      fs.writeFileSync(file, JSON.stringify({ ...r, version: 9 }));
      expect(() => readResult(file)).toThrow('unsupported result version 9');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('buckets completions by outcome with latency quantiles; unfinished operations count as info', () => {
    const h: Op[] = [
      { type: 'invoke', process: 1, f: 'publish', value: 'a', time: 100 },
      { type: 'ok', process: 1, f: 'publish', value: 'a', time: 110 },
      { type: 'invoke', process: 1, f: 'publish', value: 'b', time: 200 },
      { type: 'ok', process: 1, f: 'publish', value: 'b', time: 230 },
      { type: 'invoke', process: 2, f: 'publish', value: 'c', time: 900 },
      { type: 'fail', process: 2, f: 'publish', value: 'c', time: 1_500 },
      { type: 'invoke', process: 2, f: 'publish', value: 'd', time: 1_600 },
      { type: 'ok', process: 9, f: 'deliver', value: 'a', time: 1_700 },
    ];
    expect(timelineOf(h, 2_000, 1_000)).toEqual([
      { t: 0, ok: 2, fail: 0, info: 0, p50: 30, p99: 30, max: 30 },
      { t: 1_000, ok: 0, fail: 1, info: 1, p50: null, p99: null, max: null },
    ]);
  });

  it('prints a live progress line', () => {
    expect(progressLine({ elapsedMs: 12_345, durationMs: 60_000, ops: { ok: 10, fail: 1, info: 2 }, fault: '#3 partition' })).toBe(
      '  12.3s / 60s  ops 13 (ok 10, fail 1, info 2)  fault: #3 partition',
    );
  });
});

describe('HTML report', () => {
  it('is one self-contained page: summary, faults, a timeline per workload with the fault windows', () => {
    const r = sampleRun(7, { plant: true });
    const html = renderHtml(r);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // Nothing to fetch: no scripts, links, images or CSS urls.
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|url\(/i);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).toContain('<table class="summary">');
    for (const w of ['queue', 'consumer', 'kv', 'core']) expect(html).toContain(`<h2>${w} `);
    // Each fault is shaded on each of the four timelines, with its description as a tooltip.
    for (const f of r.faults) {
      const title = `<title>${f.description.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}`;
      expect(html.split(title).length - 1).toBe(4);
    }
    expect(html).toContain(r.replay);
    expect(html).toMatch(/class="badge" style="background:#c62828">fail</);
  });

  it('escapes whatever the run carries', () => {
    const r = sampleRun(5);
    r.server = '/opt/<nats>&"server"';
    const html = renderHtml(r);
    expect(html).toContain('/opt/&lt;nats&gt;&amp;&quot;server&quot;');
    expect(html).not.toContain('<nats>');
  });
});
