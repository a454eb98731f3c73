// A small reader of server-to-client bytes for the JetStream roles, which (unlike the core
// scenarios' fixed-size records) need each message's subject, reply subject and payload: acks
// are told apart by their inbox, pull deliveries are acked on their reply subject, and status
// messages (HMSG with `NATS/1.0 408 …`) end a pull request. Fields are byte ranges into the
// buffer in hand, handed over in one reused object, so a message costs no strings.

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const CHAR_M = 77;
const CHAR_H = 72;
/** MSG has at most 4 arguments, HMSG 5; one more token is enough to notice a malformed line. */
const MAX_TOKENS = 6;
/** A control line (INFO, -ERR) longer than this is nonsense from the server's side. */
const MAX_LINE_BYTES = 64 * 1024;
/** `NATS/1.0 ` before a status code in a header block. */
const STATUS_AT = 9;

/** One delivered message as ranges of `buf`. Valid only inside the callback; the object is reused. */
export interface MsgFields {
  buf: Buffer;
  subjectStart: number;
  subjectEnd: number;
  /** -1 when the message has no reply subject. */
  replyStart: number;
  replyEnd: number;
  /** HMSG's header block; for MSG both equal payloadStart. */
  headerStart: number;
  headerEnd: number;
  payloadStart: number;
  payloadEnd: number;
}

/** Parses an unsigned decimal from bytes; NaN if a byte is not a digit or the range is empty. */
export function parseDecimal(buf: Uint8Array, start: number, end: number): number {
  if (end <= start) return NaN;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/** Whether `needle` occurs in buf[from, to). */
export function containsBytes(buf: Uint8Array, from: number, to: number, needle: Uint8Array): boolean {
  const last = to - needle.length;
  outer: for (let i = from; i <= last; i++) {
    for (let k = 0; k < needle.length; k++) if (buf[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

/** The status code of an HMSG (`NATS/1.0 408 …`), or 0 when the message carries none. */
export function statusCode(m: MsgFields): number {
  if (m.headerEnd - m.headerStart < STATUS_AT + 3) return 0;
  return parseDecimal(m.buf, m.headerStart + STATUS_AT, m.headerStart + STATUS_AT + 3) || 0;
}

/** The value of header `name` (e.g. `Nats-Pending-Messages`) as a number, NaN when absent. */
export function headerNumber(m: MsgFields, name: string): number {
  const text = m.buf.toString('latin1', m.headerStart, m.headerEnd);
  const at = text.toLowerCase().indexOf(`\r\n${name.toLowerCase()}:`);
  if (at < 0) return NaN;
  const end = text.indexOf('\r\n', at + 2);
  return Number(text.slice(at + name.length + 3, end < 0 ? undefined : end).trim());
}

export class MsgParser {
  msgs = 0;
  fault: string | null = null;
  private readonly onMsg: (m: MsgFields) => void;
  private readonly onControl: (line: string) => void;
  /** Bytes of an incomplete line or message, kept for the next chunk. */
  private rest: Buffer | null = null;
  private readonly tokStart = new Int32Array(MAX_TOKENS);
  private readonly tokEnd = new Int32Array(MAX_TOKENS);
  private readonly fields: MsgFields = {
    buf: Buffer.alloc(0),
    subjectStart: 0,
    subjectEnd: 0,
    replyStart: -1,
    replyEnd: -1,
    headerStart: 0,
    headerEnd: 0,
    payloadStart: 0,
    payloadEnd: 0,
  };

  constructor(onMsg: (m: MsgFields) => void, onControl: (line: string) => void = () => {}) {
    this.onMsg = onMsg;
    this.onControl = onControl;
  }

  push(chunk: Buffer): void {
    if (this.fault) return;
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let i = 0;
    while (i < buf.length && !this.fault) {
      const next = this.one(buf, i);
      if (next < 0) break;
      i = next;
    }
    if (i < buf.length && !this.fault) {
      if (buf.length - i > MAX_LINE_BYTES && buf.indexOf(LF, i) < 0) this.fault = 'line longer than 64 KiB';
      // A copy, so the socket's chunk is not kept alive by a few trailing bytes.
      else this.rest = Buffer.from(buf.subarray(i));
    }
  }

  /** Handles the line or message at `i`; returns where the next begins, or -1 if it is incomplete. */
  private one(buf: Buffer, i: number): number {
    const lf = buf.indexOf(LF, i);
    if (lf < 0) return -1;
    const lineEnd = lf > i && buf[lf - 1] === CR ? lf - 1 : lf;
    const op = buf[i];
    const isMsg = op === CHAR_M && buf[i + 1] === 83 && buf[i + 2] === 71 && buf[i + 3] === SPACE; // "MSG "
    const isHmsg = op === CHAR_H && buf[i + 4] === SPACE && buf[i + 1] === 77; // "HMSG "
    if (!isMsg && !isHmsg) {
      this.onControl(buf.toString('latin1', i, lineEnd));
      return lf + 1;
    }
    // MSG <subject> <sid> [reply] <total>; HMSG <subject> <sid> [reply] <header> <total>
    const n = this.tokenize(buf, i + (isMsg ? 4 : 5), lineEnd);
    const withReply = isMsg ? n === 4 : n === 5;
    if (isMsg ? n !== 3 && n !== 4 : n !== 4 && n !== 5) {
      this.fault = `malformed line ${JSON.stringify(buf.toString('latin1', i, Math.min(lineEnd, i + 120)))}`;
      return -1;
    }
    const total = parseDecimal(buf, this.tokStart[n - 1]!, this.tokEnd[n - 1]!);
    const hdr = isHmsg ? parseDecimal(buf, this.tokStart[n - 2]!, this.tokEnd[n - 2]!) : 0;
    if (!(total >= 0) || !(hdr >= 0) || hdr > total) {
      this.fault = `bad sizes in ${JSON.stringify(buf.toString('latin1', i, Math.min(lineEnd, i + 120)))}`;
      return -1;
    }
    const payloadStart = lf + 1;
    const end = payloadStart + total + 2;
    if (end > buf.length) return -1;
    if (buf[end - 2] !== CR || buf[end - 1] !== LF) {
      this.fault = 'message does not end with \\r\\n: wrong size?';
      return -1;
    }
    const f = this.fields;
    f.buf = buf;
    f.subjectStart = this.tokStart[0]!;
    f.subjectEnd = this.tokEnd[0]!;
    f.replyStart = withReply ? this.tokStart[2]! : -1;
    f.replyEnd = withReply ? this.tokEnd[2]! : -1;
    f.headerStart = payloadStart;
    f.headerEnd = payloadStart + hdr;
    f.payloadStart = payloadStart + hdr;
    f.payloadEnd = payloadStart + total;
    this.msgs++;
    this.onMsg(f);
    return end;
  }

  /** Splits buf[from, to) on spaces and tabs into the token arrays; returns the count (capped). */
  private tokenize(buf: Buffer, from: number, to: number): number {
    let n = 0;
    let i = from;
    while (i < to && n < MAX_TOKENS) {
      while (i < to && (buf[i] === SPACE || buf[i] === TAB)) i++;
      if (i >= to) break;
      this.tokStart[n] = i;
      while (i < to && buf[i] !== SPACE && buf[i] !== TAB) i++;
      this.tokEnd[n++] = i;
    }
    return n;
  }
}
