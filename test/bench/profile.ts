// Summarises V8 .cpuprofile files (from `node --cpu-prof`): the functions with the most self
// time, and the busiest call paths into them, per file (one file per thread).
//   node test/bench/profile.ts /tmp/prof/*.cpuprofile [--top 25]

import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url ? path.basename(f.url.replace(/^file:\/\//, '')) : '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
}

function summarise(file: string, top: number): string {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = p.endTime - p.startTime;
  const bySelf = new Map<string, number>();
  const byTotal = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    bySelf.set(label(n), (bySelf.get(label(n)) ?? 0) + us);
    // Inclusive time: credit every distinct frame on the path once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      byTotal.set(l, (byTotal.get(l) ?? 0) + us);
    }
  }
  const idle = bySelf.get('(idle)') ?? 0;
  const busy = total - idle;
  const lines = [`${path.basename(file)}: ${(total / 1e6).toFixed(2)} s profiled, ${(busy / 1e6).toFixed(2)} s busy`];
  const pct = (us: number): string => `${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  lines.push('  self time (% of busy):');
  for (const [l, us] of [...bySelf].filter(([l]) => l !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${l}`);
  lines.push('  inclusive time (% of busy):');
  for (const [l, us] of [...byTotal].filter(([l]) => !/^\((root|idle|program)\)/.test(l)).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${l}`);
  return lines.join('\n');
}

const args = process.argv.slice(2);
let top = 25;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i]!);
}
if (files.length === 0) {
  process.stderr.write('usage: node test/bench/profile.ts <file.cpuprofile>… [--top N]\n');
  process.exit(1);
}
for (const f of files) process.stdout.write(summarise(f, top) + '\n\n');
