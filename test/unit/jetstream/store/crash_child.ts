// Child process of the crash matrix: runs the seeded workload on a file store and SIGKILLs itself
// at the nth file-system call of one kind (a segment write, a snapshot rename...), optionally after
// writing only half of that call's bytes (a torn write). Acknowledged steps are appended to a log
// with synchronous writes, which survive the kill.
//
//   node crash_child.ts <dir> <seed> <label> <nth> <torn 0|1>
// With label "count" it runs to the end and prints how many calls of each label it made.

import * as fs from 'node:fs';
import fsMutable from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';

const [dir, seedText, label, nthText, tornText] = process.argv.slice(2) as [string, string, string, string, string];
const nth = Number(nthText);
const torn = tornText === '1';
const counts: Record<string, number> = {};

function kind(file: string): string {
  const base = path.basename(file);
  if (base === 'index.db.tmp') return 'snap';
  if (base.endsWith('.seg.tmp')) return 'gc';
  if (base.endsWith('.seg')) return 'seg';
  return 'dir';
}

function hit(what: string, tornWrite?: () => void): void {
  counts[what] = (counts[what] ?? 0) + 1;
  if (what === label && counts[what] === nth) {
    tornWrite?.();
    process.kill(process.pid, 'SIGKILL');
  }
}

const paths = new WeakMap<object, string>();
const promises = fs.promises as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
const open = promises['open']!;
promises['open'] = async (...a: unknown[]) => {
  const file = String(a[0]);
  if (kind(file) === 'snap') hit('snap-open');
  const fh = (await open(...a)) as object;
  paths.set(fh, file);
  return fh;
};
for (const [name, to] of [['rename', 1], ['rm', 0]] as const) {
  const orig = promises[name]!;
  promises[name] = (...a: unknown[]) => {
    const file = String(a[to]);
    if (name === 'rename') hit(path.basename(file) === 'index.db' ? 'snap-rename' : 'gc-rename');
    else if (file.endsWith('.seg')) hit('gc-rm');
    return orig(...a);
  };
}
const renameSync = fsMutable.renameSync;
fsMutable.renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
  hit(path.basename(String(to)) === 'index.db' ? 'snap-rename' : 'gc-rename');
  renameSync(from, to);
}) as typeof fs.renameSync;
syncBuiltinESMExports();
const probe = await fs.promises.open(path.join(dir, '..', 'probe'), 'w');
const proto = Object.getPrototypeOf(probe) as Record<string, (...a: unknown[]) => Promise<unknown>>;
await probe.close();
for (const m of ['write', 'writev', 'writeFile', 'datasync', 'sync', 'truncate']) {
  const orig = proto[m]!;
  proto[m] = function (this: { fd: number }, ...a: unknown[]) {
    const what = `${kind(paths.get(this) ?? '')}-${m === 'datasync' || m === 'sync' ? 'sync' : m === 'truncate' ? 'truncate' : 'write'}`;
    hit(what, () => {
      if (!torn || what !== 'seg-write') return;
      // Half of what this call would write, as a crash mid-write leaves it.
      const bufs = (m === 'writev' ? a[0] : [a[0]]) as Buffer[];
      const at = Number(m === 'writev' ? a[1] : a[3]);
      const all = Buffer.concat(bufs);
      fs.writeSync(this.fd, all, 0, Math.max(1, all.length >> 1), at);
    });
    return orig.apply(this, a);
  };
}

const { FileStore } = await import('../../../../src/jetstream/store/file_store.ts');
const { CRASH_GROUP, CRASH_STEPS, CRASH_STORE_OPTS, crashStep, rng } = await import('./crash_ops.ts');

const store = await FileStore.open({ dir, ...CRASH_STORE_OPTS });
const acked = fs.openSync(path.join(dir, '..', 'acked'), 'a');
const rand = rng(Number(seedText));
let pending: Array<Promise<unknown>> = [];
for (let i = 0; i < CRASH_STEPS; i++) {
  const p = crashStep(store, i, rand);
  if (p !== null) pending.push(p);
  if (i % CRASH_GROUP === CRASH_GROUP - 1) {
    await Promise.all(pending);
    await store.flush();
    pending = [];
    fs.writeSync(acked, `${i}\n`);
  }
}
if (label === 'count') {
  process.stdout.write(JSON.stringify(counts));
  process.exit(0);
}
// Not killed on the way: stop as a crash would, with nothing closed.
process.kill(process.pid, 'SIGKILL');
