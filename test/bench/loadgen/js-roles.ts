// The load generator's JetStream roles, run inside an agent thread over raw TCP: an API
// request, a publisher that keeps a window of PUBs awaiting their acks, and a pull consumer
// that keeps MSG.NEXT requests open and acks every delivery on its reply subject.

import { MsgParser, containsBytes, parseDecimal, statusCode } from './msg-parser.ts';
import type { MsgFields } from './msg-parser.ts';
import type { AgentReply, AgentRequest, JsPubResult, JsPullResult, Target } from './protocol.ts';
import { RawConn } from './raw-conn.ts';
import { SeqTally } from './wire.ts';

// Headers on: a pull request's end (408, 404, 409) only reaches a client that takes HMSG.
const CONNECT_JSON = JSON.stringify({ verbose: false, pedantic: false, echo: true, headers: true, no_responders: true, lang: 'bench', version: '0', protocol: 1 });
const PUB_ACK_INBOX = '_INBOX.jsbench.ack.';
const PULL_INBOX = '_INBOX.jsbench.pull.';
const API_INBOX = '_INBOX.jsbench.api';
const ERROR_KEY = Buffer.from('"error"');
/** How often a running role looks at the clock for its deadline and for silence. */
const TICK_MS = 20;
/** Ack bytes are gathered in slabs of this size and written once per received chunk. */
const ACK_SLAB_BYTES = 64 * 1024;
/** Pull request status codes that end the request (timeout, no messages, and the 409 family). */
const STATUS_REQUEST_TIMEOUT = 408;
const STATUS_NO_MESSAGES = 404;
const STATUS_CONFLICT = 409;

const nowNs = (): number => Number(process.hrtime.bigint());

/** A raw client connection whose messages are parsed; `afterChunk` runs once per received chunk. */
class JsConn extends RawConn {
  readonly parser: MsgParser;
  afterChunk: () => void = () => {};

  constructor(target: Target, onMsg: (m: MsgFields) => void) {
    super(target, CONNECT_JSON);
    this.parser = new MsgParser(onMsg, (line) => this.onControl(line));
  }

  protected onData(d: Buffer): void {
    this.parser.push(d);
    this.afterChunk();
  }

  faults(): string[] {
    return [this.parser.fault, this.closedWith, ...this.errors].filter((x): x is string => !!x);
  }
}

let live: JsConn[] = [];

function track(c: JsConn): JsConn {
  live.push(c);
  return c;
}

export function closeJsConns(): void {
  for (const c of live) c.close();
  live = [];
}

function pubBytes(subject: string, reply: string, payload: string): string {
  return `PUB ${subject} ${reply} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`;
}

