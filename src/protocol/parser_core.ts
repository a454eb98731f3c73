// The byte state machine every connection kind's parser runs, in the shape of nats-server's
// parser.go: keyword states compiled from a per-kind table of operations, arguments handed out
// as views of the input, payloads jumped over by their announced size, and a control line or a
// payload split across reads carried over in reusable scratch buffers. No I/O, no strings on the
// message path.
//
// A kind (client, route; later gateway and leaf) is a subclass with an op table: it interprets
// complete control lines (`onLineOp`) and messages (`onMsg`, which reads the message's control
// line from the tokens). The shape every message line shares — so many tokens, the payload size
// (and header size) at the end — is checked here, inline: a per-message call into the kind for
// its arguments measured ~100 instructions a message more. Everything else lives here once.

import { Byte, CRLF_LENGTH, parseSize } from './bytes.ts';
import { CloseReason, ErrText, ProtocolError, ProtocolErrorCode } from './errors.ts';

/** Length of protocol text quoted in a parse error log line, as nats-server. */
const PROTO_SNIPPET_BYTES = 32;
/** Initial size of the control-line scratch buffer; grows up to the control-line limit. */
const INITIAL_ARG_SCRATCH_BYTES = 512;
/**
 * A split payload up to this size keeps its scratch buffer for the next one; a larger buffer is
 * dropped after use so one big message does not pin memory on an otherwise idle connection.
 */
const RETAINED_PAYLOAD_SCRATCH_BYTES = 64 * 1024;
/**
 * Token slots the one-pass line scan fills. A line with more (only a route's queue list) is
 * tokenized again by the kind's checkMsgLine: a call for it on the message path, even one never
 * taken, measured ~300 instructions a message more (V8 optimizes the scan loop less).
 */
export const SCAN_TOKENS = 8;

/** How an operation's arguments end. */
export const ArgForm = {
  /** PING, PONG, +OK: anything up to the LF is ignored. */
  NONE: 0,
  /** The control line is the argument (SUB, CONNECT, INFO, RS+, -ERR). */
  LINE: 1,
  /** A control line, then a payload of the size it announces (PUB, HPUB, RMSG, HMSG). */
  MSG: 2,
} as const;
export type ArgForm = (typeof ArgForm)[keyof typeof ArgForm];

/** Operations every kind has, handled by the core; others go to the kind's onLineOp. */
export const OpRole = {
  KIND: 0,
  PING: 1,
  PONG: 2,
  /** +OK: ignored. */
  OK: 3,
  /** -ERR: logged and the connection closed (Parse Error), as nats-server. */
  ERR: 4,
  /** CONNECT: the handler may pause parsing (authentication). */
  CONNECT: 5,
} as const;
export type OpRole = (typeof OpRole)[keyof typeof OpRole];

/** What the core reports to every kind's handler. */
export interface CoreHandler {
  onPing(): void;
  onPong(): void;
  /** Return true to pause parsing (e.g. while authenticating); call resume() to continue. */
  onConnect(json: Uint8Array): boolean | void;
  /** The parser is closed when this is called; nothing more will be reported. */
  onProtocolError(err: ProtocolError): void;
}

export interface OpSpec {
  /** The keyword as on the wire; letters match in any case. */
  readonly keyword: string;
  readonly form: ArgForm;
  readonly role?: OpRole;
  /** MSG operations: the line's token count, sizes included (no max: no bound). */
  readonly minArgs?: number;
  readonly maxArgs?: number;
  /** MSG operations: a header size comes before the total size. */
  readonly headers?: boolean;
  /**
   * MSG operations: the kind checks more of the line (`checkMsgLine`) before the sizes are read;
   * required when the line may have more than SCAN_TOKENS tokens.
   */
  readonly check?: boolean;
  /** A blank must follow the keyword (PUB, SUB, RS+); CONNECT and INFO take theirs after optional blanks. */
  readonly blank: boolean;
  /**
   * A hot operation (letters only): when its first byte starts an operation and the keyword with
   * its blank is whole in the read, the keyword states are skipped in one step.
   */
  readonly fast?: boolean;
}

