import { describe, expect, it } from 'vitest';
import { ROUTE_MAX_CONTROL_LINE, ROUTE_PROTOCOL, RouteParser } from '../../../src/protocol/route_parser.ts';
import { ProtocolErrorCode } from '../../../src/protocol/errors.ts';
import { bytes, everyByte, itParsesAnySplit } from './feed.ts';
import { feedLink, itFuzzesSplits, Recorder } from './link_recorder.ts';
import type { Event } from './link_recorder.ts';

const feed = (input: Uint8Array, cuts: number[]): Recorder => feedLink(ROUTE_PROTOCOL, input, cuts);

const whole = (s: string) => feed(bytes(s), []);
const byteAtATime = (s: string) => feed(bytes(s), everyByte(bytes(s)));

// What a Go nats-server 2.9 route sends (route.go: sendRouteConnect, sendSubsToRoute, msgHeaderForRouteOrLeaf).
const MIXED =
  'CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NABC","cluster":"c1","lnoc":true}\r\n' +
  'INFO {"server_id":"NABC","cluster":"c1"}\r\n' +
  'PING\r\n' +
  'PONG\r\n' +
  'RS+ $G foo.>\r\n' +
  'RS+ $G work workers 3\r\n' +
  'LS+ leafc $G leaf.x\r\n' +
  'LS+ leafc $G leaf.q lq 2\r\n' +
  'RS- $G foo.>\r\n' +
  'RS- $G work workers\r\n' +
  'LS- $G leaf.x\r\n' +
  'A+ $G\r\nA- $G\r\n' +
  'RMSG $G foo.bar 5\r\nhello\r\n' +
  'RMSG $G foo.bar _INBOX.x 2\r\nhi\r\n' +
  'RMSG $G work + _INBOX.y workers other 3\r\nabc\r\n' +
  'RMSG $G work | workers 0\r\n\r\n' +
  'HMSG $SYS $SYS.REQ.SERVER.PING _INBOX.z 12 14\r\nNATS/1.0\r\n\r\n{}\r\n' +
  'HMSG $G h + r q1 q2 12 12\r\nNATS/1.0\r\n\r\n\r\n' +
  'HMSG $G h | q1 12 13\r\nNATS/1.0\r\n\r\nx\r\n' +
  'LMSG leafc $G l 0 2\r\nok\r\n' +
  'LMSG leafc $G l + rep q 0 2\r\nok\r\n' +
  'rmsg $G lower 2\r\n\r\n\r\n' +
  '+OK\r\n' +
  'RMSG\t$G\tt\t1\t\r\nx\r\n';

const MIXED_EVENTS: Event[] = [
  ['connect', '{"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NABC","cluster":"c1","lnoc":true}'],
  ['info', '{"server_id":"NABC","cluster":"c1"}'],
  ['ping'],
  ['pong'],
  ['rs+', null, '$G', 'foo.>', null, 0],
  ['rs+', null, '$G', 'work', 'workers', 3],
  ['rs+', 'leafc', '$G', 'leaf.x', null, 0],
  ['rs+', 'leafc', '$G', 'leaf.q', 'lq', 2],
  ['rs-', '$G', 'foo.>', null],
  ['rs-', '$G', 'work', 'workers'],
  ['rs-', '$G', 'leaf.x', null],
  ['msg', null, '$G', 'foo.bar', null, [], -1, 'hello'],
  ['msg', null, '$G', 'foo.bar', '_INBOX.x', [], -1, 'hi'],
  ['msg', null, '$G', 'work', '_INBOX.y', ['workers', 'other'], -1, 'abc'],
  ['msg', null, '$G', 'work', null, ['workers'], -1, ''],
  ['msg', null, '$SYS', '$SYS.REQ.SERVER.PING', '_INBOX.z', [], 12, 'NATS/1.0\r\n\r\n{}'],
  ['msg', null, '$G', 'h', 'r', ['q1', 'q2'], 12, 'NATS/1.0\r\n\r\n'],
  ['msg', null, '$G', 'h', null, ['q1'], 12, 'NATS/1.0\r\n\r\nx'],
  ['msg', 'leafc', '$G', 'l', null, [], 0, 'ok'],
  ['msg', 'leafc', '$G', 'l', 'rep', ['q'], 0, 'ok'],
  ['msg', null, '$G', 'lower', null, [], -1, '\r\n'],
  ['msg', null, '$G', 't', null, [], -1, 'x'],
];

