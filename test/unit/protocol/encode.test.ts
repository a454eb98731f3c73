import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  OK_LINE,
  PING_LINE,
  PONG_LINE,
  errLine,
  hmsgPrefixLength,
  infoLine,
  msgPrefixLength,
  writeHMsgPrefix,
  writeMsgPrefix,
} from '../../../src/protocol/encode.ts';
import { parseSize, writeDecimal, decimalLength, writeBytes, writeLatin1 } from '../../../src/protocol/bytes.ts';

const str = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('encode', () => {
  it('has the fixed protocol lines', () => {
    expect(str(PING_LINE)).toBe('PING\r\n');
    expect(str(PONG_LINE)).toBe('PONG\r\n');
    expect(str(OK_LINE)).toBe('+OK\r\n');
  });

  it('builds -ERR and INFO lines', () => {
    expect(str(errLine('Unknown Protocol Operation'))).toBe("-ERR 'Unknown Protocol Operation'\r\n");
    expect(str(infoLine({ server_id: 'X', max_payload: 1048576 }))).toBe('INFO {"server_id":"X","max_payload":1048576}\r\n');
  });

  it('writes MSG prefixes at an offset, from strings or bytes', () => {
    const buf = new Uint8Array(100).fill(0x2e);
    const end = writeMsgPrefix(buf, 3, 'foo.bar', new Uint8Array(Buffer.from('12')), null, 5);
    expect(str(buf.subarray(3, end))).toBe('MSG foo.bar 12 5\r\n');
    expect(end - 3).toBe(msgPrefixLength('foo.bar', '12', null, 5));
    expect(buf[2]).toBe(0x2e);
    expect(buf[end]).toBe(0x2e);
    const end2 = writeMsgPrefix(buf, 0, new Uint8Array(Buffer.from('a')), '1', '_INBOX.x', 0);
    expect(str(buf.subarray(0, end2))).toBe('MSG a 1 _INBOX.x 0\r\n');
  });

  it('writes HMSG prefixes', () => {
    const buf = new Uint8Array(100);
    const end = writeHMsgPrefix(buf, 0, 'foo', '7', 'r', 12, 1234567890);
    expect(str(buf.subarray(0, end))).toBe('HMSG foo 7 r 12 1234567890\r\n');
    expect(end).toBe(hmsgPrefixLength('foo', '7', 'r', 12, 1234567890));
    const end2 = writeHMsgPrefix(buf, 0, 'foo', '7', null, 0, 0);
    expect(str(buf.subarray(0, end2))).toBe('HMSG foo 7 0 0\r\n');
  });

  it('keeps latin1 subjects byte-faithful (UTF-8 subjects survive)', () => {
    const utf8Subject = Buffer.from('grüße.ñ', 'utf8').toString('latin1');
    const buf = new Uint8Array(64);
    const end = writeMsgPrefix(buf, 0, utf8Subject, '1', null, 2);
    expect(Buffer.from(buf.subarray(0, end)).toString('utf8')).toBe('MSG grüße.ñ 1 2\r\n');
    expect(end).toBe(msgPrefixLength(utf8Subject, '1', null, 2));
  });

  it('writes subjects, sids and replies of every length (loop and native copy paths) byte-exact', () => {
    // Short values are copied by loop, long ones natively: both must give the same bytes.
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 80, size: 'max' }),
        fc.uint8Array({ minLength: 1, maxLength: 20, size: 'max' }),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 80, size: 'max' }), { nil: null }),
        fc.nat(2_000_000),
        (subj, sid, reply, size) => {
          const subject = Buffer.from(subj).toString('latin1');
          const replyStr = reply === null ? null : Buffer.from(reply).toString('latin1');
          const expected = `MSG ${subject} ${str(sid)} ${replyStr === null ? '' : replyStr + ' '}${size}\r\n`;
          for (const [s, r] of [
            [subject, replyStr],
            [new Uint8Array(subj), reply],
          ] as const) {
            const buf = new Uint8Array(256).fill(0x2e);
            const end = writeMsgPrefix(buf, 7, s, sid, r, size);
            expect(str(buf.subarray(7, end))).toBe(expected);
            expect(end - 7).toBe(msgPrefixLength(s, sid, r, size));
            expect(buf[6]).toBe(0x2e);
            expect(buf[end]).toBe(0x2e);
          }
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it('copies bytes and latin1 strings at an offset without touching their neighbours', () => {
    for (const n of [0, 1, 8, 9, 16, 17, 100]) {
      const src = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 200) & 0xff);
      const buf = new Uint8Array(n + 4).fill(0x2e);
      expect(writeBytes(buf, 2, src)).toBe(n + 2);
      expect([...buf.subarray(2, n + 2)]).toEqual([...src]);
      expect([buf[1], buf[n + 2]]).toEqual([0x2e, 0x2e]);
      const buf2 = new Uint8Array(n + 4).fill(0x2e);
      expect(writeLatin1(buf2, 2, Buffer.from(src).toString('latin1'))).toBe(n + 2);
      expect([...buf2]).toEqual([...buf]);
    }
  });

  it('writes and reads decimals consistently (seeded)', () => {
    for (const n of [0, 9, 10, 99, 100, 0x7fffffff, 0x80000000, 12_345_678_901]) {
      const buf = new Uint8Array(16);
      expect(str(buf.subarray(0, writeDecimal(buf, 0, n)))).toBe(String(n));
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999 }), (n) => {
        const buf = new Uint8Array(16);
        const end = writeDecimal(buf, 1, n);
        expect(end - 1).toBe(decimalLength(n));
        expect(str(buf.subarray(1, end))).toBe(String(n));
        expect(parseSize(buf, 1, end)).toBe(n);
      }),
      { seed: 3, numRuns: 500 },
    );
  });
});
