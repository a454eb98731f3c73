// The bench's load generator counts delivered messages by length instead of parsing them; these
// tests pin that counting (and the sequence tally) on synthetic bytes split at every boundary.

import { describe, expect, it } from 'vitest';
import {
  RecordCounter,
  SeqTally,
  buildPubBatch,
  msgPayloadOffset,
  msgRecordBytes,
  stampSeqs,
} from '../../bench/loadgen/wire.ts';

function msgRecord(subject: string, sid: string, payload: Buffer, reply?: string): Buffer {
  const head = reply ? `MSG ${subject} ${sid} ${reply} ${payload.length}\r\n` : `MSG ${subject} ${sid} ${payload.length}\r\n`;
  return Buffer.concat([Buffer.from(head), payload, Buffer.from('\r\n')]);
}

function seqPayload(seq: number, size = 16): Buffer {
  const p = Buffer.alloc(size, 0x78);
  p.writeUInt32LE(seq, 0);
  return p;
}

/** Feeds `stream` in pieces of `step` bytes. */
function feed(counter: RecordCounter, stream: Buffer, step: number): void {
  for (let i = 0; i < stream.length; i += step) counter.push(stream.subarray(i, i + step));
}

describe('record sizes', () => {
  it('match the MSG line the server writes', () => {
    expect(msgRecordBytes('bench.a', '1', 16)).toBe(msgRecord('bench.a', '1', Buffer.alloc(16)).length);
    expect(msgRecordBytes('bench.req', '12', 1024, 'inbox.1')).toBe(msgRecord('bench.req', '12', Buffer.alloc(1024), 'inbox.1').length);
    expect(msgPayloadOffset('bench.a', '1', 16)).toBe('MSG bench.a 1 16\r\n'.length);
  });
});

describe('buildPubBatch / stampSeqs', () => {
  it('builds back-to-back PUB records and numbers them', () => {
    const batch = buildPubBatch('s', 4, 3);
    expect(batch.buf.toString('latin1')).toBe('PUB s 4\r\nxxxx\r\n'.repeat(3));
    stampSeqs(batch, 7);
    for (let i = 0; i < 3; i++) expect(batch.buf.readUInt32LE(i * batch.recordBytes + batch.payloadOffset)).toBe(7 + i);
  });
});

describe('RecordCounter', () => {
  const subject = 'bench.q';
  const size = 16;
  const recordBytes = msgRecordBytes(subject, '1', size);
  const seqOffset = msgPayloadOffset(subject, '1', size);
  const records = Array.from({ length: 50 }, (_, i) => msgRecord(subject, '1', seqPayload(i * 65_537)));

  it('counts records and reads sequence numbers whatever the chunking', () => {
    const stream = Buffer.concat([Buffer.from('INFO {"x":1}\r\nPONG\r\n'), ...records.slice(0, 25), Buffer.from('PING\r\n'), ...records.slice(25), Buffer.from('PONG\r\n')]);
    for (const step of [1, 2, 3, 5, 7, recordBytes - 1, recordBytes, recordBytes + 1, 4096]) {
      const seqs: number[] = [];
      const lines: string[] = [];
      const c = new RecordCounter(recordBytes, { seqOffset, onSeq: (s) => seqs.push(s), onControl: (l) => lines.push(l) });
      feed(c, stream, step);
      expect(c.fault).toBeNull();
      expect(c.records).toBe(50);
      expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i * 65_537));
      expect(lines).toEqual(['INFO {"x":1}', 'PONG', 'PING', 'PONG']);
    }
  });

  it('counts by length alone when no sequence numbers are wanted', () => {
    const c = new RecordCounter(recordBytes);
    feed(c, Buffer.concat(records), 1000);
    expect(c.records).toBe(50);
    expect(c.fault).toBeNull();
  });

  it('reports a wrong record size instead of miscounting', () => {
    const c = new RecordCounter(recordBytes + 1);
    feed(c, Buffer.concat(records), 64);
    expect(c.fault?.reason).toMatch(/wrong record size/);
  });

  it('reports bytes that are neither a record nor a control line', () => {
    const c = new RecordCounter(recordBytes);
    c.push(Buffer.from('HELLO\r\n'));
    expect(c.fault?.reason).toMatch(/unexpected line/);
  });

  it('keeps a server -ERR as a control line', () => {
    const lines: string[] = [];
    const c = new RecordCounter(recordBytes, { onControl: (l) => lines.push(l) });
    c.push(Buffer.from("-ERR 'Slow Consumer'\r\n"));
    expect(lines).toEqual(["-ERR 'Slow Consumer'"]);
  });
});

describe('SeqTally', () => {
  it('finds missing, duplicated and unexpected sequence numbers', () => {
    const t = new SeqTally();
    for (const s of [0, 1, 1, 3, 5, 2_000_000]) t.add(s);
    expect(t.check(5)).toEqual({ missing: 2, duplicated: 1, unexpected: 2 });
  });

  it('is clean when every number came once', () => {
    const t = new SeqTally();
    for (let s = 0; s < 3_000_000; s++) t.add(s);
    expect(t.check(3_000_000)).toEqual({ missing: 0, duplicated: 0, unexpected: 0 });
  });
});
