// Parser for the client → server NATS protocol: a byte state machine in the
// shape of nats-server's parser.go. Control-line arguments and payloads are
// handed out as views of the input (a PUB's subject and reply as offsets, see
// PubArgs); a control line or a payload that is split across reads is carried
// over in reusable scratch buffers. No I/O, no strings on the message path.
//
// Connection-level rules (CONNECT must come first when auth is required,
// verbose +OK, pedantic subject checks, headers allowed or not) are not the
// parser's business: a handler enforces them and may call close() or pause().

import { Byte, CRLF_LENGTH, parseSize } from './bytes.ts';
import { CloseReason, ErrText, ProtocolError, ProtocolErrorCode } from './errors.ts';

/** nats-server's default max_control_line (bytes of one protocol line before CRLF). */
export const DEFAULT_MAX_CONTROL_LINE = 4096;
/** nats-server's default max_payload (bytes). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Length of protocol text quoted in a parse error log line, as nats-server. */
const PROTO_SNIPPET_BYTES = 32;
/** Initial size of the control-line scratch buffer; grows up to max_control_line. */
const INITIAL_ARG_SCRATCH_BYTES = 512;
/**
 * A split payload up to this size keeps its scratch buffer for the next one; a
 * larger buffer is dropped after use so one big message does not pin memory on
 * an otherwise idle connection.
 */
const RETAINED_PAYLOAD_SCRATCH_BYTES = 64 * 1024;
/** The most arguments any client operation takes (HPUB: subject reply hdr total). */
const MAX_ARGS = 4;

export const ClientParserState = {
  OP_START: 0,
  OP_PLUS: 1,
  OP_PLUS_O: 2,
  OP_PLUS_OK: 3,
  OP_MINUS: 4,
  OP_MINUS_E: 5,
  OP_MINUS_ER: 6,
  OP_MINUS_ERR: 7,
  OP_MINUS_ERR_SPC: 8,
  MINUS_ERR_ARG: 9,
  OP_C: 10,
  OP_CO: 11,
  OP_CON: 12,
  OP_CONN: 13,
  OP_CONNE: 14,
  OP_CONNEC: 15,
  OP_CONNECT: 16,
  CONNECT_ARG: 17,
  OP_H: 18,
  OP_HP: 19,
  OP_HPU: 20,
  OP_HPUB: 21,
  OP_HPUB_SPC: 22,
  HPUB_ARG: 23,
  OP_P: 24,
  OP_PU: 25,
  OP_PUB: 26,
  OP_PUB_SPC: 27,
  PUB_ARG: 28,
  OP_PI: 29,
  OP_PIN: 30,
  OP_PING: 31,
  OP_PO: 32,
  OP_PON: 33,
  OP_PONG: 34,
  MSG_PAYLOAD: 35,
  MSG_END_R: 36,
  MSG_END_N: 37,
  OP_S: 38,
  OP_SU: 39,
  OP_SUB: 40,
  OP_SUB_SPC: 41,
  SUB_ARG: 42,
  OP_U: 43,
  OP_UN: 44,
  OP_UNS: 45,
  OP_UNSU: 46,
  OP_UNSUB: 47,
  OP_UNSUB_SPC: 48,
  UNSUB_ARG: 49,
  OP_I: 50,
  OP_IN: 51,
  OP_INF: 52,
  OP_INFO: 53,
  INFO_ARG: 54,
  CLOSED: 55,
} as const;
export type ClientParserState = (typeof ClientParserState)[keyof typeof ClientParserState];

const S = ClientParserState;
const STATE_COUNT = S.CLOSED + 1;

