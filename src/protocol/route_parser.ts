// The route kind's parser: what another server sends on the cluster port (nats-server's
// route.go and parser.go) on the shared parser core — INFO, CONNECT, PING, PONG, +OK, -ERR,
// interest (RS+/RS-, leaf interest LS+/LS-, gateway A+/A- accepted and ignored) and routed
// messages (RMSG, HMSG with headers, LMSG with a leaf origin cluster).
//
// A routed message names its account and may carry a reply and the queue groups the receiver
// should serve: `RMSG <account> <subject> [<reply> | + <reply> <queues..> | | <queues..>] <size>`.

import { parseSize } from './bytes.ts';
import { ProtocolErrorCode } from './errors.ts';
import { ArgForm, COMMON_OPS, MsgLineError, OpTable, ParserCore, SCAN_TOKENS } from './parser_core.ts';
import type { CoreHandler } from './parser_core.ts';

/**
 * nats-server sets no control-line limit on routes; a route line still ends somewhere, so an
 * endless one cannot grow memory: 1 MiB holds thousands of queue names.
 */
export const ROUTE_MAX_CONTROL_LINE = 1024 * 1024;
/** nats-server's ceiling for max_payload (64 MiB): no peer can legitimately send more. */
export const ROUTE_MAX_PAYLOAD = 64 * 1024 * 1024;

const Op = {
  RMSG: 0,
  HMSG: 1,
  LMSG: 2,
  RS_PLUS: 3,
  RS_MINUS: 4,
  LS_PLUS: 5,
  LS_MINUS: 6,
  A_PLUS: 7,
  A_MINUS: 8,
  INFO: 9,
} as const;

/** The route operations, in `Op` order. */
export const ROUTE_OPS = new OpTable([
  // <account> <subject> [reply | + reply queues.. | | queues..] <size>; HMSG adds a header size,
  // LMSG starts with the origin cluster and always has one.
  { keyword: 'RMSG', form: ArgForm.MSG, blank: true, fast: true, minArgs: 3, check: true },
  { keyword: 'HMSG', form: ArgForm.MSG, blank: true, fast: true, minArgs: 4, headers: true, check: true },
  { keyword: 'LMSG', form: ArgForm.MSG, blank: true, minArgs: 5, headers: true, check: true },
  { keyword: 'RS+', form: ArgForm.LINE, blank: true },
  { keyword: 'RS-', form: ArgForm.LINE, blank: true },
  { keyword: 'LS+', form: ArgForm.LINE, blank: true },
  { keyword: 'LS-', form: ArgForm.LINE, blank: true },
  { keyword: 'A+', form: ArgForm.LINE, blank: true },
  { keyword: 'A-', form: ArgForm.LINE, blank: true },
  { keyword: 'INFO', form: ArgForm.LINE, blank: false },
  ...COMMON_OPS,
]);

/**
 * Where a routed message's fields lie in `src` (offsets; -1 when absent). Queue names are
 * tokens `queueFirst .. queueFirst + queueCount - 1` of `tokStart`/`tokEnd`. The parser reuses
 * one instance: it is valid only during the callback.
 */
export interface RoutedMsgArgs {
  readonly src: Uint8Array;
  /** LMSG only: the leaf's origin cluster. */
  readonly originStart: number;
  readonly originEnd: number;
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
  /** LS+ only: the leaf's origin cluster. */
  origin: Uint8Array | null;
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
}

const PLUS = 0x2b;
const BAR = 0x7c;
/** nats-server's function names in its route message errors, by op, and the error texts. */
const MSG_FUNCS = ['processRoutedMsgArgs', 'processRoutedHeaderMsgArgs', 'processRoutedOriginClusterMsgArgs'];
const MSG_ERRORS = ['Parse Error', 'Bad or Missing Size', 'Bad or Missing Header Size', 'Bad or Missing Size', 'Header Size larger then TotalSize'];

export class RouteParser extends ParserCore {
  private readonly handler: RouteParserHandler;
  private readonly msg = new PendingRoutedMsg();
  private readonly interest: RemoteInterest = { origin: null, account: new Uint8Array(0), subject: new Uint8Array(0), queue: null, weight: 0 };

  constructor(handler: RouteParserHandler) {
    super(ROUTE_OPS, 'Route', { maxPayload: ROUTE_MAX_PAYLOAD, maxControlLine: ROUTE_MAX_CONTROL_LINE }, handler);
    this.handler = handler;
  }

