// One load-generator thread. The bench's main thread tells it, by message, to play a role —
// subscribers, a publisher, a requester, a responder, or a crowd of idle connections — over raw
// TCP with hand-built protocol bytes, and it answers with counts, timestamps and its own CPU.
// Timestamps are process.hrtime (one monotonic clock shared by every thread of the process).

import { parentPort } from 'node:worker_threads';
import { closeJsConns, jsPublish, jsPull, jsRequest } from './js-roles.ts';
import { RawConn } from './raw-conn.ts';
import { RecordCounter, SeqTally, buildPubBatch, stampSeqs } from './wire.ts';
import type { AgentReply, AgentRequest, SubsResult, Target } from './protocol.ts';

if (!parentPort) throw new Error('agent.ts runs as a worker thread');
const port = parentPort;

/** Each write hands the kernel this much: big enough that syscalls are not the cost. */
const PUB_BATCH_BYTES = 256 * 1024;
/** A request unanswered this long means the server lost it; the scenario fails rather than hangs. */
const REPLY_TIMEOUT_MS = 5000;
const CONNECT_JSON = JSON.stringify({ verbose: false, pedantic: false, echo: true, lang: 'bench', version: '0', protocol: 1 });

const nowNs = (): number => Number(process.hrtime.bigint());

/** A raw client connection whose bytes in go through a RecordCounter. */
class Conn extends RawConn {
  readonly counter: RecordCounter;
  /** When the last complete record arrived (control lines such as PONG do not count). */
  lastRecordNs = 0;

  constructor(target: Target, recordBytes: number, seq?: { offset: number; onSeq: (seq: number) => void }) {
    super(target, CONNECT_JSON);
    this.counter = new RecordCounter(recordBytes, {
      seqOffset: seq?.offset,
      onSeq: seq?.onSeq,
      onControl: (line) => this.onControl(line),
    });
  }

  protected onData(d: Buffer): void {
    const before = this.counter.records;
    this.counter.push(d);
    if (this.counter.records !== before) this.lastRecordNs = nowNs();
  }
}

let conns: Conn[] = [];
let tally: SeqTally | null = null;
let subStart = 0;

function closeAll(): void {
  for (const c of conns) c.close();
  conns = [];
  tally = null;
}

async function openSubs(req: Extract<AgentRequest, { op: 'subs' }>): Promise<AgentReply> {
  closeAll();
  tally = req.seqOffset !== undefined ? new SeqTally() : null;
  const t = tally;
  const seq = t && req.seqOffset !== undefined ? { offset: req.seqOffset, onSeq: (s: number) => t.add(s) } : undefined;
  for (const s of req.subs) {
    const c = new Conn(s.target, req.recordBytes, seq);
    conns.push(c);
  }
  await Promise.all(conns.map((c, i) => {
    const s = req.subs[i]!;
    return c.handshake(`SUB ${s.subject}${s.queue ? ` ${s.queue}` : ''} ${s.sid}\r\n`);
  }));
  return { ok: true };
}

