// The gateway kind's parser: what a server of another cluster sends on the gateway port
// (nats-server's gateway.go and parser.go for the GATEWAY kind) — INFO (with the gateway
// commands), CONNECT, PING, PONG, +OK, -ERR, interest (RS+/RS-), account interest (A+/A-) and
// routed messages (RMSG, HMSG) — as an op table on the link parser routes use. Unlike a route,
// a gateway has no LS+/LS-/LMSG: leaf origin clusters stay inside their cluster.

import { ArgForm } from './parser_core.ts';
import { LinkOp, LinkProtocol } from './route_parser.ts';

export const GATEWAY_PROTOCOL = new LinkProtocol('Gateway', true, [
  { keyword: 'RMSG', form: ArgForm.MSG, blank: true, fast: true, minArgs: 3, check: true, link: LinkOp.MSG, func: 'processRoutedMsgArgs' },
  { keyword: 'HMSG', form: ArgForm.MSG, blank: true, fast: true, minArgs: 4, headers: true, check: true, link: LinkOp.HMSG, func: 'processRoutedHeaderMsgArgs' },
  { keyword: 'RS+', form: ArgForm.LINE, blank: true, link: LinkOp.SUB, func: 'processGatewaySubjectSub' },
  { keyword: 'RS-', form: ArgForm.LINE, blank: true, link: LinkOp.UNSUB, func: 'processGatewaySubjectUnsub' },
  { keyword: 'A+', form: ArgForm.LINE, blank: true, link: LinkOp.ACCOUNT_SUB },
  { keyword: 'A-', form: ArgForm.LINE, blank: true, link: LinkOp.ACCOUNT_UNSUB },
  { keyword: 'INFO', form: ArgForm.LINE, blank: false, link: LinkOp.INFO },
]);
