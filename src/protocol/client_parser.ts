// The client kind's parser: the operations a client sends (CONNECT, PUB, HPUB, SUB, UNSUB, PING,
// PONG, INFO, +OK, -ERR) on the shared parser core. A PUB's subject and reply are handed out as
// offsets (see PubArgs), SUB/UNSUB arguments as views of the input.
//
// Connection-level rules (CONNECT must come first when auth is required, verbose +OK, pedantic
// subject checks, headers allowed or not) are not the parser's business: a handler enforces them
// and may call close() or pause().

import { parseSize } from './bytes.ts';
import { ProtocolErrorCode } from './errors.ts';
import { ArgForm, COMMON_OPS, isJson, MsgLineError, OpTable, ParserCore } from './parser_core.ts';
import type { CoreHandler } from './parser_core.ts';

export { CoreState } from './parser_core.ts';

/** nats-server's default max_control_line (bytes of one protocol line before CRLF). */
export const DEFAULT_MAX_CONTROL_LINE = 4096;
/** nats-server's default max_payload (bytes). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

const Op = {
  PUB: 0,
  HPUB: 1,
  SUB: 2,
  UNSUB: 3,
  INFO: 4,
} as const;

/** The client operations, in `Op` order. */
export const CLIENT_OPS = new OpTable([
  // PUB <subject> [reply] <size>, HPUB <subject> [reply] <header size> <total size>
  { keyword: 'PUB', form: ArgForm.MSG, blank: true, fast: true, minArgs: 2, maxArgs: 3 },
  { keyword: 'HPUB', form: ArgForm.MSG, blank: true, fast: true, minArgs: 3, maxArgs: 4, headers: true },
  { keyword: 'SUB', form: ArgForm.LINE, blank: true },
  { keyword: 'UNSUB', form: ArgForm.LINE, blank: true },
  { keyword: 'INFO', form: ArgForm.LINE, blank: false },
  ...COMMON_OPS,
]);

/**
 * Where a PUB/HPUB's subject and reply lie in `src`. Offsets rather than subarray views because
 * the handler wants strings and a view per argument per message is measurable garbage. The
 * parser reuses one instance: it is valid only during the callback.
 */
export interface PubArgs {
  readonly src: Uint8Array;
  readonly subjectStart: number;
  readonly subjectEnd: number;
  /** -1 when the message has no reply subject. */
  readonly replyStart: number;
  readonly replyEnd: number;
}

class PendingPub implements PubArgs {
  src: Uint8Array;
  subjectStart = 0;
  subjectEnd = 0;
  replyStart = -1;
  replyEnd = -1;
  constructor(src: Uint8Array) {
    this.src = src;
  }
}

export interface ClientParserHandler extends CoreHandler {
  // All Uint8Array arguments are subarray views valid only during the call: copy what you keep.
  onPub(args: PubArgs, payload: Uint8Array): void;
  /** `message` is headers followed by body; its first `headerSize` bytes are the headers. */
  onHPub(args: PubArgs, headerSize: number, message: Uint8Array): void;
  onSub(subject: Uint8Array, queue: Uint8Array | null, sid: Uint8Array): void;
  /** `max` is -1 when absent or not a valid size (nats-server then unsubscribes at once). */
  onUnsub(sid: Uint8Array, max: number): void;
}

export interface ClientParserLimits {
  /** Largest accepted payload (headers included) in bytes; negative means no limit. */
  maxPayload: number;
  /** Longest accepted control line in bytes, CRLF excluded; non-positive means the default. */
  maxControlLine: number;
}

/** nats-server's log texts for a bad PUB/HPUB line, by MsgLineError. */
const PUB_ERRORS = ['Parse Error', 'Bad or Missing Size', '', '', ''];
const HPUB_ERRORS = ['Parse Error', '', 'Bad or Missing Header Size', 'Bad or Missing Total Size', 'Header Size larger then TotalSize'];

export class ClientParser extends ParserCore {
  private readonly handler: ClientParserHandler;
  /** Subject and reply of the PUB/HPUB being delivered, handed to the handler. */
  private readonly pub = new PendingPub(this.argBuf);

  constructor(handler: ClientParserHandler, limits: ClientParserLimits) {
    super(CLIENT_OPS, 'Client', limits, handler);
    this.handler = handler;
    this.setLimits(limits);
  }

  /** Change limits (config reload); applies from the next control line. */
  setLimits(limits: ClientParserLimits): void {
    this.maxPayload = limits.maxPayload;
    this.maxControlLine = limits.maxControlLine > 0 ? limits.maxControlLine : DEFAULT_MAX_CONTROL_LINE;
  }

  protected onLineOp(op: number, src: Uint8Array, start: number, end: number): void {
    const h = this.handler;
    switch (op) {
      case Op.SUB: {
        const n = this.tokenize(src, start, end, true);
        if (n !== 2 && n !== 3) {
          this.badArgs(ProtocolErrorCode.INVALID_SUB, 'processSub Parse Error', src, start, end);
          return;
        }
        const ts = this.tokStart;
        const te = this.tokEnd;
        const subject = src.subarray(ts[0]!, te[0]!);
        const queue = n === 3 ? src.subarray(ts[1]!, te[1]!) : null;
        h.onSub(subject, queue, src.subarray(ts[n - 1]!, te[n - 1]!));
        return;
      }
      case Op.UNSUB: {
        const n = this.tokenize(src, start, end, true);
        if (n !== 1 && n !== 2) {
          this.badArgs(ProtocolErrorCode.INVALID_UNSUB, 'processUnsub Parse Error', src, start, end);
          return;
        }
        const ts = this.tokStart;
        const te = this.tokEnd;
        const max = n === 2 ? parseSize(src, ts[1]!, te[1]!) : -1;
        h.onUnsub(src.subarray(ts[0]!, te[0]!), max);
        return;
      }
      default: // INFO: nats-server parses a client's INFO and otherwise ignores it.
        if (!isJson(src, start, end)) this.badArgs(ProtocolErrorCode.INVALID_INFO, 'INFO is not valid JSON', src, start, end);
    }
  }

  protected badMsgLine(op: number, what: MsgLineError, src: Uint8Array, start: number, end: number): void {
    if (op === Op.HPUB) this.badArgs(ProtocolErrorCode.INVALID_HPUB, `processHeaderPub ${HPUB_ERRORS[what]}`, src, start, end);
    else this.badArgs(ProtocolErrorCode.INVALID_PUB, `processPub ${PUB_ERRORS[what]}`, src, start, end);
  }

  protected onMsg(op: number, src: Uint8Array, n: number, headerSize: number, payload: Uint8Array): void {
    const ts = this.tokStart;
    const te = this.tokEnd;
    const pub = this.pub;
    pub.src = src;
    pub.subjectStart = ts[0]!;
    pub.subjectEnd = te[0]!;
    if (n === (op === Op.HPUB ? 4 : 3)) {
      pub.replyStart = ts[1]!;
      pub.replyEnd = te[1]!;
    } else {
      pub.replyStart = -1;
      pub.replyEnd = -1;
    }
    if (headerSize < 0) this.handler.onPub(pub, payload);
    else this.handler.onHPub(pub, headerSize, payload);
  }
}
