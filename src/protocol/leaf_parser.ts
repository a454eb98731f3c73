// The leaf kind's parser: what a leaf node or its hub sends on a leaf connection (nats-server's
// leafnode.go and parser.go for the LEAF kind) — INFO, CONNECT, PING, PONG, +OK, -ERR,
// interest (LS+ <subject> [<queue> <weight>], LS-) and messages (LMSG, HMSG with headers) —
// as an op table on the link parser routes use. A leaf connection is bound to one account on
// each side, so nothing names an account:
//
//   LMSG <subject> [<reply> | + <reply> <queues..> | | <queues..>] <size>
//   HMSG <subject> [...] <header size> <total size>

import { ArgForm } from './parser_core.ts';
import { LinkOp, LinkProtocol } from './route_parser.ts';

export const LEAF_PROTOCOL = new LinkProtocol('Leafnode', false, [
  { keyword: 'LMSG', form: ArgForm.MSG, blank: true, fast: true, minArgs: 2, check: true, link: LinkOp.MSG, func: 'processLeafMsgArgs' },
  { keyword: 'HMSG', form: ArgForm.MSG, blank: true, fast: true, minArgs: 3, headers: true, check: true, link: LinkOp.HMSG, func: 'processLeafHeaderMsgArgs' },
  { keyword: 'LS+', form: ArgForm.LINE, blank: true, link: LinkOp.SUB, func: 'processLeafSub' },
  { keyword: 'LS-', form: ArgForm.LINE, blank: true, link: LinkOp.UNSUB, func: 'processLeafUnsub' },
  { keyword: 'INFO', form: ArgForm.LINE, blank: false, link: LinkOp.INFO },
]);