// msgInfo bits (see OpTable).
const UNBOUNDED_ARGS = 255;
const MSG_HEADERS = 1 << 16;
const MSG_CHECK = 1 << 17;

/** Which shared check of a MSG line failed (the kind names it in its error). */
export const MsgLineError = {
  /** Too few or too many tokens. */
  ARGS: 0,
  /** The size of an operation without headers. */
  SIZE: 1,
  HEADER_SIZE: 2,
  /** The total size of an operation with headers. */
  TOTAL_SIZE: 3,
  HEADER_OVER_TOTAL: 4,
} as const;
export type MsgLineError = (typeof MsgLineError)[keyof typeof MsgLineError];

/** The operations every kind's table ends with. */
export const COMMON_OPS: readonly OpSpec[] = [
  { keyword: 'PING', form: ArgForm.NONE, blank: false, role: OpRole.PING },
  { keyword: 'PONG', form: ArgForm.NONE, blank: false, role: OpRole.PONG },
  { keyword: 'CONNECT', form: ArgForm.LINE, blank: false, role: OpRole.CONNECT },
  { keyword: '+OK', form: ArgForm.NONE, blank: false, role: OpRole.OK },
  { keyword: '-ERR', form: ArgForm.LINE, blank: true, role: OpRole.ERR },
];

/** States every op table shares; keyword states are numbered after them. */
export const CoreState = {
  OP_START: 0,
  MSG_PAYLOAD: 1,
  MSG_END_R: 2,
  MSG_END_N: 3,
  CLOSED: 4,
} as const;
const FIXED_STATES = 5;

// What a state does with the next byte.
const KIND_START = 6; // the first byte of an operation (with the fast path for hot keywords)
const KIND_KEYWORD = 0; // look the byte up in the transition table
const KIND_SKIP = 1; // skip blanks, then the argument starts
const KIND_ARG = 2; // the argument (control line) runs to the LF
const KIND_MSG_ARG = 3; // the same, for an operation with a payload (the hot path)
const KIND_EOL = 4; // ignore everything up to the LF (PING, PONG, +OK)
const KIND_FIXED = 5; // payload and CRLF states, handled by name

/**
 * A kind's operations compiled into a keyword trie: `next[state << 8 | byte]` is the state a byte
 * leads to (0 = not an operation), and each state knows what it does and for which operation.
 */
export class OpTable {
  readonly ops: readonly OpSpec[];
  readonly next: Uint16Array;
  readonly kind: Uint8Array;
  /** The operation a SKIP, ARG or EOL state belongs to. */
  readonly op: Uint8Array;
  /** For SKIP states: the argument state the first non-blank byte goes to. */
  readonly argState: Uint16Array;
  /**
   * Per operation, for MSG operations, packed in one int (one load a message: separate arrays
   * measured ~120 instructions a message more): min tokens (bits 0-7), max tokens (8-15, 255 =
   * no bound), a header size (bit 16), a kind check (bit 17).
   */
  readonly msgInfo: Int32Array;
  /** Per operation: its OpRole. */
  readonly role: Uint8Array;
  /**
   * By first byte, the fast operation it may start: its keyword's letters in upper case packed
   * into an int (0 = none; a 4-letter word is above 0xffffff), and its argument state (the blank
   * state is the one before it). Two lookups a message, not one per table field.
   */
  readonly fastWord: Int32Array;
  readonly fastArg: Uint16Array;
  private readonly prefixes = new Map<string, number>();

