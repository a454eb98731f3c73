import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CLIENT_OPS, ClientParser, CoreState, type ClientParserHandler, type PubArgs } from '../../../src/protocol/client_parser.ts';
import { ProtocolError, ProtocolErrorCode } from '../../../src/protocol/errors.ts';
import { bytes, everyByte, feedPieces, itParsesAnySplit } from './feed.ts';

type Event = readonly (string | number | null)[];

const text = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('latin1'));
const subjectOf = (a: PubArgs): string | null => text(a.src.subarray(a.subjectStart, a.subjectEnd));
const replyOf = (a: PubArgs): string | null => (a.replyStart < 0 ? null : text(a.src.subarray(a.replyStart, a.replyEnd)));

class Recorder implements ClientParserHandler {
  events: Event[] = [];
  errors: ProtocolError[] = [];
  pauseOnConnect = false;
  onConnect(json: Uint8Array): boolean {
    this.events.push(['connect', text(json)]);
    return this.pauseOnConnect;
  }
  onPub(args: PubArgs, payload: Uint8Array): void {
    this.events.push(['pub', subjectOf(args), replyOf(args), text(payload)]);
  }
  onHPub(args: PubArgs, headerSize: number, message: Uint8Array): void {
    this.events.push(['hpub', subjectOf(args), replyOf(args), headerSize, text(message)]);
  }
  onSub(subject: Uint8Array, queue: Uint8Array | null, sid: Uint8Array): void {
    this.events.push(['sub', text(subject), text(queue), text(sid)]);
  }
  onUnsub(sid: Uint8Array, max: number): void {
    this.events.push(['unsub', text(sid), max]);
  }
  onPing(): void {
    this.events.push(['ping']);
  }
  onPong(): void {
    this.events.push(['pong']);
  }
  onProtocolError(err: ProtocolError): void {
    this.errors.push(err);
    this.events.push(['error', err.code, err.errText]);
  }
}

const LIMITS = { maxPayload: 1024 * 1024, maxControlLine: 4096 };

function feed(input: Uint8Array, cuts: number[], limits = LIMITS): Recorder {
  const rec = new Recorder();
  const p = new ClientParser(rec, limits);
  feedPieces((chunk) => p.parse(chunk), input, cuts);
  return rec;
}

const whole = (s: string, limits = LIMITS) => feed(bytes(s), [], limits);
const byteAtATime = (s: string, limits = LIMITS) => feed(bytes(s), everyByte(bytes(s)), limits);

const MIXED =
  'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n' +
  'PING\r\n' +
  'SUB foo 1\r\n' +
  'SUB foo.* workers 2\r\n' +
  'PUB foo 5\r\nhello\r\n' +
  'PUB foo.bar _INBOX.abc 11\r\nhello world\r\n' +
  'PUB empty 0\r\n\r\n' +
  'HPUB foo 24 29\r\nNATS/1.0\r\nA: bcdefgh\r\n\r\nhello\r\n' +
  'HPUB foo reply.to 12 12\r\nNATS/1.0\r\n\r\n\r\n' +
  'pub lower 3\r\nabc\r\n' +
  'PUB\ttabbed\t \t2  \r\nok\r\n' +
  'UNSUB 1\r\n' +
  'UNSUB 2 10\r\n' +
  'unsub 3 x\r\n' +
  '+OK\r\n' +
  'PONG\r\n' +
  'ping\r\n' +
  'PING extra ignored\r\n' +
  'PUB bin 4\r\n\r\n\r\n\r\n' +
  'SUB a\tq\t\t9\r\n';

const MIXED_EVENTS: Event[] = [
  ['connect', '{"verbose":false,"pedantic":false,"headers":true}'],
  ['ping'],
  ['sub', 'foo', null, '1'],
  ['sub', 'foo.*', 'workers', '2'],
  ['pub', 'foo', null, 'hello'],
  ['pub', 'foo.bar', '_INBOX.abc', 'hello world'],
  ['pub', 'empty', null, ''],
  ['hpub', 'foo', null, 24, 'NATS/1.0\r\nA: bcdefgh\r\n\r\nhello'],
  ['hpub', 'foo', 'reply.to', 12, 'NATS/1.0\r\n\r\n'],
  ['pub', 'lower', null, 'abc'],
  ['pub', 'tabbed', null, 'ok'],
  ['unsub', '1', -1],
  ['unsub', '2', 10],
  ['unsub', '3', -1],
  ['pong'],
  ['ping'],
  ['ping'],
  ['pub', 'bin', null, '\r\n\r\n'],
  ['sub', 'a', 'q', '9'],
];