// States that accept exactly one (case-insensitive) letter: the letter in upper
// case and the state it leads to. Zero means "not a single-letter state".
const KEYWORD_LETTER = new Uint8Array(STATE_COUNT);
const KEYWORD_NEXT = new Uint8Array(STATE_COUNT);
function keyword(from: number, letter: string, to: number): void {
  KEYWORD_LETTER[from] = letter.charCodeAt(0);
  KEYWORD_NEXT[from] = to;
}
keyword(S.OP_PLUS, 'O', S.OP_PLUS_O);
keyword(S.OP_PLUS_O, 'K', S.OP_PLUS_OK);
keyword(S.OP_MINUS, 'E', S.OP_MINUS_E);
keyword(S.OP_MINUS_E, 'R', S.OP_MINUS_ER);
keyword(S.OP_MINUS_ER, 'R', S.OP_MINUS_ERR);
keyword(S.OP_C, 'O', S.OP_CO);
keyword(S.OP_CO, 'N', S.OP_CON);
keyword(S.OP_CON, 'N', S.OP_CONN);
keyword(S.OP_CONN, 'E', S.OP_CONNE);
keyword(S.OP_CONNE, 'C', S.OP_CONNEC);
keyword(S.OP_CONNEC, 'T', S.OP_CONNECT);
keyword(S.OP_H, 'P', S.OP_HP);
keyword(S.OP_HP, 'U', S.OP_HPU);
keyword(S.OP_HPU, 'B', S.OP_HPUB);
keyword(S.OP_PU, 'B', S.OP_PUB);
keyword(S.OP_PI, 'N', S.OP_PIN);
keyword(S.OP_PIN, 'G', S.OP_PING);
keyword(S.OP_PO, 'N', S.OP_PON);
keyword(S.OP_PON, 'G', S.OP_PONG);
keyword(S.OP_S, 'U', S.OP_SU);
keyword(S.OP_SU, 'B', S.OP_SUB);
keyword(S.OP_U, 'N', S.OP_UN);
keyword(S.OP_UN, 'S', S.OP_UNS);
keyword(S.OP_UNS, 'U', S.OP_UNSU);
keyword(S.OP_UNSU, 'B', S.OP_UNSUB);
keyword(S.OP_I, 'N', S.OP_IN);
keyword(S.OP_IN, 'F', S.OP_INF);
keyword(S.OP_INF, 'O', S.OP_INFO);

// States that need one space or tab after the keyword, and the state that
// skips further blanks before the argument.
const BLANK_NEXT = new Uint8Array(STATE_COUNT);
BLANK_NEXT[S.OP_PUB] = S.OP_PUB_SPC;
BLANK_NEXT[S.OP_HPUB] = S.OP_HPUB_SPC;
BLANK_NEXT[S.OP_SUB] = S.OP_SUB_SPC;
BLANK_NEXT[S.OP_UNSUB] = S.OP_UNSUB_SPC;
BLANK_NEXT[S.OP_MINUS_ERR] = S.OP_MINUS_ERR_SPC;

// Blank-skipping states and the argument state that the first other byte starts.
// CONNECT and INFO need no blank at all after the keyword (as nats-server).
const ARG_AFTER_BLANKS = new Uint8Array(STATE_COUNT);
ARG_AFTER_BLANKS[S.OP_PUB_SPC] = S.PUB_ARG;
ARG_AFTER_BLANKS[S.OP_HPUB_SPC] = S.HPUB_ARG;
ARG_AFTER_BLANKS[S.OP_SUB_SPC] = S.SUB_ARG;
ARG_AFTER_BLANKS[S.OP_UNSUB_SPC] = S.UNSUB_ARG;
ARG_AFTER_BLANKS[S.OP_MINUS_ERR_SPC] = S.MINUS_ERR_ARG;
ARG_AFTER_BLANKS[S.OP_CONNECT] = S.CONNECT_ARG;
ARG_AFTER_BLANKS[S.OP_INFO] = S.INFO_ARG;

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

export interface ClientParserHandler {
  // All Uint8Array arguments are subarray views valid only during the call: copy what you keep.
  /** Return true to pause parsing (e.g. while authenticating); call resume() to continue. */
  onConnect(json: Uint8Array): boolean | void;
  onPub(args: PubArgs, payload: Uint8Array): void;
  /** `message` is headers followed by body; its first `headerSize` bytes are the headers. */
  onHPub(args: PubArgs, headerSize: number, message: Uint8Array): void;
  onSub(subject: Uint8Array, queue: Uint8Array | null, sid: Uint8Array): void;
  /** `max` is -1 when absent or not a valid size (nats-server then unsubscribes at once). */
  onUnsub(sid: Uint8Array, max: number): void;
  onPing(): void;
  onPong(): void;
  /** The parser is closed when this is called; nothing more will be reported. */
  onProtocolError(err: ProtocolError): void;
}