  constructor(ops: readonly OpSpec[]) {
    this.ops = ops;
    // Keyword prefixes, blank states and argument states, upper bound.
    let max = FIXED_STATES + 1;
    for (const o of ops) max += o.keyword.length + 2;
    this.next = new Uint16Array(max << 8);
    this.kind = new Uint8Array(max).fill(KIND_KEYWORD);
    this.op = new Uint8Array(max);
    this.argState = new Uint16Array(max);
    this.fastWord = new Int32Array(256);
    this.fastArg = new Uint16Array(256);
    this.role = Uint8Array.from(ops, (o) => o.role ?? OpRole.KIND);
    this.msgInfo = Int32Array.from(ops, (o) => {
      const max = o.maxArgs === undefined || o.maxArgs >= UNBOUNDED_ARGS ? UNBOUNDED_ARGS : o.maxArgs;
      if (o.form === ArgForm.MSG && max > SCAN_TOKENS && !o.check) throw new Error(`op table: ${o.keyword} may have more tokens than the scan records: it needs check`);
      return (o.minArgs ?? 0) | (max << 8) | (o.headers ? MSG_HEADERS : 0) | (o.check ? MSG_CHECK : 0);
    });
    this.kind[CoreState.OP_START] = KIND_START;
    for (let s = 1; s < FIXED_STATES; s++) this.kind[s] = KIND_FIXED;
    let count = FIXED_STATES;
    const newState = (kind: number, op: number): number => {
      this.kind[count] = kind;
      this.op[count] = op;
      return count++;
    };
    const link = (from: number, byte: number, to: number): void => {
      const at = (from << 8) | byte;
      if (this.next[at] !== 0 && this.next[at] !== to) throw new Error(`op table: byte ${byte} leads two ways`);
      this.next[at] = to;
    };
    ops.forEach((o, index) => {
      const kw = o.keyword.toUpperCase();
      let s: number = CoreState.OP_START;
      let prefix = '';
      for (const ch of kw) {
        prefix += ch;
        const code = ch.charCodeAt(0);
        let to = this.next[(s << 8) | code]!;
        if (to === 0) {
          to = newState(KIND_KEYWORD, 0);
          this.prefixes.set(prefix, to);
        }
        link(s, code, to);
        if (code >= 0x41 && code <= 0x5a) link(s, code | 0x20, to);
        s = to;
      }
      if (o.form === ArgForm.NONE) {
        this.kind[s] = KIND_EOL;
        this.op[s] = index;
        return;
      }
      const argKind = o.form === ArgForm.MSG ? KIND_MSG_ARG : KIND_ARG;
      let arg: number;
      if (o.blank) {
        const spc = newState(KIND_SKIP, index);
        arg = newState(argKind, index);
        this.argState[spc] = arg;
        link(s, Byte.SPACE, spc);
        link(s, Byte.TAB, spc);
      } else {
        arg = newState(argKind, index);
        this.kind[s] = KIND_SKIP;
        this.op[s] = index;
        this.argState[s] = arg;
      }
      if (o.fast) {
        if (!/^[A-Z]{3,4}$/.test(kw) || !o.blank) throw new Error(`op table: fast keyword ${kw} must be 3 or 4 letters and a blank`);
        let word = 0;
        for (const ch of kw) word = (word << 8) | ch.charCodeAt(0);
        const first = kw.charCodeAt(0);
        for (const b of [first, first | 0x20]) {
          this.fastWord[b] = word;
          this.fastArg[b] = arg;
        }
      }
    });
  }

  /** The state after a keyword prefix (for tests and diagnostics), e.g. `stateOf('+O')`. */
  stateOf(prefix: string): number {
    const s = this.prefixes.get(prefix.toUpperCase());
    if (s === undefined) throw new Error(`no state for ${prefix}`);
    return s;
  }
}

export interface ParserLimits {
  /** Largest accepted payload (headers included) in bytes; negative means no limit. */
  maxPayload: number;
  /** Longest accepted control line in bytes, CRLF excluded. */
  maxControlLine: number;
}

export abstract class ParserCore {
  protected readonly table: OpTable;
  private readonly core: CoreHandler;
  /** How the log names this kind's peer and parser ("Client", "Route"), as nats-server. */
  private readonly peerName: string;
  protected maxPayload: number;
  protected maxControlLine: number;

  private st: number = CoreState.OP_START;
  private isPaused = false;
  private inParse = false;
  /** Input received while paused (or re-entrantly), in order; copies, since callers reuse buffers. */
  private queue: Uint8Array[] = [];

  // Control line carried over a read boundary.
  protected argBuf = new Uint8Array(INITIAL_ARG_SCRATCH_BYTES);
  private argLen = 0;
  private argCarried = false;

  /** The operation whose payload is being read across reads: its sizes and token count (its line is in argBuf). */
  private msgOp = 0;
  protected size = 0;
  private headerSize = -1;
  private msgTokens = 0;

