import { describe, expect, it } from 'vitest';
import { ackReply, headersOnlyBlock, parseAckReply, Status } from '../../../../src/jetstream/consumers/wire.ts';
import { formatGoDuration, parseConsumerConfig } from '../../../../src/jetstream/consumers/config.ts';
import { parseNextRequest } from '../../../../src/jetstream/consumers/next_request.ts';
import { parseGoDuration } from '../../../../src/jetstream/consumers/time.ts';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('consumer wire formats', () => {
  it('ack reply subjects round-trip and malformed ones are refused', () => {
    const s = ackReply('$JS.ACK.ORDERS.dur.', 2, 17, 9, 1_700_000_000_123_456_789n, 4);
    expect(s).toBe('$JS.ACK.ORDERS.dur.2.17.9.1700000000123456789.4');
    expect(parseAckReply(s)).toEqual({ deliveries: 2, streamSeq: 17, consumerSeq: 9 });
    for (const bad of ['$JS.ACK.S.D.1.2.3.4', '$JS.ACK.S.D.1.2.3.4.5.6', '$JS.ACK.S.D.1.x.3.4.5', '$JS.ACK.S.D.1..3.4.5', '$JS.NAK.S.D.1.2.3.4.5', '$JS.ACK.S.D.1.2.3.4.']) {
      expect(parseAckReply(bad), bad).toBeNull();
    }
  });

  it('status blocks are byte-exact', () => {
    expect(text(Status.noMessages())).toBe('NATS/1.0 404 No Messages\r\n\r\n');
    expect(text(Status.requestTimeout(3, 10))).toBe('NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 10\r\n\r\n');
    expect(text(Status.exceededMaxWaiting())).toBe('NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n');
    expect(text(Status.consumerDeleted())).toBe('NATS/1.0 409 Consumer Deleted\r\n\r\n');
    expect(text(Status.idleHeartbeat(5, 9, null))).toBe('NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 9\r\n\r\n');
    expect(text(Status.idleHeartbeat(5, 9, '$JS.FC.S.C.abcd'))).toBe('NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 9\r\nNats-Consumer-Stalled: $JS.FC.S.C.abcd\r\n\r\n');
    expect(text(Status.flowControlRequest())).toBe('NATS/1.0 100 FlowControl Request\r\n\r\n');
  });

  it('headers-only blocks keep the headers and add the size', () => {
    expect(text(headersOnlyBlock(null, 12))).toBe('NATS/1.0\r\nNats-Msg-Size: 12\r\n\r\n');
    expect(text(headersOnlyBlock(Buffer.from('NATS/1.0\r\nA: b\r\n\r\n'), 0))).toBe('NATS/1.0\r\nA: b\r\nNats-Msg-Size: 0\r\n\r\n');
  });

  it('pull request bodies', () => {
    expect(parseNextRequest(Buffer.from(''))).toMatchObject({ batch: 1, noWait: false });
    expect(parseNextRequest(Buffer.from(' 7 '))).toMatchObject({ batch: 7 });
    expect(parseNextRequest(Buffer.from('{"batch":3,"expires":2000000000,"no_wait":true,"max_bytes":100,"idle_heartbeat":500000000}'))).toEqual({
      batch: 3,
      expiresNs: 2_000_000_000,
      noWait: true,
      maxBytes: 100,
      heartbeatNs: 500_000_000,
    });
    expect(parseNextRequest(Buffer.from('{"batch":1,"idle_heartbeat":500000000}'))).toBe('heartbeat value too large');
    expect(typeof parseNextRequest(Buffer.from('{bad'))).toBe('string');
    expect(typeof parseNextRequest(Buffer.from('{"batch":"x"}'))).toBe('string');
  });

  it('Go durations both ways', () => {
    expect(formatGoDuration(1_000_000_000)).toBe('1s');
    expect(formatGoDuration(1_500_000_000)).toBe('1.5s');
    expect(formatGoDuration(500_000_000)).toBe('500ms');
    expect(formatGoDuration(60_000_000_000)).toBe('1m0s');
    expect(formatGoDuration(3_723_000_000_000)).toBe('1h2m3s');
    expect(parseGoDuration('1.5s')).toBe(1_500_000_000);
    expect(parseGoDuration('2h45m')).toBe(9_900_000_000_000);
    expect(parseGoDuration('300ms')).toBe(300_000_000);
    expect(parseGoDuration('abc')).toBeNull();
    expect(parseGoDuration('')).toBeNull();
  });

  it('config JSON decoding refuses wrong types like Go', () => {
    expect(parseConsumerConfig({ max_deliver: 1.5 })).toMatchObject({ err_code: 10025 });
    expect(parseConsumerConfig({ flow_control: 'yes' })).toMatchObject({ err_code: 10025 });
    expect(parseConsumerConfig({ opt_start_time: 'yesterday' })).toMatchObject({ err_code: 10025 });
    expect(parseConsumerConfig({ deliver_policy: 'undefined' })).toMatchObject({ deliverPolicy: 'all' });
    expect(parseConsumerConfig({ opt_start_time: '2024-01-02T03:04:05.5+01:00' })).toMatchObject({ optStartTime: { ns: 1_704_161_045_500_000_000n } });
  });
});
