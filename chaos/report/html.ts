// The HTML report of a chaos run: one self-contained file (inline CSS and SVG, no script, nothing
// fetched) that opens in any browser. It shows the verdict and how to replay the run, the summary
// table, a timeline per workload — throughput and latency over time with the fault windows
// shaded — the faults as they were applied, and each checker's findings.

import { FAULT_FAMILIES } from '../faults/schedule.ts';
import type { FaultWindow } from '../faults/nemesis.ts';
import { cellText, SUMMARY_COLUMNS } from './result.ts';
import type { RunResult, TimelineBucket, Verdict, WorkloadResult } from './result.ts';

const FAMILY_COLOURS: Record<string, string> = {
  partition: '#e4572e',
  flap: '#f3a712',
  slow: '#a8c686',
  kill: '#8e44ad',
  pause: '#3d5a80',
  corrupt: '#c0392b',
};

const VERDICT_COLOURS: Record<Verdict, string> = { pass: '#2e7d32', fail: '#c62828', unknown: '#ef6c00' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function familyOf(kind: string): string {
  for (const [family, kinds] of Object.entries(FAULT_FAMILIES)) if ((kinds as readonly string[]).includes(kind)) return family;
  return 'partition';
}

const W = 960;
const LEFT = 64;
const RIGHT = 16;
const PLOT_W = W - LEFT - RIGHT;
const TOP = 22;
const THROUGHPUT_H = 150;
const GAP = 34;
const LATENCY_H = 110;
const BOTTOM = 30;
const H = TOP + THROUGHPUT_H + GAP + LATENCY_H + BOTTOM;

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(n: number): string {
  if (n >= 1000) return `${(n / 1000).toFixed(n >= 10_000 ? 0 : 1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** The timeline of one workload as an SVG: throughput above, latency (log scale) below. */
export function timelineSvg(buckets: readonly TimelineBucket[], faults: readonly FaultWindow[], durationMs: number, bucketMs: number): string {
  const perSec = 1000 / bucketMs;
  const x = (t: number) => LEFT + (Math.min(Math.max(t, 0), durationMs) / durationMs) * PLOT_W;
  const rateMax = niceMax(Math.max(1, ...buckets.map((b) => (b.ok + b.fail + b.info) * perSec)));
  const yRate = (v: number) => TOP + THROUGHPUT_H - (v / rateMax) * THROUGHPUT_H;
  const latTop = TOP + THROUGHPUT_H + GAP;
  const lats = buckets.flatMap((b) => [b.p50, b.p99]).filter((v): v is number => v !== null && v > 0);
  const logMin = Math.floor(Math.log10(Math.max(0.1, Math.min(1, ...lats))));
  const logMax = Math.max(logMin + 1, Math.ceil(Math.log10(Math.max(10, ...lats))));
  const yLat = (v: number) => latTop + LATENCY_H - ((Math.log10(Math.max(v, 10 ** logMin)) - logMin) / (logMax - logMin)) * LATENCY_H;
  const mid = (b: TimelineBucket) => x(b.t + bucketMs / 2);

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" font-family="system-ui, sans-serif" font-size="11">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);

  // Fault windows, behind everything.
  for (const f of faults) {
    const colour = FAMILY_COLOURS[familyOf(f.kind)] ?? '#999';
    const x0 = x(f.start);
    const w = Math.max(1.5, x(f.end) - x0);
    parts.push(
      `<g><title>${escapeHtml(f.description)}${f.target ? ` — ${escapeHtml(f.target)}` : ''}</title>` +
        `<rect x="${x0.toFixed(1)}" y="${TOP}" width="${w.toFixed(1)}" height="${THROUGHPUT_H + GAP + LATENCY_H}" fill="${colour}" fill-opacity="0.16"/>` +
        `<rect x="${x0.toFixed(1)}" y="${TOP - 14}" width="${w.toFixed(1)}" height="12" fill="${colour}" fill-opacity="0.85"/>` +
        (w > 28 ? `<text x="${(x0 + 3).toFixed(1)}" y="${TOP - 4}" fill="#fff" font-size="9">#${f.id} ${escapeHtml(f.kind)}</text>` : '') +
        `</g>`,
    );
  }

  // Axes and grid.
  for (let i = 0; i <= 4; i++) {
    const v = (rateMax * i) / 4;
    const y = yRate(v);
    parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#555">${fmt(v)}</text>`);
  }
  for (let e = logMin; e <= logMax; e++) {
    const y = yLat(10 ** e);
    parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#555">${fmt(10 ** e)}</text>`);
  }
  const seconds = durationMs / 1000;
  const step = niceMax(seconds / 10);
  for (let s = 0; s <= seconds + 1e-9; s += step) {
    const xx = x(s * 1000);
    parts.push(`<line x1="${xx.toFixed(1)}" x2="${xx.toFixed(1)}" y1="${latTop + LATENCY_H}" y2="${latTop + LATENCY_H + 4}" stroke="#555"/>`);
    parts.push(`<text x="${xx.toFixed(1)}" y="${latTop + LATENCY_H + 16}" text-anchor="middle" fill="#555">${fmt(s)}s</text>`);
  }
  parts.push(`<text x="12" y="${TOP + THROUGHPUT_H / 2}" transform="rotate(-90 12 ${TOP + THROUGHPUT_H / 2})" text-anchor="middle" fill="#333">ops/s</text>`);
  parts.push(`<text x="12" y="${latTop + LATENCY_H / 2}" transform="rotate(-90 12 ${latTop + LATENCY_H / 2})" text-anchor="middle" fill="#333">latency ms</text>`);
  parts.push(`<rect x="${LEFT}" y="${TOP}" width="${PLOT_W}" height="${THROUGHPUT_H}" fill="none" stroke="#999"/>`);
  parts.push(`<rect x="${LEFT}" y="${latTop}" width="${PLOT_W}" height="${LATENCY_H}" fill="none" stroke="#999"/>`);

  // Throughput: ok as an area, fail and info as lines.
  if (buckets.length > 0) {
    const okPts = buckets.map((b) => `${mid(b).toFixed(1)},${yRate(b.ok * perSec).toFixed(1)}`);
    const base = yRate(0).toFixed(1);
    parts.push(`<polygon points="${mid(buckets[0]!).toFixed(1)},${base} ${okPts.join(' ')} ${mid(buckets.at(-1)!).toFixed(1)},${base}" fill="#2e7d32" fill-opacity="0.25" stroke="none"/>`);
    parts.push(`<polyline points="${okPts.join(' ')}" fill="none" stroke="#2e7d32" stroke-width="1.5"/>`);
    for (const [key, colour] of [['fail', '#c62828'], ['info', '#ef6c00']] as const) {
      if (buckets.every((b) => b[key] === 0)) continue;
      parts.push(`<polyline points="${buckets.map((b) => `${mid(b).toFixed(1)},${yRate(b[key] * perSec).toFixed(1)}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="1.2"/>`);
    }
  }
  // Latency: p50 and p99, broken where a bucket had no ok operation.
  for (const [key, colour] of [['p50', '#1565c0'], ['p99', '#6a1b9a']] as const) {
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) parts.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.3"/>`);
      else if (run.length === 1) {
        const [cx, cy] = run[0]!.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="1.8" fill="${colour}"/>`);
      }
      run = [];
    };
    for (const b of buckets) {
      const v = b[key];
      if (v === null) flush();
      else run.push(`${mid(b).toFixed(1)},${yLat(v).toFixed(1)}`);
    }
    flush();
  }

  // Legend.
  const legend: [string, string][] = [
    ['ok', '#2e7d32'],
    ['fail', '#c62828'],
    ['info', '#ef6c00'],
    ['p50', '#1565c0'],
    ['p99', '#6a1b9a'],
  ];
  legend.forEach(([label, colour], i) => {
    const lx = W - RIGHT - 260 + i * 52;
    parts.push(`<rect x="${lx}" y="${TOP + THROUGHPUT_H + 10}" width="10" height="10" fill="${colour}"/>`);
    parts.push(`<text x="${lx + 14}" y="${TOP + THROUGHPUT_H + 19}" fill="#333">${label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function summaryTable(ws: readonly WorkloadResult[]): string {
  const head = SUMMARY_COLUMNS.map((c) => `<th>${escapeHtml(c.title)}</th>`).join('');
  const rows = ws
    .map((w) => {
      const cells = SUMMARY_COLUMNS.map((c) => {
        const v = w.summary[c.key];
        const text = escapeHtml(cellText(v));
        if (c.key === 'verdict') return `<td><span class="badge" style="background:${VERDICT_COLOURS[v as Verdict]}">${text}</span></td>`;
        const bad = typeof v === 'number' && v > 0 && ['lost', 'duplicated', 'unexpected', 'divergent'].includes(c.key);
        const cls = typeof v === 'number' ? (bad ? 'num bad' : 'num') : c.key === 'linearizable' && v === 'no' ? 'bad' : '';
        return `<td class="${cls}">${text}</td>`;
      }).join('');
      return `<tr>${cells}</tr>`;
    })
    .join('\n');
  return `<table class="summary"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

function faultTable(faults: readonly FaultWindow[]): string {
  if (faults.length === 0) return '<p>No faults were injected.</p>';
  const rows = faults
    .map(
      (f) =>
        `<tr><td class="num">${f.id}</td><td><span class="swatch" style="background:${FAMILY_COLOURS[familyOf(f.kind)]}"></span>${escapeHtml(f.kind)}</td>` +
        `<td class="num">${(f.start / 1000).toFixed(1)}s</td><td class="num">${(f.end / 1000).toFixed(1)}s</td>` +
        `<td>${escapeHtml(f.target)}</td><td>${escapeHtml(f.description)}</td><td class="bad">${escapeHtml(f.errors.join('; '))}</td></tr>`,
    )
    .join('\n');
  return `<table><thead><tr><th>#</th><th>kind</th><th>start</th><th>healed</th><th>target</th><th>fault</th><th>problems</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Run-level problems (a node that exited on its own) and the workloads' notes, under the summary. */
function problemList(r: RunResult): string {
  const items = [
    ...(r.problems ?? []).map((p) => `<li class="bad">${escapeHtml(p)}</li>`),
    ...r.workloads.flatMap((w) => (w.notes ?? []).map((n) => `<li>${escapeHtml(w.name)}: ${escapeHtml(n)}</li>`)),
  ];
  return items.length > 0 ? `<ul class="problems">${items.join('\n')}</ul>` : '';
}

export function renderHtml(r: RunResult): string {
  const title = `Petrel chaos run — seed ${r.seed} — ${r.verdict.toUpperCase()}`;
  const sections = r.workloads
    .map(
      (w) => `<section>
<h2>${escapeHtml(w.name)} <span class="badge" style="background:${VERDICT_COLOURS[w.summary.verdict]}">${w.summary.verdict}</span></h2>
${timelineSvg(w.timeline, r.faults, r.durationMs, r.bucketMs)}
<details><summary>checker findings</summary><pre>${escapeHtml(JSON.stringify(w.check, null, 2))}</pre></details>
</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #555; margin: 0 0 12px; }
code { background: #f3f3f3; padding: 2px 5px; border-radius: 3px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f6f6; }
table.summary td:nth-child(2) { max-width: 240px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #c62828; font-weight: 600; }
.badge { color: #fff; padding: 1px 8px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
pre { background: #fafafa; border: 1px solid #eee; padding: 8px; font-size: 12px; overflow: auto; max-height: 400px; }
svg { max-width: 100%; height: auto; display: block; }
</style>
</head>
<body>
<h1>Petrel chaos run <span class="badge" style="background:${VERDICT_COLOURS[r.verdict]}">${r.verdict}</span></h1>
<p class="meta">${escapeHtml(r.startedAt)} · ${r.nodes} nodes · ${(r.durationMs / 1000).toFixed(0)} s · server ${escapeHtml(r.server)} · seed ${r.seed}</p>
<p>Replay: <code>${escapeHtml(r.replay)}</code></p>
<h2>Summary</h2>
${summaryTable(r.workloads)}
${problemList(r)}
<h2>Faults</h2>
${faultTable(r.faults)}
${sections}
</body>
</html>
`;
}
