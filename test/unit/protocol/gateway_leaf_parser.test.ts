// The gateway and leaf kinds' parsers (op tables on the link parser): what a Go nats-server 2.9
// sends on each, parsed whole, a byte at a time and at random splits; bad frames reported once
// with a reason that closes the link; fuzzed input never reports twice or changes with splits.

import { describe, expect, it } from 'vitest';
import { GATEWAY_PROTOCOL } from '../../../src/protocol/gateway_parser.ts';
import { LEAF_PROTOCOL } from '../../../src/protocol/leaf_parser.ts';
import type { LinkProtocol } from '../../../src/protocol/route_parser.ts';
import { ProtocolErrorCode } from '../../../src/protocol/errors.ts';
import { bytes, everyByte, itParsesAnySplit } from './feed.ts';
import { feedLink, itFuzzesSplits } from './link_recorder.ts';
import type { Event, Recorder } from './link_recorder.ts';

// gateway.go: sendGatewayConnect, the INFO commands, sendSubsToGateway, sendAccountUnsubToGateway,
// sendMsgToGateways (RMSG with queue names and a mapped reply).
const GATEWAY =
  'CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"NAAA","gateway":"east"}\r\n' +
  'INFO {"server_id":"NAAA","gateway":"east","gateway_nrp":true,"gateway_iom":true}\r\n' +
  'INFO {"gateway":"east","gateway_cmd":2,"gateway_cmd_payload":"JEc="}\r\n' +
  'RS+ $G foo.>\r\n' +
  'RS+ $G work workers 1\r\n' +
  'RS- $G foo.>\r\n' +
  'RS- $G work workers\r\n' +
  'A- APP\r\n' +
  'A+ APP\r\n' +
  'PING\r\nPONG\r\n' +
  'RMSG $G foo.bar 5\r\nhello\r\n' +
  'RMSG $G svc _GR_.aaaaaa.bbbbbb._INBOX.x 2\r\nhi\r\n' +
  'RMSG $G work + _INBOX.y workers 3\r\nabc\r\n' +
  'RMSG $G work | workers 0\r\n\r\n' +
  'HMSG APP h + r q1 q2 12 12\r\nNATS/1.0\r\n\r\n\r\n' +
  'hmsg $G lower 12 13\r\nNATS/1.0\r\n\r\nx\r\n';

const GATEWAY_EVENTS: Event[] = [
  ['connect', '{"verbose":false,"pedantic":false,"tls_required":false,"name":"NAAA","gateway":"east"}'],
  ['info', '{"server_id":"NAAA","gateway":"east","gateway_nrp":true,"gateway_iom":true}'],
  ['info', '{"gateway":"east","gateway_cmd":2,"gateway_cmd_payload":"JEc="}'],
  ['rs+', null, '$G', 'foo.>', null, 0],
  ['rs+', null, '$G', 'work', 'workers', 1],
  ['rs-', '$G', 'foo.>', null],
  ['rs-', '$G', 'work', 'workers'],
  ['a', 'APP', false],
  ['a', 'APP', true],
  ['ping'],
  ['pong'],
  ['msg', null, '$G', 'foo.bar', null, [], -1, 'hello'],
  ['msg', null, '$G', 'svc', '_GR_.aaaaaa.bbbbbb._INBOX.x', [], -1, 'hi'],
  ['msg', null, '$G', 'work', '_INBOX.y', ['workers'], -1, 'abc'],
  ['msg', null, '$G', 'work', null, ['workers'], -1, ''],
  ['msg', null, 'APP', 'h', 'r', ['q1', 'q2'], 12, 'NATS/1.0\r\n\r\n'],
  ['msg', null, '$G', 'lower', null, [], 12, 'NATS/1.0\r\n\r\nx'],
];

// leafnode.go: sendLeafConnect, sendPermsAndAccountInfo, writeLeafSub (LS+ with a queue weight),
// msgHeaderForRouteOrLeaf for a LEAF (LMSG/HMSG without account).
const LEAF =
  'INFO {"server_id":"NHUB","leafnode_urls":["127.0.0.1:7422"],"client_id":3,"nonce":"abc","info_on_connect":true}\r\n' +
  'CONNECT {"version":"2.9.10","tls_required":false,"server_id":"NLEAF","name":"edge","headers":true}\r\n' +
  'LS+ foo.>\r\n' +
  'LS+ $LDS.abcdef\r\n' +
  'LS+ work workers 3\r\n' +
  'LS- foo.>\r\n' +
  'LS- work workers\r\n' +
  'PING\r\nPONG\r\n+OK\r\n' +
  'LMSG foo.bar 5\r\nhello\r\n' +
  'LMSG svc _INBOX.x 2\r\nhi\r\n' +
  'LMSG work + _INBOX.y workers other 3\r\nabc\r\n' +
  'LMSG work | workers 0\r\n\r\n' +
  'HMSG h _INBOX.z 12 14\r\nNATS/1.0\r\n\r\n{}\r\n' +
  'HMSG h | q1 12 12\r\nNATS/1.0\r\n\r\n\r\n';