describe('ClientParser: operations', () => {
  itParsesAnySplit('client', feed, MIXED, MIXED_EVENTS, 0x5eed);

  it('accepts operations in any letter case', () => {
    const rec = whole('CoNnEcT {}\r\nPiNg\r\npOnG\r\nSuB a 1\r\nuNsUb 1\r\nhPuB a 0 1\r\nx\r\n+ok\r\n');
    expect(rec.events).toEqual([
      ['connect', '{}'],
      ['ping'],
      ['pong'],
      ['sub', 'a', null, '1'],
      ['unsub', '1', -1],
      ['hpub', 'a', null, 0, 'x'],
    ]);
  });

  it('takes CONNECT with no blank before the JSON, as nats-server', () => {
    expect(whole('CONNECT{"a":1}\r\n').events).toEqual([['connect', '{"a":1}']]);
  });

  it('parses PUB arguments with any mix of blanks (nats-server TestParsePubArg)', () => {
    const cases: [string, string, string | null, number][] = [
      [' foo 22', 'foo', null, 22],
      ['foo 22 ', 'foo', null, 22],
      ['  foo   bar  22  ', 'foo', 'bar', 22],
      ['\t \tfoo\t \t \tbar\t \t22\t \t', 'foo', 'bar', 22],
      ['\tfoo\t\t\t22\t', 'foo', null, 22],
    ];
    for (const [arg, subject, reply, size] of cases) {
      const rec = whole(`PUB ${arg}\r\n${'x'.repeat(size)}\r\n`);
      expect(rec.events).toEqual([['pub', subject, reply, 'x'.repeat(size)]]);
    }
  });

  it('splits a PUB line the same way whether it arrives whole or carried over reads', () => {
    // A line whole in one read takes a one-pass scan ("PUB "/"HPUB " a shortcut past the
    // keyword states); a carried line takes indexOf + tokenize. Every split must agree.
    const cases: [string, Event[]][] = [
      ['PUB foo 2 \r\nok\r\n', [['pub', 'foo', null, 'ok']]],
      ['PUB foo 2\nok\r\n', [['pub', 'foo', null, 'ok']]],
      ['PUB foo\t\tbar\t2\t\r\nok\r\n', [['pub', 'foo', 'bar', 'ok']]],
      ['HPUB foo bar 0 2 \r\nok\r\n', [['hpub', 'foo', 'bar', 0, 'ok']]],
      // nats-server splits PUB arguments on blanks only: a CR inside the line is a token byte.
      ['PUB foo\rx 2\r\nok\r\n', [['pub', 'foo\rx', null, 'ok']]],
      ['PUB foo \r 2\r\nok\r\n', [['pub', 'foo', '\r', 'ok']]],
      ['PUB foo 2\r\r\nok\r\n', [['error', ProtocolErrorCode.INVALID_PUB, null]]],
      ['PUB a b c d e f 2\r\nok\r\n', [['error', ProtocolErrorCode.INVALID_PUB, null]]],
      ['HPUB a b c d e f 2\r\nok\r\n', [['error', ProtocolErrorCode.INVALID_HPUB, null]]],
      ['PUB a b c 2\r\nok\r\n', [['error', ProtocolErrorCode.INVALID_PUB, null]]],
      ['PUB a 0\r\n\r\nPUB b 1\r\nx\r\n', [['pub', 'a', null, ''], ['pub', 'b', null, 'x']]],
      // "PUB " whole in a read skips the keyword states; any case, tab, extra blanks.
      ['pUb\t \tfoo 2\r\nok\r\n', [['pub', 'foo', null, 'ok']]],
      ['PUB  \r\n', [['error', ProtocolErrorCode.INVALID_PUB, null]]],
      ['PUBX foo 2\r\nok\r\n', [['error', ProtocolErrorCode.UNKNOWN_OPERATION, 'Unknown Protocol Operation']]],
      ['PUSH foo 2\r\nok\r\n', [['error', ProtocolErrorCode.UNKNOWN_OPERATION, 'Unknown Protocol Operation']]],
      ['hPuB \t foo 0 2\r\nok\r\n', [['hpub', 'foo', null, 0, 'ok']]],
      ['HPUB \r\n', [['error', ProtocolErrorCode.INVALID_HPUB, null]]],
      ['HPUX foo 0 2\r\nok\r\n', [['error', ProtocolErrorCode.UNKNOWN_OPERATION, 'Unknown Protocol Operation']]],
    ];
    for (const [proto, events] of cases) {
      const input = bytes(proto);
      expect(whole(proto).events, proto).toEqual(events);
      for (let cut = 0; cut <= input.length; cut++) expect(feed(input, [cut]).events, `${proto} @${cut}`).toEqual(events);
      expect(byteAtATime(proto).events, proto).toEqual(events);
    }
  });

  it('parses HPUB header and total sizes', () => {
    const hdr = 'NATS/1.0\r\nK: v\r\n\r\n';
    const msg = `${hdr}body`;
    const rec = whole(`HPUB s r ${hdr.length} ${msg.length}\r\n${msg}\r\n`);
    expect(rec.events).toEqual([['hpub', 's', 'r', hdr.length, msg]]);
    // Header-only message: hdr_len == total_len.
    expect(whole(`HPUB s ${hdr.length} ${hdr.length}\r\n${hdr}\r\n`).events).toEqual([['hpub', 's', null, hdr.length, hdr]]);
  });

  it('carries a large payload split over many chunks', () => {
    const size = 300_000;
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
    const input = Buffer.concat([Buffer.from(`PUB big reply 300000\r\n`), payload, Buffer.from('\r\nPING\r\n')]);
    const cuts: number[] = [];
    for (let c = 5; c < input.length; c += 4093) cuts.push(c);
    let got: Uint8Array | null = null;
    const rec = new Recorder();
    rec.onPub = (args, p) => {
      rec.events.push(['pub', subjectOf(args), replyOf(args), p.length]);
      got = p.slice();
    };
    const parser = new ClientParser(rec, LIMITS);
    let prev = 0;
    for (const c of [...cuts, input.length]) {
      parser.parse(input.subarray(prev, c));
      prev = c;
    }
    expect(rec.events).toEqual([['pub', 'big', 'reply', size], ['ping']]);
    expect(Buffer.from(got!).equals(payload)).toBe(true);
  });

  it('keeps each split message intact when scratch buffers are reused', () => {
    // Two split messages in a row, the second with a longer subject, must not bleed into each other.
    const input = 'PUB a.b.c r1 3\r\nabc\r\nPUB a.much.longer.subject 4\r\nwxyz\r\n';
    expect(byteAtATime(input).events).toEqual([
      ['pub', 'a.b.c', 'r1', 'abc'],
      ['pub', 'a.much.longer.subject', null, 'wxyz'],
    ]);
  });

  it('tracks the nats-server states for +OK fed byte by byte', () => {
    const p = new ClientParser(new Recorder(), LIMITS);
    const seen: number[] = [];
    for (const b of bytes('+OK\r\n')) {
      p.parse(Uint8Array.of(b));
      seen.push(p.state);
    }
    const at = (prefix: string) => CLIENT_OPS.stateOf(prefix);
    expect(seen).toEqual([at('+'), at('+O'), at('+OK'), at('+OK'), CoreState.OP_START]);
  });
});

