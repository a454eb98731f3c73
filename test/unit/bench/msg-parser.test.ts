// The JetStream roles of the bench read subjects, reply subjects, payloads and status headers
// with MsgParser; these tests pin it on synthetic server bytes split at every boundary.

import { describe, expect, it } from 'vitest';
import { MsgParser, containsBytes, headerNumber, parseDecimal, statusCode } from '../../bench/loadgen/msg-parser.ts';
import type { MsgFields } from '../../bench/loadgen/msg-parser.ts';

interface Seen {
  subject: string;
  reply: string | null;
  header: string;
  payload: string;
  status: number;
  pending: number;
}

function collect(): { parser: MsgParser; seen: Seen[]; lines: string[] } {
  const seen: Seen[] = [];
  const lines: string[] = [];
  const parser = new MsgParser(
    (m: MsgFields) =>
      seen.push({
        subject: m.buf.toString('latin1', m.subjectStart, m.subjectEnd),
        reply: m.replyStart >= 0 ? m.buf.toString('latin1', m.replyStart, m.replyEnd) : null,
        header: m.buf.toString('latin1', m.headerStart, m.headerEnd),
        payload: m.buf.toString('latin1', m.payloadStart, m.payloadEnd),
        status: statusCode(m),
        pending: headerNumber(m, 'Nats-Pending-Messages'),
      }),
    (l) => lines.push(l),
  );
  return { parser, seen, lines };
}

const ack = '{"stream":"BENCH","seq":42}';
const statusHdr = 'NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 17\r\nNats-Pending-Bytes: 0\r\n\r\n';
const stream = Buffer.from(
  'INFO {"server_id":"x"}\r\n' +
    `MSG _INBOX.jsbench.ack.7 1 ${ack.length}\r\n${ack}\r\n` +
    'PING\r\n' +
    'MSG js.bench 1 $JS.ACK.BENCH.PULL.1.5.5.1700000000000000000.9 5\r\nhello\r\n' +
    `HMSG _INBOX.jsbench.pull.3 1 ${statusHdr.length} ${statusHdr.length}\r\n${statusHdr}\r\n` +
    'HMSG js.bench 1 $JS.ACK.x 12 15\r\nNATS/1.0\r\n\r\nabc\r\n' +
    'MSG empty 1 0\r\n\r\n' +
    '-ERR \'Slow Consumer\'\r\n',
  'latin1',
);

describe('MsgParser', () => {
  it('hands over subject, reply, header and payload whatever the chunking', () => {
    for (const step of [1, 2, 3, 7, 16, 50, 4096]) {
      const { parser, seen, lines } = collect();
      for (let i = 0; i < stream.length; i += step) parser.push(stream.subarray(i, i + step));
      expect(parser.fault).toBeNull();
      expect(parser.msgs).toBe(5);
      expect(lines).toEqual(['INFO {"server_id":"x"}', 'PING', "-ERR 'Slow Consumer'"]);
      expect(seen[0]).toMatchObject({ subject: '_INBOX.jsbench.ack.7', reply: null, header: '', payload: ack, status: 0 });
      expect(seen[1]).toMatchObject({ subject: 'js.bench', reply: '$JS.ACK.BENCH.PULL.1.5.5.1700000000000000000.9', payload: 'hello' });
      expect(seen[2]).toMatchObject({ subject: '_INBOX.jsbench.pull.3', reply: null, header: statusHdr, payload: '', status: 408, pending: 17 });
      expect(seen[3]).toMatchObject({ subject: 'js.bench', reply: '$JS.ACK.x', header: 'NATS/1.0\r\n\r\n', payload: 'abc', status: 0 });
      expect(seen[3]!.pending).toBeNaN();
      expect(seen[4]).toMatchObject({ subject: 'empty', reply: null, payload: '' });
    }
  });

  it('reports a message whose size does not match its bytes', () => {
    const { parser } = collect();
    parser.push(Buffer.from('MSG a 1 3\r\nabcd\r\n'));
    expect(parser.fault).toMatch(/wrong size/);
  });

  it('reports a malformed MSG line', () => {
    const { parser } = collect();
    parser.push(Buffer.from('MSG a\r\n'));
    expect(parser.fault).toMatch(/malformed/);
  });
});

describe('byte helpers', () => {
  it('parseDecimal reads digits and refuses anything else', () => {
    const b = Buffer.from('x12345y');
    expect(parseDecimal(b, 1, 6)).toBe(12345);
    expect(parseDecimal(b, 0, 6)).toBeNaN();
    expect(parseDecimal(b, 3, 3)).toBeNaN();
  });

  it('containsBytes looks only inside the range', () => {
    const b = Buffer.from('{"stream":"S"} {"error":1}');
    const needle = Buffer.from('"error"');
    expect(containsBytes(b, 0, 14, needle)).toBe(false);
    expect(containsBytes(b, 0, b.length, needle)).toBe(true);
    expect(containsBytes(b, 16, 22, needle)).toBe(false);
  });
});