/** Waits until the subscribers together hold `total` records (or each holds `perConn`), or go quiet. */
function awaitSubs(req: Extract<AgentRequest, { op: 'expect' }>): Promise<AgentReply> {
  subStart = req.startNs;
  return new Promise((resolve) => {
    const done = (): boolean => {
      if (req.perConn !== undefined) return conns.every((c) => c.counter.records >= req.perConn! || c.closedWith || c.counter.fault);
      return conns.reduce((n, c) => n + c.counter.records, 0) >= req.total! || conns.every((c) => c.closedWith || c.counter.fault);
    };
    let lastProgress = nowNs();
    let lastCount = -1;
    const giveUpAt = nowNs() + req.deadlineMs * 1e6;
    let gaveUp = '';
    const finish = async (): Promise<void> => {
      // Anything still on the wire (a duplicate, say) arrives before the answer to a PING; a
      // subscriber that was given up on would wait behind its whole backlog, so it is not asked.
      if (!gaveUp) await Promise.all(conns.map((c) => c.ping().catch(() => {})));
      const result: SubsResult = {
        records: conns.map((c) => c.counter.records),
        lastNs: conns.map((c) => c.lastRecordNs),
        faults: [gaveUp, ...conns.flatMap((c) => [c.counter.fault?.reason, c.closedWith, ...c.errors])].filter((x): x is string => !!x),
        startNs: subStart,
      };
      if (tally && req.total !== undefined) result.exactlyOnce = tally.check(req.total);
      resolve({ ok: true, subs: result });
    };
    const tick = (): void => {
      const count = conns.reduce((n, c) => n + c.counter.records, 0);
      if (count !== lastCount) {
        lastCount = count;
        lastProgress = nowNs();
      }
      const now = nowNs();
      if (!done() && now > giveUpAt) gaveUp = `gave up waiting ${req.deadlineMs} ms after the last publish`;
      else if (!done() && now - lastProgress > req.idleMs * 1e6) gaveUp = `no delivery for ${req.idleMs} ms`;
      if (done() || gaveUp) void finish();
      else setTimeout(tick, 2);
    };
    tick();
  });
}

let pubConn: Conn | null = null;

async function openPub(target: Target): Promise<AgentReply> {
  pubConn?.close();
  pubConn = new Conn(target, 3);
  await pubConn.handshake('');
  return { ok: true };
}

/** Blasts PUB records for durationMs (or until maxMsgs), honouring back-pressure. */
function publish(req: Extract<AgentRequest, { op: 'publish' }>): Promise<AgentReply> {
  const c = pubConn!;
  const perBatch = Math.max(1, Math.floor(PUB_BATCH_BYTES / (req.subject.length + 12 + req.size)));
  const batch = buildPubBatch(req.subject, req.size, perBatch);
  return new Promise((resolve, reject) => {
    const startNs = nowNs();
    const endNs = startNs + req.durationMs * 1e6;
    let sent = 0;
    let writes = 0;
    let drains = 0;
    const pump = (): void => {
      if (c.closedWith) return reject(new Error(c.closedWith));
      while (sent < req.maxMsgs && nowNs() < endNs) {
        let buf = batch.buf;
        if (req.seq) {
          stampSeqs(batch, sent);
          buf = Buffer.from(batch.buf); // the socket may still hold the previous batch
        }
        sent += perBatch;
        writes++;
        if (!c.sock.write(buf)) {
          drains++;
          // A server that closes the connection never drains it: wake up for either.
          const wake = (): void => {
            c.sock.off('drain', wake);
            c.sock.off('close', wake);
            pump();
          };
          c.sock.on('drain', wake);
          c.sock.on('close', wake);
          return;
        }
      }
      resolve({ ok: true, pub: { sent, startNs, writtenNs: nowNs(), writes, drains } });
    };
    pump();
  });
}

/** The publisher's closing PING: its PONG means the server has read every PUB before it. */
function flushPub(deadlineMs: number): Promise<AgentReply> {
  const c = pubConn!;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: true, flushedNs: null }), deadlineMs);
    c.ping().then(
      () => {
        clearTimeout(timer);
        resolve({ ok: true, flushedNs: nowNs() });
      },
      () => {
        clearTimeout(timer);
        resolve({ ok: true, flushedNs: null });
      },
    );
  });
}

let repConn: Conn | null = null;

async function openResponder(req: Extract<AgentRequest, { op: 'responder' }>): Promise<AgentReply> {
  repConn?.close();
  const reply = Buffer.from(`PUB ${req.replyTo} ${req.size}\r\n${'x'.repeat(req.size)}\r\n`, 'latin1');
  const payloadAt = reply.length - req.size - 2;
  const c: Conn = new Conn(req.target, req.recordBytes, {
    offset: req.seqOffset,
    onSeq: (seq) => {
      const out = Buffer.from(reply);
      out.writeUInt32LE(seq, payloadAt);
      c.sock.write(out);
    },
  });
  repConn = c;
  await c.handshake(`SUB ${req.subject} 1\r\n`);
  return { ok: true };
}

