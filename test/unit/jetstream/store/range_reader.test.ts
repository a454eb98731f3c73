// Start-up reads the ranges it replays one ahead, into two buffers it alternates: each take()
// gives the next range's bytes (fewer if the file is shorter now), and a failed read is reported
// by the take() that wants it, never as an unhandled rejection.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RangeReader } from '../../../../src/jetstream/store/range_reader.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-ranges-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

describe('RangeReader', () => {
  it('gives each range in order, the last one cut short where its file ends', async () => {
    const a = file('a', 'aaaaAAAA');
    const b = file('b', 'bbbbbbbbbbbb');
    const c = file('c', 'cc');
    const r = new RangeReader([
      { path: a, from: 4, to: 8 },
      { path: b, from: 0, to: 12 },
      { path: a, from: 0, to: 4 },
      { path: c, from: 0, to: 10 },
    ]);
    expect((await r.take()).toString()).toBe('AAAA');
    expect((await r.take()).toString()).toBe('bbbbbbbbbbbb');
    expect((await r.take()).toString()).toBe('aaaa');
    expect((await r.take()).toString()).toBe('cc');
    await expect(r.take()).rejects.toThrow(/no range left/);
  });

  it('reports a read that failed to the take() that wants it', async () => {
    const a = file('ok', 'data');
    const r = new RangeReader([
      { path: a, from: 0, to: 4 },
      { path: path.join(dir, 'missing'), from: 0, to: 4 },
    ]);
    expect((await r.take()).toString()).toBe('data');
    await expect(r.take()).rejects.toThrow(/ENOENT/);
  });

  it('a reader given up on early leaves no unhandled rejection', async () => {
    new RangeReader([{ path: path.join(dir, 'missing'), from: 0, to: 4 }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
});