describe('ClientParser: errors', () => {
  const expectError = (rec: Recorder, code: string, errText: string | null) => {
    expect(rec.errors).toHaveLength(1);
    expect(rec.errors[0]!.code).toBe(code);
    expect(rec.errors[0]!.errText).toBe(errText);
    expect(rec.errors[0]!.closesConnection).toBe(true);
  };

  // nats-server TestShouldFail, client part.
  const wrongProtos = [
    'xxx', 'Px', 'PIx', 'PINx', ' PING', 'POx', 'PONx', '+x', '+Ox', '-x', '-Ex', '-ERx', '-ERRx',
    'Cx', 'COx', 'CONx', 'CONNx', 'CONNEx', 'CONNECx', 'PUx', 'PUB foo\r\n', 'PUB  \r\n',
    'PUB foo bar       \r\n', 'PUB foo 2\r\nok \r\n', 'PUB foo 2\r\nok\r \n', 'Sx', 'SUx', 'SUB\r\n', 'SUB  \r\n',
    'SUB foo\r\n', 'SUB foo bar baz 22\r\n', 'Ux', 'UNx', 'UNSx', 'UNSUx', 'UNSUBx', 'UNSUBUNSUB 1\r\n', 'UNSUB_2\r\n',
    'UNSUB_UNSUB_UNSUB 2\r\n', 'UNSUB_\t2\r\n', 'UNSUB\r\n', 'UNSUB \r\n', 'UNSUB          \t       \r\n',
    'Ix', 'INx', 'INFx', 'INFO  \r\n', 'Mx', 'MSG foo 1 2\r\n', 'HMSG foo 1 2 3\r\n', 'RS+ foo\r\n', '\r\n',
  ];
  it.each(wrongProtos)('rejects %j', (proto) => {
    for (const rec of [whole(proto), byteAtATime(proto)]) {
      expect(rec.errors).toHaveLength(1);
      expect(rec.errors[0]!.closesConnection).toBe(true);
    }
  });

  it('reports an unknown operation with the nats-server text', () => {
    const rec = whole('PING\r\nFOO\r\nPING\r\n');
    expect(rec.events).toEqual([['ping'], ['error', ProtocolErrorCode.UNKNOWN_OPERATION, 'Unknown Protocol Operation']]);
    expect(rec.errors[0]!.closeReason).toBe('Protocol Violation');
  });

  it('stops after an error and ignores later input', () => {
    const rec = new Recorder();
    const p = new ClientParser(rec, LIMITS);
    p.parse(bytes('BAD\r\n'));
    p.parse(bytes('PING\r\n'));
    expect(p.closed).toBe(true);
    expect(rec.events).toHaveLength(1);
  });

  it('reports a payload longer than announced as an unknown operation', () => {
    for (const rec of [whole('PUB foo.bar 11\r\nhello world hello world\r\n'), byteAtATime('PUB foo 2\r\nokx\r\n')]) {
      expectError(rec, ProtocolErrorCode.UNKNOWN_OPERATION, 'Unknown Protocol Operation');
    }
  });

  it('enforces max_payload with the nats-server text before reading the payload', () => {
    const limits = { maxPayload: 10, maxControlLine: 4096 };
    expect(whole('PUB foo 10\r\n0123456789\r\n', limits).events).toEqual([['pub', 'foo', null, '0123456789']]);
    const rec = whole('PUB foo 11\r\n', limits);
    expectError(rec, ProtocolErrorCode.MAX_PAYLOAD, 'Maximum Payload Violation');
    expect(rec.errors[0]!.closeReason).toBe('Maximum Message Payload Exceeded');
    // HPUB counts headers and body together.
    expectError(whole('HPUB foo 5 11\r\n', limits), ProtocolErrorCode.MAX_PAYLOAD, 'Maximum Payload Violation');
    // A negative limit means none.
    expect(whole('PUB foo 11\r\n01234567890\r\n', { maxPayload: -1, maxControlLine: 4096 }).errors).toEqual([]);
  });

  it('enforces max_control_line on whole and split lines (nats-server TestMaxControlLine)', () => {
    const limits = { maxPayload: 1024, maxControlLine: 8 };
    const pub = 'PUB foo.bar.baz 2\r\nok\r\n';
    // Partial line only: caught at the end of the read.
    const partial = feed(bytes(pub.slice(0, 14)), [], limits);
    expectError(partial, ProtocolErrorCode.MAX_CONTROL_LINE, 'maximum control line exceeded');
    expect(partial.errors[0]!.closeReason).toBe('Maximum Control Line Exceeded');
    expectError(whole(pub, limits), ProtocolErrorCode.MAX_CONTROL_LINE, 'maximum control line exceeded');
    expectError(byteAtATime(pub, limits), ProtocolErrorCode.MAX_CONTROL_LINE, 'maximum control line exceeded');
    // Exactly at the limit is fine; the CR is not counted.
    expect(byteAtATime('SUB abcdef 1\r\n', limits).events).toEqual([['sub', 'abcdef', null, '1']]);
    expect(byteAtATime('SUB abcdefg 1\r\n', limits).errors).toHaveLength(1);
    // CONNECT lines are limited too.
    expect(whole('CONNECT {"verbose":true}\r\n', limits).errors[0]!.code).toBe(ProtocolErrorCode.MAX_CONTROL_LINE);
  });

  it('bounds the memory of an endless control line', () => {
    const rec = new Recorder();
    const p = new ClientParser(rec, { maxPayload: 1024, maxControlLine: 100 });
    p.parse(bytes('SUB '));
    for (let i = 0; i < 20 && !p.closed; i++) p.parse(bytes('aaaaaaaaaa'));
    expect(p.closed).toBe(true);
    expect(rec.errors[0]!.code).toBe(ProtocolErrorCode.MAX_CONTROL_LINE);
  });

  it('rejects bad PUB and HPUB arguments without an -ERR text (connection closed as protocol violation)', () => {
    const cases: [string, string][] = [
      ['PUB foo\r\n', ProtocolErrorCode.INVALID_PUB],
      ['PUB foo bar baz 2\r\n', ProtocolErrorCode.INVALID_PUB],
      ['PUB foo -1\r\n', ProtocolErrorCode.INVALID_PUB],
      ['PUB foo 3333333333333333333333333333333333\r\n', ProtocolErrorCode.INVALID_PUB],
      ['PUB foo 1234567890\r\n', ProtocolErrorCode.INVALID_PUB], // more than 9 digits
      ['HPUB foo 2\r\n', ProtocolErrorCode.INVALID_HPUB],
      ['HPUB foo x 2\r\n', ProtocolErrorCode.INVALID_HPUB],
      ['HPUB foo 2 y\r\n', ProtocolErrorCode.INVALID_HPUB],
      ['HPUB foo 5 4\r\n', ProtocolErrorCode.INVALID_HPUB],
      ['SUB foo\r\n', ProtocolErrorCode.INVALID_SUB],
      ['UNSUB\t \r\n', ProtocolErrorCode.INVALID_UNSUB],
      ['UNSUB 1 2 3\r\n', ProtocolErrorCode.INVALID_UNSUB],
      ['INFO {not json\r\n', ProtocolErrorCode.INVALID_INFO],
    ];
    for (const [proto, code] of cases) {
      const rec = whole(proto);
      expectError(rec, code, null);
      expect(rec.errors[0]!.closeReason).toBe('Protocol Violation');
    }
  });

  it('ignores a valid INFO from a client and closes on -ERR, as nats-server', () => {
    expect(whole('INFO {"a":1}\r\nPING\r\n').events).toEqual([['ping']]);
    const rec = whole("-ERR 'oops'\r\nPING\r\n");
    expectError(rec, ProtocolErrorCode.PEER_ERROR, null);
    expect(rec.errors[0]!.message).toContain("'oops'");
    expect(rec.errors[0]!.closeReason).toBe('Parse Error');
  });

  it('reports the same callbacks and error for any split of bad input (seeded)', () => {
    const inputs = [
      MIXED + 'PUB foo 3\r\nabcd\r\n',
      MIXED + 'SUB onlysubject\r\n',
      MIXED + 'PUB foo 2000000\r\n',
      MIXED + 'ZAP\r\n',
      MIXED + `SUB ${'x'.repeat(5000)} 1\r\n`,
    ];
    for (const s of inputs) {
      const input = bytes(s);
      const expected = feed(input, []).events;
      expect(expected.at(-1)![0]).toBe('error');
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: input.length }), { maxLength: 30 }), (cuts) => {
          expect(feed(input, cuts).events).toEqual(expected);
        }),
        { seed: 42, numRuns: 100 },
      );
    }
  });
});