export interface ClientParserLimits {
  /** Largest accepted payload (headers included) in bytes; negative means no limit. */
  maxPayload: number;
  /** Longest accepted control line in bytes, CRLF excluded; non-positive means the default. */
  maxControlLine: number;
}

export class ClientParser {
  #handler: ClientParserHandler;
  #maxPayload = DEFAULT_MAX_PAYLOAD;
  #maxControlLine = DEFAULT_MAX_CONTROL_LINE;

  #state: number = S.OP_START;
  #paused = false;
  #inParse = false;
  /** Input received while paused (or re-entrantly), in order; copies, since callers reuse buffers. */
  #queue: Uint8Array[] = [];

  // Control line carried over a read boundary.
  #argBuf = new Uint8Array(INITIAL_ARG_SCRATCH_BYTES);
  #argLen = 0;
  #argCarried = false;

  // Subject and reply of the PUB/HPUB whose payload is being read, handed to the handler.
  #pub = new PendingPub(this.#argBuf);
  #headerSize = -1; // -1 for PUB
  #size = 0;

  // Payload carried over a read boundary.
  #msgBuf: Uint8Array | null = null;
  #msgLen = 0;

  // Argument token boundaries of the current control line (reused).
  #tokStart = new Int32Array(MAX_ARGS + 1);
  #tokEnd = new Int32Array(MAX_ARGS + 1);
  /** Results of #scanPubLine: token count and where the line ends (CR excluded). */
  #tokCount = 0;
  #lineEnd = 0;

  constructor(handler: ClientParserHandler, limits: ClientParserLimits) {
    this.#handler = handler;
    this.setLimits(limits);
  }

  /** Change limits (config reload); applies from the next control line. */
  setLimits(limits: ClientParserLimits): void {
    this.#maxPayload = limits.maxPayload;
    this.#maxControlLine = limits.maxControlLine > 0 ? limits.maxControlLine : DEFAULT_MAX_CONTROL_LINE;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get closed(): boolean {
    return this.#state === S.CLOSED;
  }

  /** Current state, for tests and diagnostics. */
  get state(): ClientParserState {
    return this.#state as ClientParserState;
  }

  /** Stop parsing for good (a handler decided to close the connection). */
  close(): void {
    this.#state = S.CLOSED;
    this.#paused = false;
    this.#queue.length = 0;
    this.#msgBuf = null;
  }