  // Payload carried over a read boundary.
  private msgBuf: Uint8Array | null = null;
  private msgLen = 0;

  // Argument token boundaries of the current control line (reused).
  protected tokStart = new Int32Array(SCAN_TOKENS);
  protected tokEnd = new Int32Array(SCAN_TOKENS);
  /** Results of scanLine: token count and where the line ends (CR excluded). */
  private tokCount = 0;
  private lineEnd = 0;

  constructor(table: OpTable, peerName: string, limits: ParserLimits, handler: CoreHandler) {
    this.table = table;
    this.core = handler;
    this.peerName = peerName;
    this.maxPayload = limits.maxPayload;
    this.maxControlLine = limits.maxControlLine;
  }

  /** A control line of one of the kind's own NONE or LINE operations is complete. */
  protected abstract onLineOp(op: number, src: Uint8Array, start: number, end: number): void;
  /**
   * A MSG operation is complete: its control line is in `src`, split into `n` tokens
   * (tokStart/tokEnd); `headerSize` is -1 without headers; `payload` excludes the CRLF. Views
   * valid only during the call. (Arguments, not fields: storing the caller's buffer in a field
   * costs a write barrier a message.)
   */
  protected abstract onMsg(op: number, src: Uint8Array, n: number, headerSize: number, payload: Uint8Array): void;
  /** A MSG line failed the shared checks: close with the kind's error for `what`. */
  protected abstract badMsgLine(op: number, what: MsgLineError, src: Uint8Array, start: number, end: number): void;
  /**
   * For ops with `check`: the kind's own checks of the line `src[start, end)` of `n` tokens, of
   * which the first SCAN_TOKENS are recorded (tokenize records them all). Returns the token
   * count, or -1 after failing.
   */
  protected checkMsgLine(_op: number, _src: Uint8Array, _start: number, _end: number, n: number): number {
    return n;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get closed(): boolean {
    return this.st === CoreState.CLOSED;
  }

  /** Current state, for tests and diagnostics. */
  get state(): number {
    return this.st;
  }

  /** Stop parsing for good (the connection is closing). */
  close(): void {
    this.st = CoreState.CLOSED;
    this.isPaused = false;
    this.queue.length = 0;
    this.msgBuf = null;
  }

  /**
   * Hold further callbacks until resume(); input keeps being accepted and queued (as copies,
   * unbounded), so the caller should stop reading its socket while `paused` is true —
   * nats-server gets the same back-pressure by doing the work inside its read loop.
   */
  pause(): void {
    if (this.st !== CoreState.CLOSED) this.isPaused = true;
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    // Called from inside a callback: the running loop sees the flag and goes on.
    if (this.inParse) return;
    this.inParse = true;
    try {
      this.drain();
    } finally {
      this.inParse = false;
    }
  }

  /** Feed bytes. Never throws for bad input; errors go to the handler's onProtocolError. */
  parse(chunk: Uint8Array): void {
    if (this.st === CoreState.CLOSED || chunk.length === 0) return;
    if (this.isPaused || this.inParse) {
      this.queue.push(chunk.slice());
      return;
    }
    this.inParse = true;
    try {
      this.run(chunk);
      this.drain();
    } finally {
      this.inParse = false;
    }
  }

  private drain(): void {
    while (this.queue.length > 0 && !this.isPaused && this.st !== CoreState.CLOSED) {
      this.run(this.queue.shift()!);
    }
  }

  /**
   * After a callback: returns true if parsing must stop here, keeping the unread rest of `buf`
   * (from `next`) at the head of the queue when paused.
   */
  private mustStop(buf: Uint8Array, next: number): boolean {
    if (this.st === CoreState.CLOSED) return true;
    if (!this.isPaused) return false;
    if (next < buf.length) this.queue.unshift(buf.slice(next));
    return true;
  }

  private run(buf: Uint8Array): void {
    const len = buf.length;
    const t = this.table;
    const next = t.next;
    const kinds = t.kind;
    const fastWord = t.fastWord;
    const fastArg = t.fastArg;
    const opOf = t.op;
    const msgInfo = t.msgInfo;
    for (let i = 0; i < len; i++) {
      const b = buf[i]!;
      const st = this.st;
      switch (kinds[st]) {
        case KIND_START: {
          const want = fastWord[b]!;
          if (want !== 0) {
            // A hot operation whose keyword (3 or 4 letters, any case) and a blank are whole in
            // this read goes straight to its argument; the keyword states see the same bytes
            // when they arrive in pieces.
            const k = want > 0xffffff ? 4 : 3;
            if (i + k + 1 < len) {
              let word = ((b & Byte.CASE_FOLD_MASK) << 16) | ((buf[i + 1]! & Byte.CASE_FOLD_MASK) << 8) | (buf[i + 2]! & Byte.CASE_FOLD_MASK);
              if (k === 4) word = (word << 8) | (buf[i + 3]! & Byte.CASE_FOLD_MASK);
              const blank = buf[i + k];
              if (word === want && (blank === Byte.SPACE || blank === Byte.TAB)) {
                let j = i + k + 1;
                while (j < len && (buf[j] === Byte.SPACE || buf[j] === Byte.TAB)) j++;
                const arg = fastArg[b]!;
                // Only blanks left in this read: wait in the blank state, just before the argument's.
                this.st = j < len ? arg : arg - 1;
                i = j - 1;
                break;
              }
            }
          }
          const to = next[b]!;
          if (to === 0) return this.unknownOperation(buf, i);
          this.st = to;
          break;
        }

        case KIND_KEYWORD: {
          const to = next[(st << 8) | b]!;
          if (to === 0) return this.unknownOperation(buf, i);
          this.st = to;
          break;
        }

        case KIND_SKIP:
          if (b === Byte.SPACE || b === Byte.TAB) break;
          // The argument starts at this byte: handle it in the argument state.
          this.st = t.argState[st]!;
          i--;
          break;

        case KIND_EOL: {
          // As nats-server: anything up to the LF is ignored ("PING foo\r\n" is a PING).
          const nl = buf.indexOf(Byte.LF, i);
          if (nl < 0) return;
          this.st = CoreState.OP_START;
          i = nl;
          this.lineOp(t.op[st]!, buf, 0, 0);
          if (this.mustStop(buf, i + 1)) return;
          break;
        }

        case KIND_MSG_ARG: {
          // The hot path: one pass finds the blanks and the LF of a line that is whole in this
          // read; a line carried over from an earlier read takes the general path.
          const op = opOf[st]!;
          let src = buf;
          let start = i;
          let end: number;
          let nl: number;
          let n: number;
          if (!this.argCarried) {
            nl = this.scanLine(buf, i);
            if (nl < 0) {
              this.carryArg(buf, i, len);
              return;
            }
            end = this.lineEnd;
            n = this.tokCount;
          } else {
            nl = buf.indexOf(Byte.LF, i);
            if (nl < 0) {
              this.carryArg(buf, i, len);
              return;
            }
            end = this.takeCarriedArg(buf, i, nl);
            if (end < 0) return;
            src = this.argBuf;
            start = 0;
            if (end > start && src[end - 1] === Byte.CR) end--;
            n = this.tokenize(src, start, end, false);
          }
          if (end - start > this.maxControlLine) return this.maxControlLineExceeded();
          this.st = CoreState.OP_START;
          const info = msgInfo[op]!;
          const maxArgs = (info >> 8) & 0xff;
          if (n < (info & 0xff) || (n > maxArgs && maxArgs !== UNBOUNDED_ARGS)) return this.badMsgLine(op, MsgLineError.ARGS, src, start, end);
          if ((info & MSG_CHECK) !== 0) {
            n = this.checkMsgLine(op, src, start, end, n);
            if (n < 0) return;
          }
          const ts = this.tokStart;
          const te = this.tokEnd;
          const size = parseSize(src, ts[n - 1]!, te[n - 1]!);
          let hdr = -1;
          if ((info & MSG_HEADERS) !== 0) {
            hdr = parseSize(src, ts[n - 2]!, te[n - 2]!);
            if (hdr < 0) return this.badMsgLine(op, MsgLineError.HEADER_SIZE, src, start, end);
            if (size < 0) return this.badMsgLine(op, MsgLineError.TOTAL_SIZE, src, start, end);
            if (hdr > size) return this.badMsgLine(op, MsgLineError.HEADER_OVER_TOTAL, src, start, end);
          } else if (size < 0) {
            return this.badMsgLine(op, MsgLineError.SIZE, src, start, end);
          }
          if (this.maxPayload >= 0 && size > this.maxPayload) {
            this.size = size;
            return this.maxPayloadExceeded();
          }
          this.size = size;
          const payloadStart = nl + 1;
          const payloadEnd = payloadStart + size;
          if (payloadEnd + CRLF_LENGTH <= len) {
            // Whole message in this read: jump over the payload.
            if (buf[payloadEnd] !== Byte.CR || buf[payloadEnd + 1] !== Byte.LF) {
              return this.unknownOperation(buf, buf[payloadEnd] !== Byte.CR ? payloadEnd : payloadEnd + 1);
            }
            i = payloadEnd + 1;
            // A plain Uint8Array view: Buffer#subarray would build a FastBuffer, ~10 ns more a message.
            this.onMsg(op, src, n, hdr, new Uint8Array(buf.buffer, buf.byteOffset + payloadStart, size));
            if (this.mustStop(buf, i + 1)) return;
          } else {
            this.headerSize = hdr;
            this.msgTokens = n;
            this.startSplitPayload(op, src, start, end, buf, payloadStart);
            return;
          }
          break;
        }

        case KIND_ARG: {
          const op = t.op[st]!;
          const nl = buf.indexOf(Byte.LF, i);
          if (nl < 0) {
            this.carryArg(buf, i, len);
            return;
          }
          let src = buf;
          let start = i;
          let end = nl;
          if (this.argCarried) {
            end = this.takeCarriedArg(buf, i, nl);
            if (end < 0) return;
            src = this.argBuf;
            start = 0;
          }
          if (end > start && src[end - 1] === Byte.CR) end--;
          if (end - start > this.maxControlLine) return this.maxControlLineExceeded();
          i = nl;
          this.st = CoreState.OP_START;
          this.lineOp(op, src, start, end);
          if (this.mustStop(buf, i + 1)) return;
          break;
        }

        default:
          switch (st) {
            case CoreState.MSG_PAYLOAD: {
              const msgBuf = this.msgBuf!;
              const n = Math.min(this.size - this.msgLen, len - i);
              msgBuf.set(buf.subarray(i, i + n), this.msgLen);
              this.msgLen += n;
              i += n - 1;
              if (this.msgLen === this.size) this.st = CoreState.MSG_END_R;
              break;
            }
            case CoreState.MSG_END_R:
              if (b !== Byte.CR) return this.unknownOperation(buf, i);
              this.st = CoreState.MSG_END_N;
              break;
            case CoreState.MSG_END_N: {
              if (b !== Byte.LF) return this.unknownOperation(buf, i);
              this.st = CoreState.OP_START;
              const msgBuf = this.msgBuf!;
              this.onMsg(this.msgOp, this.argBuf, this.msgTokens, this.headerSize, msgBuf.subarray(0, this.size));
              if (msgBuf.length > RETAINED_PAYLOAD_SCRATCH_BYTES && this.msgBuf === msgBuf) this.msgBuf = null;
              this.msgLen = 0;
              if (this.mustStop(buf, i + 1)) return;
              break;
            }
            default: // CLOSED
              return;
          }
      }
    }
  }

  /** A complete control line: the operations every kind has are handled here. */
  private lineOp(op: number, src: Uint8Array, start: number, end: number): void {
    const h = this.core;
    switch (this.table.role[op]) {
      case OpRole.PING:
        h.onPing();
        return;
      case OpRole.PONG:
        h.onPong();
        return;
      case OpRole.OK:
        return;
      case OpRole.ERR:
        this.peerError(src, start, end);
        return;
      case OpRole.CONNECT:
        if (h.onConnect(src.subarray(start, end)) === true) this.pause();
        return;
      default:
        this.onLineOp(op, src, start, end);
    }
  }

  /** The payload runs past this read: keep the arguments and what we have of it. */
  private startSplitPayload(op: number, src: Uint8Array, start: number, end: number, buf: Uint8Array, payloadStart: number): void {
    if (src !== this.argBuf) {
      // The line lives in the caller's buffer, which is gone after this read: keep a copy.
      this.ensureArgCapacity(end - start);
      this.argBuf.set(src.subarray(start, end), 0);
      this.msgTokens = this.tokenize(this.argBuf, 0, end - start, false);
    }
    this.msgOp = op;
    const size = this.size;
    if (this.msgBuf === null || this.msgBuf.length < size) {
      this.msgBuf = new Uint8Array(Math.max(size, INITIAL_ARG_SCRATCH_BYTES));
    }
    const n = Math.min(size, buf.length - payloadStart);
    this.msgBuf.set(buf.subarray(payloadStart, payloadStart + n), 0);
    this.msgLen = n;
    if (n < size) {
      this.st = CoreState.MSG_PAYLOAD;
      return;
    }
    // The payload is complete; only (part of) the CRLF is missing.
    this.st = CoreState.MSG_END_R;
    const rest = payloadStart + n;
    if (rest < buf.length) {
      if (buf[rest] !== Byte.CR) {
        this.unknownOperation(buf, rest);
        return;
      }
      this.st = CoreState.MSG_END_N;
    }
  }

  /**
   * Complete the carried control line with `buf[from, nl)` and take it: returns its length in
   * argBuf (a final CR included), or -1 with the parser closed when it is too long.
   */
  private takeCarriedArg(buf: Uint8Array, from: number, nl: number): number {
    if (!this.appendArg(buf, from, nl)) {
      this.maxControlLineExceeded();
      return -1;
    }
    const lineLength = this.argLen;
    this.argCarried = false;
    this.argLen = 0;
    return lineLength;
  }

  /** An argument runs past this read: save what we have, bounded by the control-line limit. */
  private carryArg(buf: Uint8Array, from: number, to: number): void {
    if (!this.appendArg(buf, from, to)) {
      this.maxControlLineExceeded();
      return;
    }
    this.argCarried = true;
  }

  /**
   * Append `buf[from, to)` to the carried argument. False when the argument, not counting a
   * trailing CR that may yet end it, exceeds the control-line limit — checked before storing so
   * an endless line cannot grow memory.
   */
  private appendArg(buf: Uint8Array, from: number, to: number): boolean {
    const total = this.argLen + (to - from);
    const lastIsCr = to > from ? buf[to - 1] === Byte.CR : this.argLen > 0 && this.argBuf[this.argLen - 1] === Byte.CR;
    if (total - (lastIsCr ? 1 : 0) > this.maxControlLine) return false;
    this.ensureArgCapacity(total);
    this.argBuf.set(buf.subarray(from, to), this.argLen);
    this.argLen = total;
    return true;
  }

  private ensureArgCapacity(needed: number): void {
    if (this.argBuf.length >= needed) return;
    let size = this.argBuf.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.argBuf.subarray(0, this.argLen));
    this.argBuf = grown;
  }