const LEAF_EVENTS: Event[] = [
  ['info', '{"server_id":"NHUB","leafnode_urls":["127.0.0.1:7422"],"client_id":3,"nonce":"abc","info_on_connect":true}'],
  ['connect', '{"version":"2.9.10","tls_required":false,"server_id":"NLEAF","name":"edge","headers":true}'],
  ['rs+', null, '', 'foo.>', null, 0],
  ['rs+', null, '', '$LDS.abcdef', null, 0],
  ['rs+', null, '', 'work', 'workers', 3],
  ['rs-', '', 'foo.>', null],
  ['rs-', '', 'work', 'workers'],
  ['ping'],
  ['pong'],
  ['msg', null, null, 'foo.bar', null, [], -1, 'hello'],
  ['msg', null, null, 'svc', '_INBOX.x', [], -1, 'hi'],
  ['msg', null, null, 'work', '_INBOX.y', ['workers', 'other'], -1, 'abc'],
  ['msg', null, null, 'work', null, ['workers'], -1, ''],
  ['msg', null, null, 'h', '_INBOX.z', [], 12, 'NATS/1.0\r\n\r\n{}'],
  ['msg', null, null, 'h', null, ['q1'], 12, 'NATS/1.0\r\n\r\n'],
];

function suite(name: string, protocol: LinkProtocol, valid: string, events: Event[], bad: [string, string][], seed: number): void {
  const feed = (input: Uint8Array, cuts: number[]): Recorder => feedLink(protocol, input, cuts);
  describe(`${name} parser: operations`, () => {
    itParsesAnySplit(name, feed, valid, events, seed);
  });

  describe(`${name} parser: bad frames close the link with a reason`, () => {
    it.each(bad)('rejects %j', (proto, code) => {
      for (const rec of [feed(bytes(proto), []), feed(bytes(proto), everyByte(bytes(proto)))]) {
        expect(rec.errors).toHaveLength(1);
        expect(rec.errors[0]!.code).toBe(code);
        expect(rec.errors[0]!.closesConnection).toBe(true);
        expect(rec.errors[0]!.message.length).toBeGreaterThan(0);
      }
    });

    itFuzzesSplits(protocol, valid, seed ^ 0xbad, 400);
  });
}

suite(
  'gateway',
  GATEWAY_PROTOCOL,
  GATEWAY,
  GATEWAY_EVENTS,
  [
    ['RS+ $G\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['RS+ $G foo q\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['RS- $G a b c\r\n', ProtocolErrorCode.INVALID_REMOTE_UNSUB],
    ['A+\t\r\n', ProtocolErrorCode.INVALID_ACCOUNT_INTEREST],
    ['A- a b\r\n', ProtocolErrorCode.INVALID_ACCOUNT_INTEREST],
    ['RMSG $G 5\r\nhello\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['RMSG $G foo ? q 1\r\nx\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['HMSG $G foo 5 4\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['RMSG $G foo 2\r\nhello\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    // Leaf and client operations are not part of the gateway protocol.
    ['LS+ c $G foo\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['LMSG c $G foo 0 2\r\nok\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['PUB foo 2\r\nok\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['SUB foo 1\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ["-ERR 'Authorization Violation'\r\n", ProtocolErrorCode.PEER_ERROR],
  ],
  0x6a7e,
);

suite(
  'leaf',
  LEAF_PROTOCOL,
  LEAF,
  LEAF_EVENTS,
  [
    ['LS+\t\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['LS+ foo q\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['LS+ foo q 1 x\r\n', ProtocolErrorCode.INVALID_REMOTE_SUB],
    ['LS- a b c\r\n', ProtocolErrorCode.INVALID_REMOTE_UNSUB],
    ['LMSG 5\r\nhello\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['LMSG foo x\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['LMSG foo ? q 1\r\nx\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['HMSG foo 5 4\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['HMSG foo x 4\r\n', ProtocolErrorCode.INVALID_ROUTED_MSG],
    ['LMSG foo 9\r\nhi\r\nPING\r\n\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    // Route and gateway operations are not part of the leaf protocol.
    ['RS+ $G foo\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['RMSG $G foo 1\r\nx\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['A+ $G\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ['MSG foo 1 2\r\nok\r\n', ProtocolErrorCode.UNKNOWN_OPERATION],
    ["-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'\r\n", ProtocolErrorCode.PEER_ERROR],
  ],
  0x1eaf,
);
