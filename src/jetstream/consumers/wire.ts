// What consumers put on the wire besides the messages themselves: the `$JS.ACK` reply subject
// (nats-server's v1 form, which clients parse for delivery metadata) and the header-only status
// messages pull and push clients react to. The texts are nats-server's, byte for byte.

import { headerValue } from '../../protocol/headers.ts';

export const ACK_PREFIX = '$JS.ACK.';
export const FLOW_CONTROL_PREFIX = '$JS.FC.';
export const ADVISORY_PREFIX = 'CONSUMER.';

/** Header nats-server adds to headers-only deliveries: the size of the body left out. */
export const MSG_SIZE_HEADER = 'Nats-Msg-Size';
export const PENDING_MESSAGES_HEADER = 'Nats-Pending-Messages';
export const PENDING_BYTES_HEADER = 'Nats-Pending-Bytes';
export const LAST_CONSUMER_HEADER = 'Nats-Last-Consumer';
export const LAST_STREAM_HEADER = 'Nats-Last-Stream';
export const CONSUMER_STALLED_HEADER = 'Nats-Consumer-Stalled';

/** `$JS.ACK.<stream>.<consumer>.` — the per-consumer part of every ack reply. */
export function ackPrefix(stream: string, consumer: string): string {
  return `${ACK_PREFIX}${stream}.${consumer}.`;
}

/** `<prefix><delivered>.<stream seq>.<consumer seq>.<timestamp ns>.<pending>` */
export function ackReply(prefix: string, deliveries: number, streamSeq: number, consumerSeq: number, timeNs: bigint, pending: number): string {
  return `${prefix}${deliveries}.${streamSeq}.${consumerSeq}.${timeNs}.${pending}`;
}

export interface AckReplyInfo {
  deliveries: number;
  streamSeq: number;
  consumerSeq: number;
}

/** Parses the numeric tail of an ack subject; null when it is not the 9-token v1 form. */
export function parseAckReply(subject: string): AckReplyInfo | null {
  const t = subject.split('.');
  if (t.length !== 9 || t[0] !== '$JS' || t[1] !== 'ACK') return null;
  const deliveries = decimal(t[4]!);
  const streamSeq = decimal(t[5]!);
  const consumerSeq = decimal(t[6]!);
  if (deliveries < 0 || streamSeq < 0 || consumerSeq < 0) return null;
  return { deliveries, streamSeq, consumerSeq };
}

function decimal(s: string): number {
  if (s.length === 0 || s.length > 16) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

const CRLF = '\r\n';

function statusBlock(status: number, description: string, headers: [string, string | number][] = []): Uint8Array {
  let text = `NATS/1.0 ${status} ${description}${CRLF}`;
  for (const [k, v] of headers) text += `${k}: ${v}${CRLF}`;
  return Buffer.from(text + CRLF, 'latin1');
}

export const Status = {
  noMessages: () => statusBlock(404, 'No Messages'),
  requestTimeout: (msgs: number, bytes: number) =>
    statusBlock(408, 'Request Timeout', [
      [PENDING_MESSAGES_HEADER, msgs],
      [PENDING_BYTES_HEADER, bytes],
    ]),
  requestsPending: () => statusBlock(408, 'Requests Pending'),
  exceededMaxWaiting: () => statusBlock(409, 'Exceeded MaxWaiting'),
  exceededMaxRequestBatch: (n: number) => statusBlock(409, `Exceeded MaxRequestBatch of ${n}`),
  exceededMaxRequestExpires: (d: string) => statusBlock(409, `Exceeded MaxRequestExpires of ${d}`),
  exceededMaxRequestMaxBytes: (n: number) => statusBlock(409, `Exceeded MaxRequestMaxBytes of ${n}`),
  messageSizeExceedsMaxBytes: (msgs: number, bytes: number) =>
    statusBlock(409, 'Message Size Exceeds MaxBytes', [
      [PENDING_MESSAGES_HEADER, msgs],
      [PENDING_BYTES_HEADER, bytes],
    ]),
  batchCompleted: (msgs: number, bytes: number) =>
    statusBlock(409, 'Batch Completed', [
      [PENDING_MESSAGES_HEADER, msgs],
      [PENDING_BYTES_HEADER, bytes],
    ]),
  consumerDeleted: () => statusBlock(409, 'Consumer Deleted'),
  pushBased: () => statusBlock(409, 'Consumer is push based'),
  badRequest: (why: string) => statusBlock(400, `Bad Request - ${why}`),
  idleHeartbeat: (lastConsumerSeq: number, lastStreamSeq: number, stalledOn: string | null) => {
    const h: [string, string | number][] = [
      [LAST_CONSUMER_HEADER, lastConsumerSeq],
      [LAST_STREAM_HEADER, lastStreamSeq],
    ];
    if (stalledOn !== null) h.push([CONSUMER_STALLED_HEADER, stalledOn]);
    return statusBlock(100, 'Idle Heartbeat', h);
  },
  flowControlRequest: () => statusBlock(100, 'FlowControl Request'),
} as const;

const EMPTY_HEADER_BLOCK = `NATS/1.0${CRLF}${CRLF}`;

/** nats-server convertToHeadersOnly: the original headers plus `Nats-Msg-Size: <body length>`. */
export function headersOnlyBlock(hdr: Uint8Array | null, bodyLength: number): Uint8Array {
  const base = hdr && hdr.length >= 4 ? Buffer.from(hdr.buffer, hdr.byteOffset, hdr.byteLength).toString('latin1') : EMPTY_HEADER_BLOCK;
  // Drop the blank line that ends the block, append the size header, end it again.
  const head = base.endsWith(CRLF + CRLF) ? base.slice(0, -2) : base;
  return Buffer.from(`${head}${MSG_SIZE_HEADER}: ${bodyLength}${CRLF}${CRLF}`, 'latin1');
}

export { headerValue };