describe('RouteParser: operations', () => {
  itParsesAnySplit('route', feed, MIXED, MIXED_EVENTS, 0x7a11);

  it('carries a long queue list and a large payload split over many reads', () => {
    const queues = Array.from({ length: 200 }, (_, i) => `queue-${i}`);
    const payload = Buffer.alloc(200_000, 7);
    const input = Buffer.concat([Buffer.from(`RMSG $G big + reply ${queues.join(' ')} ${payload.length}\r\n`), payload, Buffer.from('\r\nPING\r\n')]);
    const cuts: number[] = [];
    for (let c = 3; c < input.length; c += 997) cuts.push(c);
    const rec = feed(input, cuts);
    expect(rec.errors).toEqual([]);
    const ev = rec.events[0]!;
    expect(ev.slice(0, 6)).toEqual(['msg', null, '$G', 'big', 'reply', queues]);
    expect((ev[7] as string).length).toBe(payload.length);
    expect(rec.events[1]).toEqual(['ping']);
  });
});

describe('RouteParser: bad frames close the route with a reason', () => {
  const expectOneError = (rec: Recorder, code: string) => {
    expect(rec.errors).toHaveLength(1);
    expect(rec.errors[0]!.code).toBe(code);
    expect(rec.errors[0]!.closesConnection).toBe(true);
  };

  const cases: [string, string][] = [
    ['RS+ $G\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['RS+ $G foo q\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['RS+ $G foo q 1 extra\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['LS+ $G foo\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['RS-\t\r\n', ProtocolErrorCode.INVALID_REMOTE_UNSUB],
    ['RS- $G a b c\r\n', ProtocolErrorCode.INVALID_REMOTE_UNSUB],
    ['RMSG $G 5\r\nhello\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['RMSG $G foo x\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['RMSG $G foo -1\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['RMSG $G foo 1234567890\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['RMSG $G foo ? q 1\r\nx\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['RMSG $G foo ++ r q 1\r\nx\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['HMSG $G foo 5 4\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['HMSG $G foo x 4\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['HMSG $G 4\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['LMSG $G foo 0 2\r\nok\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    // A size that lies: the next bytes are not CRLF where the payload should end.
    ['RMSG $G foo 2\r\nhello\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['RMSG $G foo 9\r\nhi\r\nPING\r\n\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    // Client operations are not part of the route protocol.
    ['PUB foo 2\r\nok\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['SUB foo 1\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['MSG foo 1 2\r\nok\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['RS* $G foo\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['RMSGX $G foo 1\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ["-ERR 'Unknown Protocol Operation'\r\n", ProtocolErrorCode.PEER_ERROR],
  ];
  it.each(cases)('rejects %j', (proto, code) => {
    for (const rec of [whole(proto), byteAtATime(proto)]) expectOneError(rec, code);
  });

  it('bounds an oversized line', () => {
    const rec = new Recorder();
    const p = new RouteParser(rec);
    p.parse(bytes('RS+ $G '));
    const chunk = bytes('a'.repeat(64 * 1024));
    for (let i = 0; i < 40 && !p.closed; i++) p.parse(chunk);
    expect(p.closed).toBe(true);
    expectOneError(rec, ProtocolErrorCode.MAX_CONTROL_LINE);
    expect(rec.errors[0]!.message).toContain(String(ROUTE_MAX_CONTROL_LINE));
  });

  it('refuses a payload above what any nats-server may send', () => {
    expectOneError(whole('RMSG $G foo 999999999\r\n'), ProtocolErrorCode.MAX_PAYLOAD);
  });

  itFuzzesSplits(ROUTE_PROTOCOL, MIXED, 0xbad, 500);
});
