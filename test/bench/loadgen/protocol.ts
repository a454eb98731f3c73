// Messages between the bench's main thread and its load-generator threads (agent.ts).

export interface Target {
  host: string;
  port: number;
}

export interface SubSpec {
  /** The server this subscriber connects to (one node of a cluster, in the cross-node scenarios). */
  target: Target;
  subject: string;
  sid: string;
  queue?: string;
}

export type AgentRequest = { id: number } & (
  | { op: 'cpu' }
  | { op: 'reset' }
  /** Subscribers on their own connections; every delivered record is `recordBytes` long. */
  | { op: 'subs'; subs: SubSpec[]; recordBytes: number; seqOffset?: number }
    /** Resolve once the subscribers hold `total` records together or `perConn` each, stall idleMs, or deadlineMs passes. */
  | { op: 'expect'; total?: number; perConn?: number; idleMs: number; deadlineMs: number; startNs: number }
  | { op: 'pubConnect'; target: Target }
  /** Resolves when the publisher has written everything (the server may still be reading). */
  | { op: 'publish'; subject: string; size: number; durationMs: number; maxMsgs: number; seq: boolean }
  /** PING on the publisher's connection; resolves on the PONG or after deadlineMs. */
  | { op: 'pubFlush'; deadlineMs: number }
  | { op: 'responder'; target: Target; subject: string; replyTo: string; size: number; recordBytes: number; seqOffset: number }
  /** The requester's connection, subscribed to its inbox; `requests` then runs on it. */
  | { op: 'requester'; target: Target; inbox: string; recordBytes: number; seqOffset: number }
  /** Sequential requests on the requester's connection; resolves with the round trips in µs. */
  | { op: 'requests'; subject: string; inbox: string; size: number; warmup: number; count: number; durationMs: number }
  | { op: 'idle'; target: Target; count: number; parallel: number }
  /** One request/reply on a fresh connection (the JetStream API); resolves with the reply's payload. */
  | { op: 'jsRequest'; target: Target; subject: string; body: string; timeoutMs: number }
  /**
   * JetStream publisher: keeps up to `window` PUBs with reply subjects waiting for their acks,
   * for durationMs or maxMsgs, then waits for the last acks (giving up after idleMs without one).
   */
  | {
      op: 'jsPublish';
      target: Target;
      /** With `subjects`, a prefix: message n goes to `${subject}${n % subjects}`. */
      subject: string;
      subjects?: number;
      size: number;
      window: number;
      durationMs: number;
      maxMsgs: number;
      idleMs: number;
    }
  /**
   * Pull consumer: keeps `outstanding` MSG.NEXT requests of `batch` open and acks every delivery,
   * until `total` messages are consumed or durationMs passes (then the open requests finish).
   */
  | {
      op: 'jsPull';
      target: Target;
      stream: string;
      consumer: string;
      batch: number;
      outstanding: number;
      expiresMs: number;
      total: number;
      durationMs: number;
      idleMs: number;
    }
);

export type AgentOp = AgentRequest['op'];

export interface SubsResult {
  records: number[];
  lastNs: number[];
  faults: string[];
  startNs: number;
  exactlyOnce?: { missing: number; duplicated: number; unexpected: number };
}

export interface PubResult {
  sent: number;
  startNs: number;
  /** When the last batch was handed to the socket. */
  writtenNs: number;
  writes: number;
  /** How often the socket said "full" and the publisher waited for 'drain'. */
  drains: number;
}

export interface AgentReply {
  ok: boolean;
  error?: string;
  cpu?: { user: number; system: number };
  subs?: SubsResult;
  pub?: PubResult;
  /** When the PONG after the last PUB came back (the server had read everything), or null on timeout. */
  flushedNs?: number | null;
  rtts?: number[];
  idle?: { open: number; failed: number; firstError: string };
  /** The payload of the reply to a jsRequest. */
  api?: string;
  jsPub?: JsPubResult;
  jsPull?: JsPullResult;
}

export interface JsPubResult {
  sent: number;
  /** Acks that named a stream and sequence. */
  acked: number;
  /** Acks that carried an `error` (counted as faults). */
  errors: number;
  firstError: string;
  /** Acks counted per inbox number: an inbox answered twice or never. */
  duplicatedAcks: number;
  missingAcks: number;
  startNs: number;
  /** When the last ack arrived. */
  lastAckNs: number;
  faults: string[];
}

export interface JsPullResult {
  /** Messages delivered (and acked: every delivery's ack was written before the end). */
  consumed: number;
  /** MSG.NEXT requests sent. */
  requests: number;
  /** Status messages received, by code (408 request timeout, 404 no messages, 409 …). */
  statuses: Record<string, number>;
  startNs: number;
  /** When the PONG after the last ack came back (the server had read every ack). */
  endNs: number;
  faults: string[];
}
