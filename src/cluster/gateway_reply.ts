// Replies routed across gateways (nats-server's gateway.go): a request that crosses to another
// cluster while its reply subscription may not have reached that cluster yet carries its reply
// as `_GR_.<cluster hash>.<server hash>.<reply>`, so the answer goes straight back to the cluster
// and server that asked. Servers that do not announce `gateway_nrp` get the older form
// `$GR.<cluster hash>.<reply>`. The hashes: six base-62 characters of the name's SHA-256 (the old
// form: the first four hex digits).

import crypto from 'node:crypto';

export const GW_REPLY_PREFIX = '_GR_.';
export const OLD_GW_REPLY_PREFIX = '$GR.';
/** nats-server gwHashLen. */
const HASH_LEN = 6;
/** `_GR_.` + cluster hash + `.` + server hash + `.`: where the original reply starts. */
export const GW_SUBJECT_OFFSET = GW_REPLY_PREFIX.length + HASH_LEN + 1 + HASH_LEN + 1;
/** `$GR.` + 4-character hash + `.`. */
const OLD_SUBJECT_OFFSET = OLD_GW_REPLY_PREFIX.length + 5;
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** nats-server getHashSize(name, 6): a cluster's or server's reply hash. */
export function gatewayHash(name: string): string {
  const sum = crypto.createHash('sha256').update(name).digest();
  let out = '';
  for (let i = 0; i < HASH_LEN; i++) out += DIGITS[sum[i]! % DIGITS.length];
  return out;
}

/** nats-server getOldHash: the first four hex digits of the name's SHA-256. */
export function oldGatewayHash(name: string): string {
  return crypto.createHash('sha256').update(name).digest('hex').slice(0, 4);
}

/** The prefix this server puts before a reply it maps (`_GR_.<cluster>.<server>.`). */
export function gatewayReplyPrefix(clusterName: string, serverId: string): string {
  return `${GW_REPLY_PREFIX}${gatewayHash(clusterName)}.${gatewayHash(serverId)}.`;
}

export function oldGatewayReplyPrefix(clusterName: string): string {
  return `${OLD_GW_REPLY_PREFIX}${oldGatewayHash(clusterName)}.`;
}

/** A routed reply subject taken apart. */
export interface RoutedReply {
  old: boolean;
  clusterHash: string;
  /** Empty in the old form. */
  serverHash: string;
  /** The original subject. */
  subject: string;
}

/** True when `subject` may be a routed reply (cheap first-byte test for the message path). */
export function mayBeRoutedReply(subject: string): boolean {
  const c = subject.charCodeAt(0);
  return (c === 0x5f || c === 0x24) && (subject.startsWith(GW_REPLY_PREFIX) || subject.startsWith(OLD_GW_REPLY_PREFIX));
}

/** nats-server isGWRoutedSubjectAndIsOldPrefix plus the parts; null for any other subject. */
export function parseRoutedReply(subject: string): RoutedReply | null {
  if (subject.length > GW_SUBJECT_OFFSET && subject.startsWith(GW_REPLY_PREFIX)) {
    const c = GW_REPLY_PREFIX.length;
    const s = c + HASH_LEN + 1;
    return { old: false, clusterHash: subject.slice(c, c + HASH_LEN), serverHash: subject.slice(s, s + HASH_LEN), subject: subject.slice(GW_SUBJECT_OFFSET) };
  }
  if (subject.length > OLD_SUBJECT_OFFSET && subject.startsWith(OLD_GW_REPLY_PREFIX)) {
    const c = OLD_GW_REPLY_PREFIX.length;
    return { old: true, clusterHash: subject.slice(c, c + 4), serverHash: '', subject: subject.slice(OLD_SUBJECT_OFFSET) };
  }
  return null;
}

/** A client gets a routed reply without its prefix (nats-server's creply). */
export function isMappedReply(reply: string): boolean {
  return reply.length > GW_SUBJECT_OFFSET && reply.charCodeAt(0) === 0x5f && reply.startsWith(GW_REPLY_PREFIX);
}

/** How long a client's answer to a mapped reply is sent back the routed way (nats-server's recSubExp). */
export const GW_REPLY_MAPPING_MS = 2_000;

/**
 * The mapped replies a client was given, for the time its answer may take: publishing on the
 * plain reply sends the message the routed way (nats-server's gwReplyMapping).
 */
export class GatewayReplyMap {
  private readonly map = new Map<string, { routed: string; expires: number }>();

  /** The client was given `routed` as `routed` minus its prefix. */
  track(routed: string, now: number): void {
    this.map.set(routed.slice(GW_SUBJECT_OFFSET), { routed, expires: now + GW_REPLY_MAPPING_MS });
  }

  get size(): number {
    return this.map.size;
  }

  /** The routed form of `subject` if the client was given it lately; undefined otherwise. */
  routed(subject: string, now: number): string | undefined {
    const e = this.map.get(subject);
    if (e === undefined) return undefined;
    if (e.expires <= now) {
      this.map.delete(subject);
      return undefined;
    }
    return e.routed;
  }

  /** Drops expired mappings (called from the connection's sweep). */
  sweep(now: number): void {
    for (const [k, e] of this.map) if (e.expires <= now) this.map.delete(k);
  }
}
