import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readChecksummedFile, writeChecksummedFile, writeFileAtomic } from '../../../../src/jetstream/store/atomic_file.ts';
import { emptyConsumerState, loadConsumerState, saveConsumerState } from '../../../../src/jetstream/store/consumer_state.ts';
import { StoreError } from '../../../../src/jetstream/store/errors.ts';

describe('atomic files and consumer state', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'petrel-cs-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writeFileAtomic replaces the file and leaves no temp file', async () => {
    const f = path.join(dir, 'meta.json');
    await writeFileAtomic(f, JSON.stringify({ name: 'A' }));
    await writeFileAtomic(f, JSON.stringify({ name: 'B' }));
    expect(JSON.parse(fs.readFileSync(f, 'utf8'))).toEqual({ name: 'B' });
    expect(fs.readdirSync(dir)).toEqual(['meta.json']);
  });

  it('checksummed files round-trip and detect damage', async () => {
    const f = path.join(dir, 'x.dat');
    expect(await readChecksummedFile(f, 'TEST')).toBeNull();
    await writeChecksummedFile(f, 'TEST', new Uint8Array([1, 2, 3]));
    expect([...(await readChecksummedFile(f, 'TEST'))!]).toEqual([1, 2, 3]);
    await expect(readChecksummedFile(f, 'OTHR')).rejects.toBeInstanceOf(StoreError);
    const buf = fs.readFileSync(f);
    buf[buf.length - 1] ^= 1;
    fs.writeFileSync(f, buf);
    await expect(readChecksummedFile(f, 'TEST')).rejects.toMatchObject({ code: 'CORRUPT' });
    fs.writeFileSync(f, buf.subarray(0, buf.length - 1));
    await expect(readChecksummedFile(f, 'TEST')).rejects.toMatchObject({ code: 'CORRUPT' });
  });

  it('saves and loads consumer state', async () => {
    const f = path.join(dir, 'o.dat');
    expect(await loadConsumerState(f)).toBeNull();
    const s = emptyConsumerState();
    s.delivered = { consumer: 10, stream: 22 };
    s.ackFloor = { consumer: 7, stream: 18 };
    s.pending.set(20, { sequence: 9, timestamp: 1_700_000_000_000_000_000n });
    s.pending.set(22, { sequence: 10, timestamp: 1_700_000_000_500_000_000n });
    s.redelivered.set(20, 3);
    await saveConsumerState(f, s);
    expect(await loadConsumerState(f)).toEqual(s);
    await saveConsumerState(f, emptyConsumerState());
    expect(await loadConsumerState(f)).toEqual(emptyConsumerState());
  });

  it('reports a corrupt consumer state file', async () => {
    const f = path.join(dir, 'o.dat');
    const s = emptyConsumerState();
    s.pending.set(5, { sequence: 1, timestamp: 5n });
    await saveConsumerState(f, s);
    const buf = fs.readFileSync(f);
    buf[20] ^= 0x10;
    fs.writeFileSync(f, buf);
    await expect(loadConsumerState(f)).rejects.toMatchObject({ code: 'CORRUPT' });
  });
});
