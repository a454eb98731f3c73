// Builders for what a server sends to another server on a route (nats-server's route.go and
// msgHeaderForRouteOrLeaf): the per-message RMSG/HMSG prefix, written straight into the
// connection's outbound slab, and the interest lines RS+/RS- (cold, may allocate).
//
//   RMSG <account> <subject> [<reply>] <size>
//   RMSG <account> <subject> + <reply> <queue>... <size>     (queue groups the receiver serves)
//   RMSG <account> <subject> | <queue>... <size>
//   HMSG ... <header size> <total size>                     (the same with headers)
//   LMSG <origin> <account> ... <header size> <total size>  (from a leaf cluster; always a header size)
//
// A leaf connection names no account (msgHeaderForRouteOrLeaf for a LEAF):
//   LMSG <subject> [...] <size>, HMSG <subject> [...] <header size> <total size>

import { Byte, decimalLength, writeDecimal, writeLatin1 } from './bytes.ts';

/**
 * Bytes `writeRoutedMsgPrefix` will write, so the caller can reserve room first. `account` ''
 * is a leaf line (none); `origin` non-null a route's LMSG.
 */
export function routedMsgPrefixLength(
  account: string,
  subject: string,
  reply: string | null,
  queues: readonly string[],
  nQueues: number,
  hdrLen: number,
  size: number,
  origin: string | null = null,
): number {
  // "RMSG "/"HMSG " [origin " "] [account " "] subject " "
  let n = 5 + (account === '' ? 0 : account.length + 1) + subject.length + 1;
  if (origin !== null) {
    n += origin.length + 1;
    if (hdrLen < 0) hdrLen = 0;
  }
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
 * latin1 (one char per byte, the server's in-memory form of subjects). An empty `account` writes
 * a leaf line (LMSG/HMSG without account); an `origin` a route's LMSG.
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
  origin: string | null = null,
): number {
  const leaf = account === '';
  if (origin !== null && hdrLen < 0) hdrLen = 0;
  buf[offset] = origin !== null || (leaf && hdrLen < 0) ? 0x4c : hdrLen >= 0 ? 0x48 : 0x52; // 'L', 'H' or 'R'
  buf[offset + 1] = 0x4d; // 'M'
  buf[offset + 2] = 0x53; // 'S'
  buf[offset + 3] = 0x47; // 'G'
  buf[offset + 4] = Byte.SPACE;
  let o = offset + 5;
  if (origin !== null) {
    o = writeLatin1(buf, o, origin);
    buf[o++] = Byte.SPACE;
  }
  if (!leaf) {
    o = writeLatin1(buf, o, account);
    buf[o++] = Byte.SPACE;
  }
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

/** The message line writer of routes and gateways (and, with no account, leaf connections). */
export const routedMsgLine = { length: routedMsgPrefixLength, write: writeRoutedMsgPrefix };

/**
 * `RS+ <account> <subject>[ <queue> <weight>]\r\n` (weight > 0), or `RS- <account> <subject>[ <queue>]\r\n`
 * (weight 0); with a leaf `origin`, `LS+ <origin> <account> ...` and `LS- <account> ...`.
 */
export function interestLine(account: string, subject: string, queue: string | null, weight: number, origin: string | null = null): string {
  const q = queue === null ? '' : weight > 0 ? ` ${queue} ${weight}` : ` ${queue}`;
  if (weight > 0) return origin === null ? `RS+ ${account} ${subject}${q}\r\n` : `LS+ ${origin} ${account} ${subject}${q}\r\n`;
  return `${origin === null ? 'RS-' : 'LS-'} ${account} ${subject}${q}\r\n`;
}

/** A leaf connection's `LS+ <subject>[ <queue> <weight>]\r\n` (weight > 0) or `LS- <subject>[ <queue>]\r\n`. */
export function leafInterestLine(subject: string, queue: string | null, weight: number): string {
  if (weight > 0) return queue === null ? `LS+ ${subject}\r\n` : `LS+ ${subject} ${queue} ${weight}\r\n`;
  return queue === null ? `LS- ${subject}\r\n` : `LS- ${subject} ${queue}\r\n`;
}
