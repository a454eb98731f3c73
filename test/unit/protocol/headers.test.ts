import { describe, expect, it } from 'vitest';
import { buildHeaders, headerValue, parseHeaders, statusHeaders } from '../../../src/protocol/headers.ts';

const str = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

describe('headers', () => {
  it('builds status-only header blocks', () => {
    expect(str(statusHeaders(503))).toBe('NATS/1.0 503\r\n\r\n');
    expect(str(statusHeaders(408, 'Request Timeout'))).toBe('NATS/1.0 408 Request Timeout\r\n\r\n');
  });

  it('builds header blocks with keys and repeated values', () => {
    expect(str(buildHeaders())).toBe('NATS/1.0\r\n\r\n');
    expect(str(buildHeaders({ headers: { 'Nats-Msg-Id': 'abc', X: ['1', '2'] } }))).toBe(
      'NATS/1.0\r\nNats-Msg-Id: abc\r\nX: 1\r\nX: 2\r\n\r\n',
    );
    expect(str(buildHeaders({ status: 100, description: 'Idle Heartbeat', headers: [['A', 'b']] }))).toBe(
      'NATS/1.0 100 Idle Heartbeat\r\nA: b\r\n\r\n',
    );
  });

  it('parses status, description and headers', () => {
    const parsed = parseHeaders(bytes('NATS/1.0 404 No Messages\r\nA: 1\r\nB:2\r\nA:  3 \r\n\r\n'));
    expect(parsed).not.toBeNull();
    expect(parsed!.status).toBe(404);
    expect(parsed!.description).toBe('No Messages');
    expect([...parsed!.headers]).toEqual([
      ['A', ['1', '3']],
      ['B', ['2']],
    ]);
    const plain = parseHeaders(bytes('NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n'))!;
    expect(plain.status).toBe(0);
    expect(plain.headers.get('Nats-Msg-Id')).toEqual(['x']);
    expect(parseHeaders(bytes('HTTP/1.1 200\r\n\r\n'))).toBeNull();
  });

  it('round-trips built headers', () => {
    const block = buildHeaders({ status: 503, headers: { K: ['v1', 'v2'], 'Nats-Expected-Stream': 'S' } });
    const parsed = parseHeaders(block)!;
    expect(parsed.status).toBe(503);
    expect(parsed.headers.get('K')).toEqual(['v1', 'v2']);
    expect(parsed.headers.get('Nats-Expected-Stream')).toEqual(['S']);
  });

  it('finds a header value by exact key at a line start', () => {
    const block = bytes('NATS/1.0\r\nX-Nats-Msg-Id: no\r\nNats-Msg-Id:  yes\r\n\r\n');
    expect(headerValue(block, 'Nats-Msg-Id')).toBe('yes');
    expect(headerValue(block, 'nats-msg-id')).toBeNull();
    expect(headerValue(block, 'Missing')).toBeNull();
  });
});