/** Sends one request and resolves with the reply's payload as text. */
export async function jsRequest(req: Extract<AgentRequest, { op: 'jsRequest' }>): Promise<AgentReply> {
  let answer: ((text: string) => void) | null = null;
  const c = track(
    new JsConn(req.target, (m) => answer?.(m.buf.toString('utf8', m.payloadStart, m.payloadEnd))),
  );
  try {
    await c.handshake(`SUB ${API_INBOX} 1\r\n`);
    const text = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${req.subject} within ${req.timeoutMs} ms ${c.faults().join(' ')}`)), req.timeoutMs);
      answer = (t) => {
        clearTimeout(timer);
        resolve(t);
      };
      c.sock.write(pubBytes(req.subject, API_INBOX, req.body));
    });
    return { ok: true, api: text };
  } finally {
    c.close();
  }
}

/** PUBs with numbered reply inboxes, up to `window` awaiting acks at any time. */
export async function jsPublish(req: Extract<AgentRequest, { op: 'jsPublish' }>): Promise<AgentReply> {
  const tally = new SeqTally();
  const prefixBytes = Buffer.byteLength(PUB_ACK_INBOX);
  let acked = 0;
  let errors = 0;
  let firstError = '';
  let lastAckNs = 0;
  const c = track(
    new JsConn(req.target, (m) => {
      tally.add(parseDecimal(m.buf, m.subjectStart + prefixBytes, m.subjectEnd));
      if (containsBytes(m.buf, m.payloadStart, m.payloadEnd, ERROR_KEY)) {
        errors++;
        firstError ||= m.buf.toString('utf8', m.payloadStart, Math.min(m.payloadEnd, m.payloadStart + 200));
      } else acked++;
    }),
  );
  await c.handshake(`SUB ${PUB_ACK_INBOX}* 1\r\n`);
  const payload = Buffer.alloc(req.size, 0x78);
  const rotate = req.subjects ?? 0;
  const headFixed = `PUB ${req.subject} ${PUB_ACK_INBOX}`;
  const tail = ` ${req.size}\r\n`;
  // The longest record this run can write, to size each write's buffer.
  const maxRecord = Buffer.byteLength(headFixed + String(req.maxMsgs) + tail) + 40 + req.size + 2;
  const head = (n: number): string => (rotate > 0 ? `PUB ${req.subject}${n % rotate} ${PUB_ACK_INBOX}${n}${tail}` : `${headFixed}${n}${tail}`);

  return new Promise((resolve) => {
    const startNs = nowNs();
    const endNs = startNs + req.durationMs * 1e6;
    let sent = 0;
    let lastProgressNs = startNs;
    let finished = false;
    const stopping = (): boolean => sent >= req.maxMsgs || nowNs() >= endNs;
    const topUp = (): void => {
      if (stopping()) return;
      const room = Math.min(req.window - (sent - acked - errors), req.maxMsgs - sent);
      if (room <= 0) return;
      const out = Buffer.allocUnsafe(room * maxRecord);
      let at = 0;
      for (let k = 0; k < room; k++) {
        at += out.write(head(sent + k), at, 'latin1');
        at += payload.copy(out, at);
        out[at++] = 13;
        out[at++] = 10;
      }
      sent += room;
      c.sock.write(out.subarray(0, at));
    };
    const finish = (fault?: string): void => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      const check = tally.check(sent);
      const result: JsPubResult = {
        sent,
        acked,
        errors,
        firstError,
        duplicatedAcks: check.duplicated + check.unexpected,
        missingAcks: check.missing,
        startNs,
        lastAckNs,
        faults: [fault, ...c.faults()].filter((x): x is string => !!x),
      };
      c.close();
      resolve({ ok: true, jsPub: result });
    };
    let seen = 0;
    c.afterChunk = () => {
      if (acked + errors !== seen) {
        seen = acked + errors;
        lastAckNs = lastProgressNs = nowNs();
      }
      if (stopping() && acked + errors >= sent) finish();
      else topUp();
    };
    const timer = setInterval(() => {
      if (c.closedWith) finish();
      else if (stopping() && acked + errors >= sent) finish();
      else if (nowNs() - lastProgressNs > req.idleMs * 1e6) finish(`no ack for ${req.idleMs} ms (${sent - acked - errors} outstanding)`);
    }, TICK_MS);
    topUp();
  });
}

/** A durable pull consumer: `outstanding` MSG.NEXT requests open, every delivery acked at once. */
export async function jsPull(req: Extract<AgentRequest, { op: 'jsPull' }>): Promise<AgentReply> {
  const prefixBytes = Buffer.byteLength(PULL_INBOX);
  // A delivery's MSG line names the stream's subject, not the request's inbox, so deliveries are
  // credited to the oldest open request (the server fills requests in turn); only a status
  // message names the inbox of the request it ends.
  const pending: { id: number; due: number }[] = [];
  const statuses: Record<string, number> = {};
  let consumed = 0;
  let unasked = 0;
  let slabs: Buffer[] = [];
  let slab = Buffer.allocUnsafe(ACK_SLAB_BYTES);
  let slabAt = 0;
  const ackTail = Buffer.from(' 0\r\n\r\n');
  const c = track(
    new JsConn(req.target, (m) => {
      if (m.replyStart >= 0) {
        consumed++;
        // PUB <reply> 0\r\n\r\n — an empty payload is +ACK.
        const need = 4 + (m.replyEnd - m.replyStart) + ackTail.length;
        if (slabAt + need > slab.length) {
          slabs.push(slab.subarray(0, slabAt));
          slab = Buffer.allocUnsafe(Math.max(ACK_SLAB_BYTES, need));
          slabAt = 0;
        }
        slab.write('PUB ', slabAt, 'latin1');
        slabAt += 4;
        slabAt += m.buf.copy(slab, slabAt, m.replyStart, m.replyEnd);
        slabAt += ackTail.copy(slab, slabAt);
        const head = pending[0];
        if (head === undefined) unasked++;
        else if (--head.due === 0) pending.shift();
      } else {
        const code = statusCode(m);
        statuses[code] = (statuses[code] ?? 0) + 1;
        if (code === STATUS_REQUEST_TIMEOUT || code === STATUS_NO_MESSAGES || code === STATUS_CONFLICT) {
          const id = parseDecimal(m.buf, m.subjectStart + prefixBytes, m.subjectEnd);
          const at = pending.findIndex((p) => p.id === id);
          if (at >= 0) pending.splice(at, 1);
        }
      }
    }),
  );
  await c.handshake(`SUB ${PULL_INBOX}* 1\r\n`);
  const nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${req.stream}.${req.consumer}`;
  const body = JSON.stringify({ batch: req.batch, expires: req.expiresMs * 1e6 });

  return new Promise((resolve) => {
    const startNs = nowNs();
    const endNs = startNs + req.durationMs * 1e6;
    let nextId = 0;
    let requested = 0;
    let lastProgressNs = startNs;
    let seen = 0;
    let finished = false;
    const stopping = (): boolean => requested >= req.total || nowNs() >= endNs;
    const issue = (): void => {
      let out = '';
      while (!stopping() && pending.length < req.outstanding) {
        const want = Math.min(req.batch, req.total - requested);
        const id = nextId++;
        pending.push({ id, due: want });
        requested += want;
        out += pubBytes(nextSubject, `${PULL_INBOX}${id}`, want === req.batch ? body : JSON.stringify({ batch: want, expires: req.expiresMs * 1e6 }));
      }
      if (out) c.sock.write(out);
    };
    const finish = async (fault?: string): Promise<void> => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      const faults = [fault, unasked ? `${unasked} deliveries beyond what was requested` : ''];
      let end = nowNs();
      try {
        await c.ping(); // every ack before it has been read by the server
        end = nowNs();
      } catch (e) {
        faults.push((e as Error).message);
      }
      const result: JsPullResult = {
        consumed,
        requests: nextId,
        statuses,
        startNs,
        endNs: end,
        faults: [...faults, ...c.faults()].filter((x): x is string => !!x),
      };
      c.close();
      resolve({ ok: true, jsPull: result });
    };
    const done = (): boolean => consumed >= req.total || (stopping() && pending.length === 0);
    c.afterChunk = () => {
      if (slabAt > 0 || slabs.length) {
        slabs.push(slab.subarray(0, slabAt));
        slab = slab.subarray(slabAt);
        if (slab.length < 1024) slab = Buffer.allocUnsafe(ACK_SLAB_BYTES);
        slabAt = 0;
        if (slabs.length === 1) c.sock.write(slabs[0]!);
        else c.sock.write(Buffer.concat(slabs));
        slabs = [];
      }
      if (consumed !== seen) {
        seen = consumed;
        lastProgressNs = nowNs();
      }
      if (done()) void finish();
      else issue();
    };
    const timer = setInterval(() => {
      if (c.closedWith) void finish();
      else if (done()) void finish();
      else if (nowNs() - lastProgressNs > req.idleMs * 1e6) void finish(`no delivery for ${req.idleMs} ms (${pending.length} requests open)`);
      else issue(); // the deadline may have passed with no traffic to notice it
    }, TICK_MS);
    issue();
  });
}
