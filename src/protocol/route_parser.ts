// What one server sends another on a link, on the shared parser core: the route kind's
// operations (nats-server's route.go and parser.go) — INFO, CONNECT, PING, PONG, +OK, -ERR,
// interest (RS+/RS-, leaf interest LS+/LS-, gateway A+/A- accepted and ignored) and routed
// messages (RMSG, HMSG with headers, LMSG with a leaf origin cluster) — and the LinkParser the
// gateway and leaf kinds share: each link kind is an op table that says what its keywords mean
// (a message, interest, account interest) and how many tokens come before a subject (origin,
// account), not a copy of this parser.
//
// A routed message names its account and may carry a reply and the queue groups the receiver
// should serve: `RMSG <account> <subject> [<reply> | + <reply> <queues..> | | <queues..>] <size>`.
// A leaf connection is bound to one account, so its LMSG/HMSG and LS+/LS- carry none.

import { parseSize } from './bytes.ts';
import { ProtocolErrorCode } from './errors.ts';
import { ArgForm, COMMON_OPS, MsgLineError, OpTable, ParserCore, SCAN_TOKENS } from './parser_core.ts';
import type { CoreHandler, OpSpec } from './parser_core.ts';

/**
 * nats-server sets no control-line limit on routes; a route line still ends somewhere, so an
 * endless one cannot grow memory: 1 MiB holds thousands of queue names.
 */
export const ROUTE_MAX_CONTROL_LINE = 1024 * 1024;
/** nats-server's ceiling for max_payload (64 MiB): no peer can legitimately send more. */
export const ROUTE_MAX_PAYLOAD = 64 * 1024 * 1024;

/** What a link operation means, whatever its keyword. */
export const LinkOp = {
  /** A message without headers. */
  MSG: 0,
  /** A message with headers. */
  HMSG: 1,
  /** A route's LMSG: origin cluster, account, and always a header size. */
  ORIGIN_MSG: 2,
  SUB: 3,
  /** A route's LS+: interest with the leaf origin cluster first. */
  ORIGIN_SUB: 4,
  UNSUB: 5,
  /** A gateway's A+/A- (account interest). */
  ACCOUNT_SUB: 6,
  ACCOUNT_UNSUB: 7,
  INFO: 8,
  /** A+/A- on a route: nats-server ignores them. */
  IGNORED: 9,
} as const;
export type LinkOp = (typeof LinkOp)[keyof typeof LinkOp];

export interface LinkOpSpec extends OpSpec {
  readonly link: LinkOp;
}

/** A link kind's protocol: its op table and what each operation means. */
export class LinkProtocol {
  readonly table: OpTable;
  /** Per operation: its LinkOp. */
  readonly meaning: Uint8Array;
  /** Per operation: the tokens before the subject (origin, account). */
  readonly lead: Uint8Array;
  /** How logs name the peer ("Route", "Gateway", "Leafnode"). */
  readonly peerName: string;
  /** Interest and messages name their account (routes, gateways; not leafs). */
  readonly accounts: boolean;
  /** nats-server's function names in its message and interest errors, by op. */
  readonly funcs: readonly string[];

  constructor(peerName: string, accounts: boolean, ops: readonly (LinkOpSpec & { func?: string })[]) {
    this.peerName = peerName;
    this.accounts = accounts;
    this.table = new OpTable([...ops, ...COMMON_OPS]);
    this.meaning = Uint8Array.from(ops, (o) => o.link);
    const base = accounts ? 1 : 0;
    this.lead = Uint8Array.from(ops, (o) => (o.link === LinkOp.ORIGIN_MSG ? base + 1 : base));
    this.funcs = ops.map((o) => o.func ?? o.keyword);
  }
}