let reqConn: Conn | null = null;
/** The requester's reply hook: the pending request's resolver. */
let awaitingReply: ((seq: number) => void) | null = null;

async function openRequester(req: Extract<AgentRequest, { op: 'requester' }>): Promise<AgentReply> {
  reqConn?.close();
  const c = new Conn(req.target, req.recordBytes, { offset: req.seqOffset, onSeq: (seq) => awaitingReply?.(seq) });
  reqConn = c;
  await c.handshake(`SUB ${req.inbox} 1\r\n`);
  return { ok: true };
}

/** Sequential requests: each waits for its reply; the round trips are returned in µs. */
async function requests(req: Extract<AgentRequest, { op: 'requests' }>): Promise<AgentReply> {
  const c = reqConn;
  if (!c) throw new Error('requests before requester');
  const head = `PUB ${req.subject} ${req.inbox} ${req.size}\r\n`;
  const template = Buffer.from(`${head}${'x'.repeat(req.size)}\r\n`, 'latin1');
  const rtts: number[] = [];
  const deadline = nowNs() + req.durationMs * 1e6;
  const total = req.warmup + req.count;
  for (let i = 0; i < total && (i < req.warmup || nowNs() < deadline); i++) {
    const out = Buffer.from(template);
    out.writeUInt32LE(i, head.length);
    const t0 = process.hrtime.bigint();
    const got = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to request ${i} within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
      awaitingReply = (seq) => {
        clearTimeout(timer);
        resolve(seq);
      };
      c.sock.write(out);
      if (c.closedWith) reject(new Error(c.closedWith));
    });
    const rtt = Number(process.hrtime.bigint() - t0) / 1000;
    if (got !== i) throw new Error(`reply ${got} answers request ${i}`);
    if (i >= req.warmup) rtts.push(rtt);
  }
  return { ok: true, rtts };
}

let idle: Conn[] = [];

/** Opens `count` connections, `parallel` at a time, each CONNECT + PING/PONG, and keeps them. */
async function openIdle(req: Extract<AgentRequest, { op: 'idle' }>): Promise<AgentReply> {
  let next = 0;
  let failed = 0;
  let firstError = '';
  const lane = async (): Promise<void> => {
    while (next < req.count) {
      next++;
      const c = new Conn(req.target, 3);
      try {
        await c.handshake('');
        idle.push(c);
      } catch (e) {
        failed++;
        firstError ||= (e as Error).message;
        c.close();
      }
    }
  };
  await Promise.all(Array.from({ length: req.parallel }, lane));
  return { ok: true, idle: { open: idle.length, failed, firstError } };
}

port.on('message', (req: AgentRequest) => {
  const run = async (): Promise<AgentReply> => {
    switch (req.op) {
      case 'cpu':
        return { ok: true, cpu: process.threadCpuUsage() };
      case 'subs':
        return openSubs(req);
      case 'expect':
        return awaitSubs(req);
      case 'pubConnect':
        return openPub(req.target);
      case 'publish':
        return publish(req);
      case 'pubFlush':
        return flushPub(req.deadlineMs);
      case 'responder':
        return openResponder(req);
      case 'requester':
        return openRequester(req);
      case 'requests':
        return requests(req);
      case 'idle':
        return openIdle(req);
      case 'jsRequest':
        return jsRequest(req);
      case 'jsPublish':
        return jsPublish(req);
      case 'jsPull':
        return jsPull(req);
      case 'reset':
        closeJsConns();
        closeAll();
        pubConn?.close();
        repConn?.close();
        reqConn?.close();
        for (const c of idle) c.close();
        pubConn = repConn = reqConn = null;
        idle = [];
        return { ok: true };
    }
  };
  run().then(
    (r) => port.postMessage({ id: req.id, ...r }),
    (e: Error) => port.postMessage({ id: req.id, ok: false, error: e.message }),
  );
});