  private growTokens(): void {
    const s = new Int32Array(this.tokStart.length * 2);
    const e = new Int32Array(this.tokEnd.length * 2);
    s.set(this.tokStart);
    e.set(this.tokEnd);
    this.tokStart = s;
    this.tokEnd = e;
  }

  /**
   * One pass over a control line starting at `buf[from]`: records its blank-separated tokens as
   * {@link tokenize} would (a CR right before the LF ends the line, any other CR belongs to a
   * token) and returns the index of the LF, or -1 when the line runs past this read. Sets
   * tokCount and lineEnd.
   */
  private scanLine(buf: Uint8Array, from: number): number {
    const ts = this.tokStart;
    const te = this.tokEnd;
    const len = buf.length;
    let n = 0;
    let tokenStart = -1;
    for (let j = from; j < len; j++) {
      const b = buf[j]!;
      if (b > Byte.SPACE) {
        if (tokenStart < 0) tokenStart = j;
      } else if (b === Byte.SPACE || b === Byte.TAB) {
        if (tokenStart >= 0) {
          if (n < SCAN_TOKENS) {
            ts[n] = tokenStart;
            te[n] = j;
          }
          n++;
          tokenStart = -1;
        }
      } else if (b === Byte.LF) {
        const end = j > from && buf[j - 1] === Byte.CR ? j - 1 : j;
        if (tokenStart >= 0 && tokenStart < end) {
          if (n < SCAN_TOKENS) {
            ts[n] = tokenStart;
            te[n] = end;
          }
          n++;
        }
        this.tokCount = n;
        this.lineEnd = end;
        return j;
      } else if (tokenStart < 0) {
        tokenStart = j;
      }
    }
    return -1;
  }