/** The route operations. */
export const ROUTE_PROTOCOL = new LinkProtocol('Route', true, [
  // <account> <subject> [reply | + reply queues.. | | queues..] <size>; HMSG adds a header size,
  // LMSG starts with the origin cluster and always has one.
  { keyword: 'RMSG', form: ArgForm.MSG, blank: true, fast: true, minArgs: 3, check: true, link: LinkOp.MSG, func: 'processRoutedMsgArgs' },
  { keyword: 'HMSG', form: ArgForm.MSG, blank: true, fast: true, minArgs: 4, headers: true, check: true, link: LinkOp.HMSG, func: 'processRoutedHeaderMsgArgs' },
  { keyword: 'LMSG', form: ArgForm.MSG, blank: true, minArgs: 5, headers: true, check: true, link: LinkOp.ORIGIN_MSG, func: 'processRoutedOriginClusterMsgArgs' },
  { keyword: 'RS+', form: ArgForm.LINE, blank: true, link: LinkOp.SUB, func: 'processRemoteSub' },
  { keyword: 'RS-', form: ArgForm.LINE, blank: true, link: LinkOp.UNSUB, func: 'processRemoteUnsub' },
  { keyword: 'LS+', form: ArgForm.LINE, blank: true, link: LinkOp.ORIGIN_SUB, func: 'processRemoteSub' },
  { keyword: 'LS-', form: ArgForm.LINE, blank: true, link: LinkOp.UNSUB, func: 'processRemoteUnsub' },
  // Account interest (A+/A-) is a gateway matter: nats-server ignores it on routes.
  { keyword: 'A+', form: ArgForm.LINE, blank: true, link: LinkOp.IGNORED },
  { keyword: 'A-', form: ArgForm.LINE, blank: true, link: LinkOp.IGNORED },
  { keyword: 'INFO', form: ArgForm.LINE, blank: false, link: LinkOp.INFO },
]);

/**
 * Where a routed message's fields lie in `src` (offsets; -1 when absent). Queue names are
 * tokens `queueFirst .. queueFirst + queueCount - 1` of `tokStart`/`tokEnd`. The parser reuses
 * one instance: it is valid only during the callback.
 */
export interface RoutedMsgArgs {
  readonly src: Uint8Array;
  /** LMSG on a route only: the leaf's origin cluster. */
  readonly originStart: number;
  readonly originEnd: number;
  /** -1 on a leaf connection (its account is the one it is bound to). */
  readonly accountStart: number;
  readonly accountEnd: number;
  readonly subjectStart: number;
  readonly subjectEnd: number;
  readonly replyStart: number;
  readonly replyEnd: number;
  readonly queueFirst: number;
  readonly queueCount: number;
  readonly tokStart: Int32Array;
  readonly tokEnd: Int32Array;
}

class PendingRoutedMsg implements RoutedMsgArgs {
  src: Uint8Array = new Uint8Array(0);
  originStart = -1;
  originEnd = -1;
  accountStart = 0;
  accountEnd = 0;
  subjectStart = 0;
  subjectEnd = 0;
  replyStart = -1;
  replyEnd = -1;
  queueFirst = 0;
  queueCount = 0;
  tokStart: Int32Array = new Int32Array(0);
  tokEnd: Int32Array = new Int32Array(0);
}

/** RS+/RS-/LS+/LS- arguments as views valid during the callback; queue null for plain interest. */
export interface RemoteInterest {
  /** LS+ on a route only: the leaf's origin cluster. */
  origin: Uint8Array | null;
  /** Empty on a leaf connection. */
  account: Uint8Array;
  subject: Uint8Array;
  queue: Uint8Array | null;
  /** RS+/LS+ of a queue group: how many members the remote has (nats-server's weight). */
  weight: number;
}

export interface RouteParserHandler extends CoreHandler {
  onInfo(json: Uint8Array): void;
  /** RS+ (origin null) or LS+. */
  onRemoteSub(interest: RemoteInterest): void;
  /** RS- or LS-. */
  onRemoteUnsub(interest: RemoteInterest): void;
  /** RMSG (`headerSize` -1), HMSG or LMSG: `message` is headers then body. */
  onRoutedMsg(args: RoutedMsgArgs, headerSize: number, message: Uint8Array): void;
  /** A+ (`present`) or A- on a gateway: the remote's interest in a whole account. */
  onAccountInterest?(account: Uint8Array, present: boolean): void;
}

