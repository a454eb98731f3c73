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

/** Parses the numeric tail of an ack subject; null when it is not the 9-token v1 form. Allocation-light: acks are a hot path. */
export function parseAckReply(subject: string): AckReplyInfo | null {
  if (!subject.startsWith(ACK_PREFIX)) return null;
  // Tokens after "$JS.ACK.": stream, consumer, then five numbers.
  let token = 2;
  let value = 0;
  let digits = 0;
  const nums = [0, 0, 0];
  for (let i = ACK_PREFIX.length; i <= subject.length; i++) {
    const c = i === subject.length ? 46 : subject.charCodeAt(i);
    if (c === 46) {
      if (token >= 4) {
        if (digits === 0 || digits > 20) return null;
        if (token <= 6) nums[token - 4] = value;
      }
      token++;
      value = 0;
      digits = 0;
      continue;
    }
    if (token >= 4) {
      const d = c - 48;
      if (d < 0 || d > 9) return null;
      value = value * 10 + d;
      digits++;
    }
  }
  if (token !== 9) return null;
  return { deliveries: nums[0]!, streamSeq: nums[1]!, consumerSeq: nums[2]! };
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
  /** To the pull requests a previous consumer leader was holding: ask the new one. */
  leadershipChange: () => statusBlock(409, 'Leadership Change'),
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
