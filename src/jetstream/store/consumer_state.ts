// Durable consumer state (nats-server ConsumerState): delivered and ack-floor sequence pairs, the
// pending (delivered, unacknowledged) messages and redelivery counts. Saved atomically in a
// checksummed file, so a torn or damaged file is reported rather than silently misread.

import { CorruptFileError, readFramedFile, writeFramedFile } from '../../storage/atomic_file.ts';
import { StoreError, StoreErrorCode } from './errors.ts';

export interface SequencePair {
  /** Consumer (delivery) sequence. */
  consumer: number;
  /** Stream sequence. */
  stream: number;
}

export interface PendingDelivery {
  /** Consumer sequence of the latest delivery. */
  sequence: number;
  /** When it was delivered, ns since the epoch. */
  timestamp: bigint;
}

export interface ConsumerState {
  delivered: SequencePair;
  ackFloor: SequencePair;
  /** By stream sequence. */
  pending: Map<number, PendingDelivery>;
  /** Stream sequence -> delivery count, for messages delivered more than once. */
  redelivered: Map<number, number>;
}

const MAGIC = 'PCS1';
const VERSION = 1;

export function emptyConsumerState(): ConsumerState {
  return { delivered: { consumer: 0, stream: 0 }, ackFloor: { consumer: 0, stream: 0 }, pending: new Map(), redelivered: new Map() };
}

export function encodeConsumerState(s: ConsumerState): Buffer {
  // version u8, 4 x u64 sequences, u32 pending count, pending (u64 seq, u64 cseq, i64 ts) ...,
  // u32 redelivered count, redelivered (u64 seq, u64 count) ...
  const size = 1 + 32 + 4 + s.pending.size * 24 + 4 + s.redelivered.size * 16;
  const buf = Buffer.allocUnsafe(size);
  let p = buf.writeUInt8(VERSION, 0);
  p = buf.writeBigUInt64LE(BigInt(s.delivered.consumer), p);
  p = buf.writeBigUInt64LE(BigInt(s.delivered.stream), p);
  p = buf.writeBigUInt64LE(BigInt(s.ackFloor.consumer), p);
  p = buf.writeBigUInt64LE(BigInt(s.ackFloor.stream), p);
  p = buf.writeUInt32LE(s.pending.size, p);
  for (const [seq, pd] of s.pending) {
    p = buf.writeBigUInt64LE(BigInt(seq), p);
    p = buf.writeBigUInt64LE(BigInt(pd.sequence), p);
    p = buf.writeBigInt64LE(pd.timestamp, p);
  }
  p = buf.writeUInt32LE(s.redelivered.size, p);
  for (const [seq, count] of s.redelivered) {
    p = buf.writeBigUInt64LE(BigInt(seq), p);
    p = buf.writeBigUInt64LE(BigInt(count), p);
  }
  return buf;
}

export function decodeConsumerState(bytes: Uint8Array): ConsumerState {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (buf.readUInt8(0) !== VERSION) throw new StoreError(StoreErrorCode.Corrupt, 'consumer state: unknown version');
    let p = 1;
    const u64 = (): number => {
      const v = Number(buf.readBigUInt64LE(p));
      p += 8;
      return v;
    };
    const s = emptyConsumerState();
    s.delivered = { consumer: u64(), stream: u64() };
    s.ackFloor = { consumer: u64(), stream: u64() };
    const pendingCount = buf.readUInt32LE(p);
    p += 4;
    for (let i = 0; i < pendingCount; i++) {
      const seq = u64();
      const sequence = u64();
      const timestamp = buf.readBigInt64LE(p);
      p += 8;
      s.pending.set(seq, { sequence, timestamp });
    }
    const redeliveredCount = buf.readUInt32LE(p);
    p += 4;
    for (let i = 0; i < redeliveredCount; i++) {
      const seq = u64();
      s.redelivered.set(seq, u64());
    }
    if (p !== buf.length) throw new StoreError(StoreErrorCode.Corrupt, 'consumer state: trailing bytes');
    return s;
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(StoreErrorCode.Corrupt, 'consumer state: truncated', { cause: err });
  }
}

export async function saveConsumerState(file: string, s: ConsumerState): Promise<void> {
  await writeFramedFile(file, encodeConsumerState(s), MAGIC);
}

/** The saved state, or null if none was saved. Throws StoreError CORRUPT for a damaged file. */
export async function loadConsumerState(file: string): Promise<ConsumerState | null> {
  let payload: Uint8Array | null;
  try {
    payload = await readFramedFile(file, MAGIC);
  } catch (err) {
    if (err instanceof CorruptFileError) throw new StoreError(StoreErrorCode.Corrupt, err.message, { cause: err });
    throw err;
  }
  return payload === null ? null : decodeConsumerState(payload);
}