const PLUS = 0x2b;
const BAR = 0x7c;
const MSG_ERRORS = ['Parse Error', 'Bad or Missing Size', 'Bad or Missing Header Size', 'Bad or Missing Size', 'Header Size larger then TotalSize'];

/** The parser every server-to-server link kind runs, with that kind's protocol. */
export class LinkParser extends ParserCore {
  private readonly handler: RouteParserHandler;
  private readonly protocol: LinkProtocol;
  private readonly lead: Uint8Array;
  private readonly msg = new PendingRoutedMsg();
  private readonly interest: RemoteInterest = { origin: null, account: new Uint8Array(0), subject: new Uint8Array(0), queue: null, weight: 0 };

  constructor(handler: RouteParserHandler, protocol: LinkProtocol = ROUTE_PROTOCOL) {
    super(protocol.table, protocol.peerName, { maxPayload: ROUTE_MAX_PAYLOAD, maxControlLine: ROUTE_MAX_CONTROL_LINE }, handler);
    this.handler = handler;
    this.protocol = protocol;
    this.lead = protocol.lead;
  }

  protected onLineOp(op: number, src: Uint8Array, start: number, end: number): void {
    switch (this.protocol.meaning[op]) {
      case LinkOp.SUB:
        this.remoteSub(op, false, src, start, end);
        return;
      case LinkOp.ORIGIN_SUB:
        this.remoteSub(op, true, src, start, end);
        return;
      case LinkOp.UNSUB:
        this.remoteUnsub(op, src, start, end);
        return;
      case LinkOp.ACCOUNT_SUB:
      case LinkOp.ACCOUNT_UNSUB:
        this.accountInterest(op, src, start, end);
        return;
      case LinkOp.INFO:
        this.handler.onInfo(src.subarray(start, end));
        return;
      default: // IGNORED
        return;
    }
  }

  /** `[<origin>] [<account>] <subject> [<queue> <weight>]`. */
  private remoteSub(op: number, hasOrigin: boolean, src: Uint8Array, start: number, end: number): void {
    const n = this.tokenize(src, start, end, true);
    const acc = this.protocol.accounts ? 1 : 0;
    const off = (hasOrigin ? 1 : 0) + acc;
    if (n !== 1 + off && n !== 3 + off) {
      this.badArgs(ProtocolErrorCode.INVALID_REMOTE_SUB, `${this.protocol.funcs[op]} Parse Error`, src, start, end);
      return;
    }
    const ts = this.tokStart;
    const te = this.tokEnd;
    const it = this.interest;
    it.origin = hasOrigin ? src.subarray(ts[0]!, te[0]!) : null;
    it.account = acc ? src.subarray(ts[off - 1]!, te[off - 1]!) : EMPTY;
    it.subject = src.subarray(ts[off]!, te[off]!);
    it.queue = n === 3 + off ? src.subarray(ts[off + 1]!, te[off + 1]!) : null;
    // nats-server takes an unreadable weight as -1: such a member is never picked.
    it.weight = it.queue === null ? 0 : Math.max(0, parseSize(src, ts[off + 2]!, te[off + 2]!));
    this.handler.onRemoteSub(it);
  }

  /** `[<account>] <subject> [<queue>]` (a route's LS- has no origin). */
  private remoteUnsub(op: number, src: Uint8Array, start: number, end: number): void {
    const n = this.tokenize(src, start, end, true);
    const acc = this.protocol.accounts ? 1 : 0;
    if (n !== 1 + acc && n !== 2 + acc) {
      this.badArgs(ProtocolErrorCode.INVALID_REMOTE_UNSUB, `${this.protocol.funcs[op]} parse error`, src, start, end);
      return;
    }
    const ts = this.tokStart;
    const te = this.tokEnd;
    const it = this.interest;
    it.origin = null;
    it.account = acc ? src.subarray(ts[0]!, te[0]!) : EMPTY;
    it.subject = src.subarray(ts[acc]!, te[acc]!);
    it.queue = n === 2 + acc ? src.subarray(ts[acc + 1]!, te[acc + 1]!) : null;
    it.weight = 0;
    this.handler.onRemoteUnsub(it);
  }