  /**
   * The blank-separated tokens of `src[start, end)` into tokStart/tokEnd; returns their count.
   * SUB, UNSUB and the route's interest lines also split on CR, as nats-server's splitArg does.
   */
  protected tokenize(src: Uint8Array, start: number, end: number, crIsBlank: boolean): number {
    let n = 0;
    let tokenStart = -1;
    for (let i = start; i < end; i++) {
      const b = src[i]!;
      const blank = b === Byte.SPACE || b === Byte.TAB || (crIsBlank && b === Byte.CR);
      if (blank) {
        if (tokenStart >= 0) {
          if (n === this.tokStart.length) this.growTokens();
          this.tokStart[n] = tokenStart;
          this.tokEnd[n] = i;
          n++;
          tokenStart = -1;
        }
      } else if (tokenStart < 0) {
        tokenStart = i;
      }
    }
    if (tokenStart >= 0) {
      if (n === this.tokStart.length) this.growTokens();
      this.tokStart[n] = tokenStart;
      this.tokEnd[n] = end;
      n++;
    }
    return n;
  }

  protected unknownOperation(buf: Uint8Array, at: number): void {
    this.fail(
      ProtocolErrorCode.UNKNOWN_OPERATION,
      `${this.peerName} parser ERROR, state=${this.st}, i=${at}: proto=${quote(buf, at, Math.min(at + PROTO_SNIPPET_BYTES, buf.length))}...`,
      ErrText.UNKNOWN_OPERATION,
      CloseReason.PROTOCOL_VIOLATION,
    );
  }

