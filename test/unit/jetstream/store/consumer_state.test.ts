import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emptyConsumerState, loadConsumerState, saveConsumerState } from '../../../../src/jetstream/store/consumer_state.ts';
import { StoreError } from '../../../../src/jetstream/store/errors.ts';

describe('consumer state files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'petrel-cs-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('reads a state file in the original store framing: magic, u32 length, u32 CRC-32, payload', async () => {
    const f = path.join(dir, 'o.dat');
    const s = emptyConsumerState();
    s.delivered = { consumer: 3, stream: 9 };
    await saveConsumerState(f, s);
    const payload = fs.readFileSync(f).subarray(12);
    const old = Buffer.alloc(12 + payload.length);
    old.write(fs.readFileSync(f).toString('latin1', 0, 4), 0, 'latin1');
    old.writeUInt32LE(payload.length, 4);
    old.writeUInt32LE(crc32(payload), 8);
    old.set(payload, 12);
    expect(fs.readFileSync(f).equals(old)).toBe(true);
    fs.writeFileSync(f, old);
    expect(await loadConsumerState(f)).toEqual(s);
    fs.writeFileSync(f, old.subarray(0, old.length - 1));
    await expect(loadConsumerState(f)).rejects.toBeInstanceOf(StoreError);
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