  /** `A+ <account>` / `A- <account>`. */
  private accountInterest(op: number, src: Uint8Array, start: number, end: number): void {
    const n = this.tokenize(src, start, end, true);
    if (n !== 1) {
      this.badArgs(ProtocolErrorCode.INVALID_ACCOUNT_INTEREST, `${this.protocol.table.ops[op]!.keyword} parse error`, src, start, end);
      return;
    }
    this.handler.onAccountInterest?.(src.subarray(this.tokStart[0]!, this.tokEnd[0]!), this.protocol.meaning[op] === LinkOp.ACCOUNT_SUB);
  }

  /**
   * Records every token of a line with a long queue list, and checks the reply indicator of a
   * line with queues: '+' (a reply follows) or '|' (queues only).
   */
  protected override checkMsgLine(op: number, src: Uint8Array, start: number, end: number, n: number): number {
    if (n > SCAN_TOKENS) n = this.tokenize(src, start, end, false);
    const at = this.lead[op]! + 1;
    if (n - at - (this.protocol.meaning[op] === LinkOp.MSG ? 1 : 2) <= 1) return n;
    const ts = this.tokStart[at]!;
    const ind = this.tokEnd[at]! - ts === 1 ? src[ts] : 0;
    if (ind === PLUS || ind === BAR) return n;
    this.badArgs(ProtocolErrorCode.INVALID_ROUTED_MSG, `${this.protocol.funcs[op]} Bad or Missing Reply Indicator`, src, start, end);
    return -1;
  }

  protected badMsgLine(op: number, what: MsgLineError, src: Uint8Array, start: number, end: number): void {
    this.badArgs(ProtocolErrorCode.INVALID_ROUTED_MSG, `${this.protocol.funcs[op]} ${MSG_ERRORS[what]}`, src, start, end);
  }

  protected onMsg(op: number, src: Uint8Array, n: number, headerSize: number, payload: Uint8Array): void {
    const ts = this.tokStart;
    const te = this.tokEnd;
    const lead = this.lead[op]!;
    const m = this.msg;
    m.src = src;
    m.tokStart = ts;
    m.tokEnd = te;
    if (lead === 2) {
      m.originStart = ts[0]!;
      m.originEnd = te[0]!;
    } else {
      m.originStart = -1;
      m.originEnd = -1;
    }
    if (lead > 0) {
      m.accountStart = ts[lead - 1]!;
      m.accountEnd = te[lead - 1]!;
    } else {
      m.accountStart = -1;
      m.accountEnd = -1;
    }
    m.subjectStart = ts[lead]!;
    m.subjectEnd = te[lead]!;
    m.replyStart = -1;
    m.replyEnd = -1;
    m.queueFirst = 0;
    m.queueCount = 0;
    const sizes = headerSize < 0 ? 1 : 2;
    const at = lead + 1;
    const extra = n - at - sizes;
    if (extra === 1) {
      m.replyStart = ts[at]!;
      m.replyEnd = te[at]!;
    } else if (extra > 1) {
      // Checked by checkMsgLine: '+' then the reply, or '|'; then the queues.
      if (src[ts[at]!] === PLUS) {
        m.replyStart = ts[at + 1]!;
        m.replyEnd = te[at + 1]!;
        m.queueFirst = at + 2;
      } else {
        m.queueFirst = at + 1;
      }
      m.queueCount = n - sizes - m.queueFirst;
    }
    this.handler.onRoutedMsg(m, headerSize, payload);
  }
}

const EMPTY = new Uint8Array(0);

/** The route kind's parser. */
export class RouteParser extends LinkParser {
  constructor(handler: RouteParserHandler) {
    super(handler, ROUTE_PROTOCOL);
  }
}