describe('ClientParser: pause and resume', () => {
  it('pauses after CONNECT and queues input until resume', () => {
    const rec = new Recorder();
    rec.pauseOnConnect = true;
    const p = new ClientParser(rec, LIMITS);
    p.parse(bytes('CONNECT {}\r\nPING\r\nPUB a 1\r\n'));
    expect(p.paused).toBe(true);
    expect(rec.events).toEqual([['connect', '{}']]);
    const more = bytes('x\r\nPONG\r\n');
    p.parse(more);
    more.fill(0); // the parser must have copied what it queued
    expect(rec.events).toHaveLength(1);
    rec.pauseOnConnect = false;
    p.resume();
    expect(p.paused).toBe(false);
    expect(rec.events).toEqual([['connect', '{}'], ['ping'], ['pub', 'a', null, 'x'], ['pong']]);
  });

  it('pauses mid-buffer in the middle of split input and resumes exactly there', () => {
    const input = bytes('PING\r\nCONNECT {"x":1}\r\nSUB a 1\r\nPUB a 3\r\nabc\r\n');
    for (let cut = 0; cut <= input.length; cut++) {
      const rec = new Recorder();
      rec.pauseOnConnect = true;
      const p = new ClientParser(rec, LIMITS);
      p.parse(input.slice(0, cut));
      p.parse(input.slice(cut));
      expect(rec.events).toEqual([['ping'], ['connect', '{"x":1}']]);
      p.resume();
      expect(rec.events).toEqual([['ping'], ['connect', '{"x":1}'], ['sub', 'a', null, '1'], ['pub', 'a', null, 'abc']]);
    }
  });

  it('lets a handler pause from any callback and resume synchronously', () => {
    const rec = new Recorder();
    const p = new ClientParser(rec, LIMITS);
    rec.onPing = () => {
      rec.events.push(['ping']);
      p.pause();
      p.resume();
    };
    p.parse(bytes('PING\r\nPONG\r\n'));
    expect(rec.events).toEqual([['ping'], ['pong']]);
  });

  it('queues input fed re-entrantly from a callback after the current buffer', () => {
    const rec = new Recorder();
    const p = new ClientParser(rec, LIMITS);
    rec.onPing = () => {
      rec.events.push(['ping']);
      if (rec.events.length === 1) p.parse(bytes('SUB late 1\r\n'));
    };
    p.parse(bytes('PING\r\nPONG\r\n'));
    expect(rec.events).toEqual([['ping'], ['pong'], ['sub', 'late', null, '1']]);
  });

  it('stops when a handler closes the parser', () => {
    const rec = new Recorder();
    const p = new ClientParser(rec, LIMITS);
    rec.onSub = (s) => {
      rec.events.push(['sub', text(s)]);
      p.close();
    };
    p.parse(bytes('SUB a 1\r\nSUB b 2\r\n'));
    expect(rec.events).toEqual([['sub', 'a']]);
    expect(p.closed).toBe(true);
  });

  it('applies new limits from setLimits', () => {
    const rec = new Recorder();
    const p = new ClientParser(rec, LIMITS);
    p.parse(bytes('PUB a 5\r\nhello\r\n'));
    p.setLimits({ maxPayload: 4, maxControlLine: 4096 });
    p.parse(bytes('PUB a 5\r\n'));
    expect(rec.events).toEqual([['pub', 'a', null, 'hello'], ['error', ProtocolErrorCode.MAX_PAYLOAD, 'Maximum Payload Violation']]);
  });
});