  protected onLineOp(op: number, src: Uint8Array, start: number, end: number): void {
    switch (op) {
      case Op.A_PLUS:
      case Op.A_MINUS:
        // Account interest (A+/A-) is a gateway matter: nats-server ignores it on routes.
        return;
      case Op.RS_PLUS:
      case Op.LS_PLUS:
        this.remoteSub(op === Op.LS_PLUS, src, start, end);
        return;
      case Op.RS_MINUS:
      case Op.LS_MINUS:
        this.remoteUnsub(src, start, end);
        return;
      default: // INFO
        this.handler.onInfo(src.subarray(start, end));
    }
  }

  /** `RS+ <account> <subject> [<queue> <weight>]`, `LS+ <origin> <account> <subject> [<queue> <weight>]`. */
  private remoteSub(hasOrigin: boolean, src: Uint8Array, start: number, end: number): void {
    const n = this.tokenize(src, start, end, true);
    const off = hasOrigin ? 1 : 0;
    if (n !== 2 + off && n !== 4 + off) {
      this.badArgs(ProtocolErrorCode.INVALID_REMOTE_SUB, 'processRemoteSub Parse Error', src, start, end);
      return;
    }
    const ts = this.tokStart;
    const te = this.tokEnd;
    const it = this.interest;
    it.origin = hasOrigin ? src.subarray(ts[0]!, te[0]!) : null;
    it.account = src.subarray(ts[off]!, te[off]!);
    it.subject = src.subarray(ts[off + 1]!, te[off + 1]!);
    it.queue = n === 4 + off ? src.subarray(ts[off + 2]!, te[off + 2]!) : null;
    // nats-server takes an unreadable weight as -1: such a member is never picked.
    it.weight = it.queue === null ? 0 : Math.max(0, parseSize(src, ts[off + 3]!, te[off + 3]!));
    this.handler.onRemoteSub(it);
  }

  /** `RS- <account> <subject> [<queue>]` (LS- has the same arguments, no origin). */
  private remoteUnsub(src: Uint8Array, start: number, end: number): void {
    const n = this.tokenize(src, start, end, true);
    if (n !== 2 && n !== 3) {
      this.badArgs(ProtocolErrorCode.INVALID_REMOTE_UNSUB, 'processRemoteUnsub parse error', src, start, end);
      return;
    }
    const ts = this.tokStart;
    const te = this.tokEnd;
    const it = this.interest;
    it.origin = null;
    it.account = src.subarray(ts[0]!, te[0]!);
    it.subject = src.subarray(ts[1]!, te[1]!);
    it.queue = n === 3 ? src.subarray(ts[2]!, te[2]!) : null;
    it.weight = 0;
    this.handler.onRemoteUnsub(it);
  }

  /**
   * Records every token of a line with a long queue list, and checks the reply indicator of a
   * line with queues: '+' (a reply follows) or '|' (queues only).
   */
  protected override checkMsgLine(op: number, src: Uint8Array, start: number, end: number, n: number): number {
    if (n > SCAN_TOKENS) n = this.tokenize(src, start, end, false);
    const at = (op === Op.LMSG ? 1 : 0) + 2;
    if (n - at - (op === Op.RMSG ? 1 : 2) <= 1) return n;
    const ts = this.tokStart[at]!;
    const ind = this.tokEnd[at]! - ts === 1 ? src[ts] : 0;
    if (ind === PLUS || ind === BAR) return n;
    this.badArgs(ProtocolErrorCode.INVALID_ROUTED_MSG, `${MSG_FUNCS[op]} Bad or Missing Reply Indicator`, src, start, end);
    return -1;
  }

  protected badMsgLine(op: number, what: MsgLineError, src: Uint8Array, start: number, end: number): void {
    this.badArgs(ProtocolErrorCode.INVALID_ROUTED_MSG, `${MSG_FUNCS[op]} ${MSG_ERRORS[what]}`, src, start, end);
  }

  protected onMsg(op: number, src: Uint8Array, n: number, headerSize: number, payload: Uint8Array): void {
    const ts = this.tokStart;
    const te = this.tokEnd;
    const off = op === Op.LMSG ? 1 : 0;
    const m = this.msg;
    m.src = src;
    m.tokStart = ts;
    m.tokEnd = te;
    m.originStart = off ? ts[0]! : -1;
    m.originEnd = off ? te[0]! : -1;
    m.accountStart = ts[off]!;
    m.accountEnd = te[off]!;
    m.subjectStart = ts[off + 1]!;
    m.subjectEnd = te[off + 1]!;
    m.replyStart = -1;
    m.replyEnd = -1;
    m.queueFirst = 0;
    m.queueCount = 0;
    const sizes = headerSize < 0 ? 1 : 2;
    const extra = n - off - 2 - sizes;
    const at = off + 2;
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
