// Builders for what a server sends to another server on a route (nats-server's route.go and
// msgHeaderForRouteOrLeaf): the per-message RMSG/HMSG prefix, written straight into the
// connection's outbound slab, and the interest lines RS+/RS- (cold, may allocate).
//
//   RMSG <account> <subject> [<reply>] <size>
//   RMSG <account> <subject> + <reply> <queue>... <size>     (queue groups the receiver serves)
//   RMSG <account> <subject> | <queue>... <size>
//   HMSG ... <header size> <total size>                     (the same with headers)

import { Byte, decimalLength, writeDecimal, writeLatin1 } from './bytes.ts';

/** Bytes `writeRoutedMsgPrefix` will write, so the caller can reserve room first. */
export function routedMsgPrefixLength(
  account: string,
  subject: string,
  reply: string | null,
  queues: readonly string[],
  nQueues: number,
  hdrLen: number,
  size: number,
): number {
  // "RMSG "/"HMSG " account " " subject " "
  let n = 5 + account.length + 1 + subject.length + 1;
  if (nQueues > 0) {
    n += 2; // "+ " or "| "
    if (reply !== null) n += reply.length + 1;
    for (let i = 0; i < nQueues; i++) n += queues[i]!.length + 1;
  } else if (reply !== null) {
    n += reply.length + 1;
  }
  if (hdrLen >= 0) n += decimalLength(hdrLen) + 1;
  return n + decimalLength(size) + 2;
}

/**
 * Writes the RMSG (hdrLen < 0) or HMSG prefix at `offset`; returns the new offset. Strings are
 * latin1 (one char per byte, the server's in-memory form of subjects).
 */
export function writeRoutedMsgPrefix(
  buf: Uint8Array,
  offset: number,
  account: string,
  subject: string,
  reply: string | null,
  queues: readonly string[],
  nQueues: number,
  hdrLen: number,
  size: number,
): number {
  buf[offset] = hdrLen >= 0 ? 0x48 : 0x52; // 'H' or 'R'
  buf[offset + 1] = 0x4d; // 'M'
  buf[offset + 2] = 0x53; // 'S'
  buf[offset + 3] = 0x47; // 'G'
  buf[offset + 4] = Byte.SPACE;
  let o = writeLatin1(buf, offset + 5, account);
  buf[o++] = Byte.SPACE;
  o = writeLatin1(buf, o, subject);
  buf[o++] = Byte.SPACE;
  if (nQueues > 0) {
    if (reply !== null) {
      buf[o++] = 0x2b; // '+': a reply follows, then the queues
      buf[o++] = Byte.SPACE;
      o = writeLatin1(buf, o, reply);
    } else {
      buf[o++] = 0x7c; // '|': queues only
    }
    buf[o++] = Byte.SPACE;
    for (let i = 0; i < nQueues; i++) {
      o = writeLatin1(buf, o, queues[i]!);
      buf[o++] = Byte.SPACE;
    }
  } else if (reply !== null) {
    o = writeLatin1(buf, o, reply);
    buf[o++] = Byte.SPACE;
  }
  if (hdrLen >= 0) {
    o = writeDecimal(buf, o, hdrLen);
    buf[o++] = Byte.SPACE;
  }
  o = writeDecimal(buf, o, size);
  buf[o++] = Byte.CR;
  buf[o++] = Byte.LF;
  return o;
}

/** `RS+ <account> <subject>[ <queue> <weight>]\r\n` (weight > 0), or `RS- <account> <subject>[ <queue>]\r\n` (weight 0). */
export function interestLine(account: string, subject: string, queue: string | null, weight: number): string {
  if (weight > 0) return queue === null ? `RS+ ${account} ${subject}\r\n` : `RS+ ${account} ${subject} ${queue} ${weight}\r\n`;
  return queue === null ? `RS- ${account} ${subject}\r\n` : `RS- ${account} ${subject} ${queue}\r\n`;
}