describe('ClientParser: generated operation streams', () => {
  const token = fc.stringMatching(/^[a-zA-Z0-9_]{1,6}$/);
  const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
  const payload = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'));
  const blanks = fc.constantFrom(' ', '\t', '  ', ' \t ');
  const op: fc.Arbitrary<[string, Event]> = fc.oneof(
    fc.tuple(subject, fc.option(subject, { nil: null }), payload, blanks).map(([s, r, p, b]): [string, Event] => [
      `PUB${b}${s}${b}${r === null ? '' : r + b}${p.length}\r\n${p}\r\n`,
      ['pub', s, r, p],
    ]),
    fc.tuple(subject, fc.option(subject, { nil: null }), payload, payload).map(([s, r, h, p]): [string, Event] => {
      const hdr = `NATS/1.0\r\n${h}`;
      return [`HPUB ${s} ${r === null ? '' : r + ' '}${hdr.length} ${hdr.length + p.length}\r\n${hdr}${p}\r\n`, ['hpub', s, r, hdr.length, hdr + p]];
    }),
    fc.tuple(subject, fc.option(token, { nil: null }), fc.nat(9999)).map(([s, q, sid]): [string, Event] => [
      `SUB ${s} ${q === null ? '' : q + ' '}${sid}\r\n`,
      ['sub', s, q, String(sid)],
    ]),
    fc.tuple(fc.nat(9999), fc.option(fc.nat(999), { nil: null })).map(([sid, max]): [string, Event] => [
      `UNSUB ${sid}${max === null ? '' : ' ' + max}\r\n`,
      ['unsub', String(sid), max ?? -1],
    ]),
    fc.constant<[string, Event]>(['PING\r\n', ['ping']]),
    fc.constant<[string, Event]>(['PONG\r\n', ['pong']]),
    fc.constant<[string, Event]>(['CONNECT {"echo":true}\r\n', ['connect', '{"echo":true}']]),
  );

  it('reports exactly the generated operations for any split (seeded)', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), fc.array(fc.nat(), { maxLength: 20 }), (ops, rawCuts) => {
        const input = bytes(ops.map(([s]) => s).join(''));
        const cuts = rawCuts.map((c) => c % (input.length + 1));
        const rec = feed(input, cuts);
        expect(rec.errors).toEqual([]);
        expect(rec.events).toEqual(ops.map(([, e]) => e));
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