  /**
   * Hold further callbacks until resume(); input keeps being accepted and
   * queued (as copies, unbounded), so the caller should stop reading its socket
   * while `paused` is true — nats-server gets the same back-pressure by
   * authenticating inside its read loop.
   */
  pause(): void {
    if (this.#state !== S.CLOSED) this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // Called from inside a callback: the running loop sees the flag and goes on.
    if (this.#inParse) return;
    this.#inParse = true;
    try {
      this.#drain();
    } finally {
      this.#inParse = false;
    }
  }

  /** Feed bytes. Never throws for bad input; errors go to onProtocolError. */
  parse(chunk: Uint8Array): void {
    if (this.#state === S.CLOSED || chunk.length === 0) return;
    if (this.#paused || this.#inParse) {
      this.#queue.push(chunk.slice());
      return;
    }
    this.#inParse = true;
    try {
      this.#run(chunk);
      this.#drain();
    } finally {
      this.#inParse = false;
    }
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#paused && this.#state !== S.CLOSED) {
      this.#run(this.#queue.shift()!);
    }
  }

  /**
   * After a callback: returns true if parsing must stop here, keeping the
   * unread rest of `buf` (from `next`) at the head of the queue when paused.
   */
  #mustStop(buf: Uint8Array, next: number): boolean {
    if (this.#state === S.CLOSED) return true;
    if (!this.#paused) return false;
    if (next < buf.length) this.#queue.unshift(buf.slice(next));
    return true;
  }

  #run(buf: Uint8Array): void {
    const len = buf.length;
    const handler = this.#handler;
    for (let i = 0; i < len; i++) {
      const b = buf[i]!;
      switch (this.#state) {
        case S.OP_START:
          switch (b | 0x20) {
            case 0x70: {
              // 'p': "PUB " whole in this read (the usual case) goes straight to its arguments;
              // the state machine below sees the same bytes when they arrive in pieces.
              const argStart = argAfterPubKeyword(buf, i);
              if (argStart >= 0) {
                this.#state = argStart < len ? S.PUB_ARG : S.OP_PUB_SPC;
                i = argStart - 1;
              } else {
                this.#state = S.OP_P;
              }
              break;
            }
            case 0x68: {
              // 'h': "HPUB " whole in this read, the same shortcut.
              const argStart = argAfterPubKeyword(buf, i + 1);
              if (argStart >= 0) {
                this.#state = argStart < len ? S.HPUB_ARG : S.OP_HPUB_SPC;
                i = argStart - 1;
              } else {
                this.#state = S.OP_H;
              }
              break;
            }
            case 0x73: // 's'
              this.#state = S.OP_S;
              break;
            case 0x75: // 'u'
              this.#state = S.OP_U;
              break;
            case 0x63: // 'c'
              this.#state = S.OP_C;
              break;
            case 0x69: // 'i'
              this.#state = S.OP_I;
              break;
            default:
              if (b === Byte.PLUS) this.#state = S.OP_PLUS;
              else if (b === Byte.MINUS) this.#state = S.OP_MINUS;
              else return this.#unknownOperation(buf, i);
          }
          break;

        case S.OP_P:
          switch (b & Byte.CASE_FOLD_MASK) {
            case 0x55: // 'U'
              this.#state = S.OP_PU;
              break;
            case 0x49: // 'I'
              this.#state = S.OP_PI;
              break;
            case 0x4f: // 'O'
              this.#state = S.OP_PO;
              break;
            default:
              return this.#unknownOperation(buf, i);
          }
          break;

        case S.OP_PING:
        case S.OP_PONG:
        case S.OP_PLUS_OK: {
          // As nats-server: anything up to the LF is ignored ("PING foo\r\n" is a PING).
          const nl = buf.indexOf(Byte.LF, i);
          if (nl < 0) return;
          const op = this.#state;
          this.#state = S.OP_START;
          i = nl;
          if (op === S.OP_PING) handler.onPing();
          else if (op === S.OP_PONG) handler.onPong();
          else break;
          if (this.#mustStop(buf, i + 1)) return;
          break;
        }

        case S.PUB_ARG:
        case S.HPUB_ARG: {
          // The hot path: one pass finds the blanks and the LF of a line that is whole in this
          // read; a line carried over from an earlier read takes the general path below.
          const withHeaders = this.#state === S.HPUB_ARG;
          let src = buf;
          let start = i;
          let end: number;
          let nl: number;
          let n: number;
          if (!this.#argCarried) {
            nl = this.#scanPubLine(buf, i);
            if (nl < 0) {
              this.#carryArg(buf, i, len);
              return;
            }
            end = this.#lineEnd;
            n = this.#tokCount;
          } else {
            nl = buf.indexOf(Byte.LF, i);
            if (nl < 0) {
              this.#carryArg(buf, i, len);
              return;
            }
            end = this.#takeCarriedArg(buf, i, nl);
            if (end < 0) return;
            src = this.#argBuf;
            start = 0;
            if (end > start && src[end - 1] === Byte.CR) end--;
            n = this.#tokenize(src, start, end, false);
          }
          if (end - start > this.#maxControlLine) return this.#maxControlLineExceeded();
          this.#state = S.OP_START;
          if (!this.#pubArgs(src, start, end, withHeaders, n)) return;
          const payloadStart = nl + 1;
          const payloadEnd = payloadStart + this.#size;
          if (payloadEnd + CRLF_LENGTH <= len) {
            // Whole message in this read: jump over the payload.
            if (buf[payloadEnd] !== Byte.CR || buf[payloadEnd + 1] !== Byte.LF) {
              return this.#unknownOperation(buf, buf[payloadEnd] !== Byte.CR ? payloadEnd : payloadEnd + 1);
            }
            i = payloadEnd + 1;
            // A plain Uint8Array view: Buffer#subarray would build a FastBuffer, ~10 ns more a message.
            this.#deliver(new Uint8Array(buf.buffer, buf.byteOffset + payloadStart, this.#size));
            if (this.#mustStop(buf, i + 1)) return;
          } else {
            this.#startSplitPayload(src, buf, payloadStart);
            i = len;
          }
          break;
        }

        case S.SUB_ARG:
        case S.UNSUB_ARG:
        case S.CONNECT_ARG:
        case S.INFO_ARG:
        case S.MINUS_ERR_ARG: {
          const nl = buf.indexOf(Byte.LF, i);
          if (nl < 0) {
            this.#carryArg(buf, i, len);
            return;
          }
          let src = buf;
          let start = i;
          let end = nl;
          if (this.#argCarried) {
            end = this.#takeCarriedArg(buf, i, nl);
            if (end < 0) return;
            src = this.#argBuf;
            start = 0;
          }
          if (end > start && src[end - 1] === Byte.CR) end--;
          if (end - start > this.#maxControlLine) return this.#maxControlLineExceeded();
          i = nl;
          const argState = this.#state;
          this.#state = S.OP_START;
          switch (argState) {
            case S.SUB_ARG: {
              const n = this.#tokenize(src, start, end, true);
              if (n !== 2 && n !== 3) {
                return this.#badArgs(ProtocolErrorCode.INVALID_SUB, 'processSub Parse Error', src, start, end);
              }
              const ts = this.#tokStart;
              const te = this.#tokEnd;
              const subject = src.subarray(ts[0]!, te[0]!);
              const queue = n === 3 ? src.subarray(ts[1]!, te[1]!) : null;
              const sid = src.subarray(ts[n - 1]!, te[n - 1]!);
              handler.onSub(subject, queue, sid);
              if (this.#mustStop(buf, i + 1)) return;
              break;
            }
            case S.UNSUB_ARG: {
              const n = this.#tokenize(src, start, end, true);
              if (n !== 1 && n !== 2) {
                return this.#badArgs(ProtocolErrorCode.INVALID_UNSUB, 'processUnsub Parse Error', src, start, end);
              }
              const ts = this.#tokStart;
              const te = this.#tokEnd;
              const max = n === 2 ? parseSize(src, ts[1]!, te[1]!) : -1;
              handler.onUnsub(src.subarray(ts[0]!, te[0]!), max);
              if (this.#mustStop(buf, i + 1)) return;
              break;
            }
            case S.CONNECT_ARG:
              if (handler.onConnect(src.subarray(start, end)) === true) this.pause();
              if (this.#mustStop(buf, i + 1)) return;
              break;
            case S.INFO_ARG:
              // nats-server parses a client's INFO and otherwise ignores it.
              if (!isJson(src, start, end)) {
                return this.#badArgs(ProtocolErrorCode.INVALID_INFO, 'INFO is not valid JSON', src, start, end);
              }
              break;
            default: // MINUS_ERR_ARG
              return this.#fail(
                ProtocolErrorCode.PEER_ERROR,
                `Client Error ${Buffer.from(src.buffer, src.byteOffset + start, end - start).toString('latin1')}`,
                null,
                CloseReason.PARSE_ERROR,
              );
          }
          break;
        }

        case S.MSG_PAYLOAD: {
          const msgBuf = this.#msgBuf!;
          const n = Math.min(this.#size - this.#msgLen, len - i);
          msgBuf.set(buf.subarray(i, i + n), this.#msgLen);
          this.#msgLen += n;
          i += n - 1;
          if (this.#msgLen === this.#size) this.#state = S.MSG_END_R;
          break;
        }

        case S.MSG_END_R:
          if (b !== Byte.CR) return this.#unknownOperation(buf, i);
          this.#state = S.MSG_END_N;
          break;

        case S.MSG_END_N: {
          if (b !== Byte.LF) return this.#unknownOperation(buf, i);
          this.#state = S.OP_START;
          const msgBuf = this.#msgBuf!;
          this.#deliver(msgBuf.subarray(0, this.#size));
          if (msgBuf.length > RETAINED_PAYLOAD_SCRATCH_BYTES && this.#msgBuf === msgBuf) this.#msgBuf = null;
          this.#msgLen = 0;
          this.#pub.src = this.#argBuf;
          if (this.#mustStop(buf, i + 1)) return;
          break;
        }

        case S.CLOSED:
          return;

        default: {
          const st = this.#state;
          const letter = KEYWORD_LETTER[st]!;
          if (letter !== 0) {
            if ((b & Byte.CASE_FOLD_MASK) !== letter) return this.#unknownOperation(buf, i);
            this.#state = KEYWORD_NEXT[st]!;
            break;
          }
          const blankNext = BLANK_NEXT[st]!;
          if (blankNext !== 0) {
            if (b !== Byte.SPACE && b !== Byte.TAB) return this.#unknownOperation(buf, i);
            this.#state = blankNext;
            break;
          }
          const argState = ARG_AFTER_BLANKS[st]!;
          if (argState !== 0) {
            if (b === Byte.SPACE || b === Byte.TAB) break;
            // The argument starts at this byte: handle it in the argument state.
            this.#state = argState;
            i--;
            break;
          }
          // Unreachable: every state above is handled; fail closed rather than loop.
          return this.#unknownOperation(buf, i);
        }
      }
    }
  }

  /** Split a PUB/HPUB control line into the pending-message fields; false (and closed) on error. */
  #pubArgs(src: Uint8Array, start: number, end: number, withHeaders: boolean, n: number): boolean {
    const ts = this.#tokStart;
    const te = this.#tokEnd;
    const sizeArgs = withHeaders ? 2 : 1;
    if (n !== sizeArgs + 1 && n !== sizeArgs + 2) {
      return this.#badPub(withHeaders, 'Parse Error', src, start, end);
    }
    const hasReply = n === sizeArgs + 2;
    const pub = this.#pub;
    pub.src = src;
    pub.subjectStart = ts[0]!;
    pub.subjectEnd = te[0]!;
    pub.replyStart = hasReply ? ts[1]! : -1;
    pub.replyEnd = hasReply ? te[1]! : -1;
    const last = n - 1;
    this.#size = parseSize(src, ts[last]!, te[last]!);
    if (withHeaders) {
      this.#headerSize = parseSize(src, ts[last - 1]!, te[last - 1]!);
      if (this.#headerSize < 0) return this.#badPub(true, 'Bad or Missing Header Size', src, start, end);
      if (this.#size < 0) return this.#badPub(true, 'Bad or Missing Total Size', src, start, end);
      if (this.#headerSize > this.#size) {
        return this.#badPub(true, 'Header Size larger then TotalSize', src, start, end);
      }
    } else {
      this.#headerSize = -1;
      if (this.#size < 0) return this.#badPub(false, 'Bad or Missing Size', src, start, end);
    }
    if (this.#maxPayload >= 0 && this.#size > this.#maxPayload) {
      this.#fail(
        ProtocolErrorCode.MAX_PAYLOAD,
        `maximum payload exceeded: ${this.#size} vs ${this.#maxPayload}`,
        ErrText.MAX_PAYLOAD,
        CloseReason.MAX_PAYLOAD,
      );
      return false;
    }
    return true;
  }

  #badPub(withHeaders: boolean, what: string, src: Uint8Array, start: number, end: number): false {
    if (withHeaders) this.#badArgs(ProtocolErrorCode.INVALID_HPUB, `processHeaderPub ${what}`, src, start, end);
    else this.#badArgs(ProtocolErrorCode.INVALID_PUB, `processPub ${what}`, src, start, end);
    return false;
  }

  /** Close for a malformed control line; the log line quotes it after `what`, as nats-server. */
  #badArgs(code: ProtocolErrorCode, what: string, src: Uint8Array, start: number, end: number): void {
    this.#fail(code, `${what}: ${quote(src, start, end)}`, null, CloseReason.PROTOCOL_VIOLATION);
  }

  /** Hand the completed message to the handler; `payload` excludes the trailing CRLF. */
  #deliver(payload: Uint8Array): void {
    if (this.#headerSize < 0) this.#handler.onPub(this.#pub, payload);
    else this.#handler.onHPub(this.#pub, this.#headerSize, payload);
  }

  /** The payload of a PUB/HPUB runs past this read: keep its arguments and what we have of it. */
  #startSplitPayload(argSrc: Uint8Array, buf: Uint8Array, payloadStart: number): void {
    const pub = this.#pub;
    if (argSrc !== this.#argBuf) {
      // The arguments live in the caller's buffer, which is gone after this read.
      const from = pub.subjectStart;
      const to = pub.replyStart >= 0 ? Math.max(pub.replyEnd, pub.subjectEnd) : pub.subjectEnd;
      this.#ensureArgCapacity(to - from);
      this.#argBuf.set(argSrc.subarray(from, to), 0);
      pub.subjectStart -= from;
      pub.subjectEnd -= from;
      if (pub.replyStart >= 0) {
        pub.replyStart -= from;
        pub.replyEnd -= from;
      }
    }
    pub.src = this.#argBuf;
    const size = this.#size;
    if (this.#msgBuf === null || this.#msgBuf.length < size) {
      this.#msgBuf = new Uint8Array(Math.max(size, INITIAL_ARG_SCRATCH_BYTES));
    }
    const n = Math.min(size, buf.length - payloadStart);
    this.#msgBuf.set(buf.subarray(payloadStart, payloadStart + n), 0);
    this.#msgLen = n;
    if (n < size) {
      this.#state = S.MSG_PAYLOAD;
      return;
    }
    // The payload is complete; only (part of) the CRLF is missing.
    this.#state = S.MSG_END_R;
    const rest = payloadStart + n;
    if (rest < buf.length) {
      if (buf[rest] !== Byte.CR) {
        this.#unknownOperation(buf, rest);
        return;
      }
      this.#state = S.MSG_END_N;
    }
  }

  /**
   * Complete the carried control line with `buf[from, nl)` and take it: returns its length in
   * #argBuf (a final CR included), or -1 with the parser closed when it is too long.
   */
  #takeCarriedArg(buf: Uint8Array, from: number, nl: number): number {
    if (!this.#appendArg(buf, from, nl)) {
      this.#maxControlLineExceeded();
      return -1;
    }
    const lineLength = this.#argLen;
    this.#argCarried = false;
    this.#argLen = 0;
    return lineLength;
  }

  /** An argument runs past this read: save what we have, bounded by max_control_line. */
  #carryArg(buf: Uint8Array, from: number, to: number): void {
    if (!this.#appendArg(buf, from, to)) {
      this.#maxControlLineExceeded();
      return;
    }
    this.#argCarried = true;
  }

  /**
   * Append `buf[from, to)` to the carried argument. False when the argument,
   * not counting a trailing CR that may yet end it, exceeds max_control_line —
   * checked before storing so an endless line cannot grow memory.
   */
  #appendArg(buf: Uint8Array, from: number, to: number): boolean {
    const total = this.#argLen + (to - from);
    const lastIsCr = to > from ? buf[to - 1] === Byte.CR : this.#argLen > 0 && this.#argBuf[this.#argLen - 1] === Byte.CR;
    if (total - (lastIsCr ? 1 : 0) > this.#maxControlLine) return false;
    this.#ensureArgCapacity(total);
    this.#argBuf.set(buf.subarray(from, to), this.#argLen);
    this.#argLen = total;
    return true;
  }

  #ensureArgCapacity(needed: number): void {
    if (this.#argBuf.length >= needed) return;
    let size = this.#argBuf.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#argBuf.subarray(0, this.#argLen));
    if (this.#pub.src === this.#argBuf) this.#pub.src = grown;
    this.#argBuf = grown;
  }

  /**
   * One pass over a PUB/HPUB line starting at `buf[from]`: records its blank-separated tokens as
   * {@link #tokenize} would (a CR right before the LF ends the line, any other CR belongs to a
   * token) and returns the index of the LF, or -1 when the line runs past this read. Sets
   * #tokCount (which may exceed MAX_ARGS + 1; only that many are recorded) and #lineEnd.
   */
  #scanPubLine(buf: Uint8Array, from: number): number {
    const ts = this.#tokStart;
    const te = this.#tokEnd;
    const len = buf.length;
    let n = 0;
    let tokenStart = -1;
    for (let j = from; j < len; j++) {
      const b = buf[j]!;
      if (b > Byte.SPACE) {
        if (tokenStart < 0) tokenStart = j;
      } else if (b === Byte.SPACE || b === Byte.TAB) {
        if (tokenStart >= 0) {
          if (n <= MAX_ARGS) {
            ts[n] = tokenStart;
            te[n] = j;
          }
          n++;
          tokenStart = -1;
        }
      } else if (b === Byte.LF) {
        const end = j > from && buf[j - 1] === Byte.CR ? j - 1 : j;
        if (tokenStart >= 0 && tokenStart < end) {
          if (n <= MAX_ARGS) {
            ts[n] = tokenStart;
            te[n] = end;
          }
          n++;
        }
        this.#tokCount = n;
        this.#lineEnd = end;
        return j;
      } else if (tokenStart < 0) {
        tokenStart = j;
      }
    }
    return -1;
  }

  /**
   * Find up to MAX_ARGS + 1 blank-separated tokens of `src[start, end)`.
   * SUB and UNSUB also split on CR, as nats-server's splitArg does.
   */
  #tokenize(src: Uint8Array, start: number, end: number, crIsBlank: boolean): number {
    const ts = this.#tokStart;
    const te = this.#tokEnd;
    let n = 0;
    let tokenStart = -1;
    for (let i = start; i < end; i++) {
      const b = src[i]!;
      const blank = b === Byte.SPACE || b === Byte.TAB || (crIsBlank && b === Byte.CR);
      if (blank) {
        if (tokenStart >= 0) {
          ts[n] = tokenStart;
          te[n] = i;
          if (++n > MAX_ARGS) return n;
          tokenStart = -1;
        }
      } else if (tokenStart < 0) {
        tokenStart = i;
      }
    }
    if (tokenStart >= 0) {
      ts[n] = tokenStart;
      te[n] = end;
      n++;
    }
    return n;
  }

  #unknownOperation(buf: Uint8Array, at: number): void {
    const state = this.#state;
    this.#fail(
      ProtocolErrorCode.UNKNOWN_OPERATION,
      `Client parser ERROR, state=${state}, i=${at}: proto=${quote(buf, at, Math.min(at + PROTO_SNIPPET_BYTES, buf.length))}...`,
      ErrText.UNKNOWN_OPERATION,
      CloseReason.PROTOCOL_VIOLATION,
    );
  }

  #maxControlLineExceeded(): void {
    this.#fail(
      ProtocolErrorCode.MAX_CONTROL_LINE,
      `${ErrText.MAX_CONTROL_LINE}: max_control_line ${this.#maxControlLine}`,
      ErrText.MAX_CONTROL_LINE,
      CloseReason.MAX_CONTROL_LINE,
    );
  }

  #fail(code: ProtocolErrorCode, logMessage: string, errText: string | null, reason: CloseReason): void {
    this.close();
    this.#handler.onProtocolError(new ProtocolError(code, logMessage, errText, reason));
  }
}

/**
 * The parse-loop shortcut for PUB and HPUB (whose "PUB" starts at `at`): when "PUB", a blank and
 * at least one more byte are all in `buf`, returns the index after the blanks that follow (the
 * argument's first byte, or `buf.length` when only blanks remain); otherwise -1 and the state
 * machine takes the bytes one at a time. A plain function of bytes so the optimizer inlines it.
 */
function argAfterPubKeyword(buf: Uint8Array, at: number): number {
  const len = buf.length;
  if (
    at + 4 >= len ||
    (buf[at]! & Byte.CASE_FOLD_MASK) !== 0x50 || // 'P'
    (buf[at + 1]! & Byte.CASE_FOLD_MASK) !== 0x55 || // 'U'
    (buf[at + 2]! & Byte.CASE_FOLD_MASK) !== 0x42 || // 'B'
    (buf[at + 3] !== Byte.SPACE && buf[at + 3] !== Byte.TAB)
  ) {
    return -1;
  }
  let j = at + 4;
  while (j < len && (buf[j] === Byte.SPACE || buf[j] === Byte.TAB)) j++;
  return j;
}

/** Quote protocol bytes for a log line (cold path only). */
function quote(buf: Uint8Array, start: number, end: number): string {
  return JSON.stringify(Buffer.from(buf.buffer, buf.byteOffset + start, Math.max(0, end - start)).toString('latin1'));
}

function isJson(buf: Uint8Array, start: number, end: number): boolean {
  try {
    JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}