  private maxPayloadExceeded(): void {
    this.fail(
      ProtocolErrorCode.MAX_PAYLOAD,
      `maximum payload exceeded: ${this.size} vs ${this.maxPayload}`,
      ErrText.MAX_PAYLOAD,
      CloseReason.MAX_PAYLOAD,
    );
  }

  private maxControlLineExceeded(): void {
    this.fail(
      ProtocolErrorCode.MAX_CONTROL_LINE,
      `${ErrText.MAX_CONTROL_LINE}: max_control_line ${this.maxControlLine}`,
      ErrText.MAX_CONTROL_LINE,
      CloseReason.MAX_CONTROL_LINE,
    );
  }

  /** Close for a malformed control line; the log line quotes it after `what`, as nats-server. */
  protected badArgs(code: ProtocolErrorCode, what: string, src: Uint8Array, start: number, end: number): false {
    this.fail(code, `${what}: ${quote(src, start, end)}`, null, CloseReason.PROTOCOL_VIOLATION);
    return false;
  }

  /** The peer sent `-ERR`: nats-server logs it and closes (Parse Error). */
  private peerError(src: Uint8Array, start: number, end: number): void {
    this.fail(
      ProtocolErrorCode.PEER_ERROR,
      `${this.peerName} Error ${Buffer.from(src.buffer, src.byteOffset + start, end - start).toString('latin1')}`,
      null,
      CloseReason.PARSE_ERROR,
    );
  }

  protected fail(code: ProtocolErrorCode, logMessage: string, errText: string | null, reason: CloseReason): void {
    this.close();
    this.core.onProtocolError(new ProtocolError(code, logMessage, errText, reason));
  }
}

/** Quote protocol bytes for a log line (cold path only). */
export function quote(buf: Uint8Array, start: number, end: number): string {
  return JSON.stringify(Buffer.from(buf.buffer, buf.byteOffset + start, Math.max(0, end - start)).toString('latin1'));
}

/** True when `buf[start, end)` parses as JSON (cold path: INFO lines). */
export function isJson(buf: Uint8Array, start: number, end: number): boolean {
  try {
    JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}
