// Publish and subscribe permissions with nats-server semantics:
// - publish: an allow list (present, even empty, means only those), a deny list that
//   overrides it, and with allow_responses a reply subject the client was sent may be
//   published to a limited number of times for a limited time;
// - subscribe: allow and deny lists with optional queue qualifiers (`"foo v1"`). The subject
//   of a SUB is checked literally against the lists, so a wildcard SUB that merely overlaps a
//   deny entry is accepted, and the overlap is filtered out at delivery (`canDeliver`).
// Rules are compiled once per user (`PermissionRules`); each connection gets its own
// `CompiledPermissions` holding its caches and reply grants.

import type { Permissions, ResponsePermission } from '../config/options.ts';
import { goQuote } from './go_quote.ts';
import {
  isSubsetMatch,
  isValidSubject,
  patternMatches,
  subjectHasWildcard,
  subjectsCollide,
  tokenize,
} from './subject_match.ts';

/** nats-server reserves this queue name for system use; clients may never join it. */
export const RESERVED_QUEUE_GROUP = '_sys_';

/** Publish decisions remembered per connection (nats-server `maxPermCacheSize`). */
const PUBLISH_CACHE_MAX_ENTRIES = 128;
/** Delivery-filter decisions remembered per connection (nats-server `maxDenyPermCacheSize`). */
const DELIVERY_CACHE_MAX_ENTRIES = 256;
/** Entries dropped at once when a cache overflows (nats-server `pruneSize`). */
const CACHE_PRUNE_ENTRIES = 32;
/** Reply grants recorded between sweeps of spent ones (nats-server `replyPermLimit`). */
const REPLY_PRUNE_AFTER_RECORDS = 4096;
/** Longest time between sweeps of spent reply grants (nats-server `replyPruneTime`). */
const REPLY_PRUNE_INTERVAL_MS = 1_000;

export type Clock = () => number;

interface SubjectRule {
  subject: string;
  tokens: string[];
  /** Queue qualifier, subscribe rules only. */
  queue: string | null;
}

/** What a list of rules says about one subject: a plain entry matched, and which queues. */
interface ListMatch {
  plain: boolean;
  queues: string[];
}

const NO_MATCH: ListMatch = { plain: false, queues: [] };

class RuleList {
  readonly rules: readonly SubjectRule[];

  constructor(rules: SubjectRule[]) {
    this.rules = rules;
  }

  match(subject: string): ListMatch {
    const tokens = tokenize(subject);
    if (tokens === null) return NO_MATCH;
    let plain = false;
    let queues: string[] | null = null;
    for (const rule of this.rules) {
      if (!patternMatches(rule.tokens, tokens)) continue;
      if (rule.queue === null) plain = true;
      else (queues ??= []).push(rule.queue);
    }
    return queues === null ? (plain ? { plain, queues: [] } : NO_MATCH) : { plain, queues };
  }

  /** The cheap form for publish rules, which never carry queues. */
  matchesAny(subject: string): boolean {
    const tokens = tokenize(subject);
    if (tokens === null) return false;
    for (const rule of this.rules) if (patternMatches(rule.tokens, tokens)) return true;
    return false;
  }
}

/**
 * Whether `queue` is one of the matched rule queues; a rule queue may itself hold wildcards
 * (`v1.*`), compared after the literal name since `*` is a legal queue name too.
 */
function queueMatches(queue: string, ruleQueues: readonly string[]): boolean {
  if (ruleQueues.length === 0) return true;
  for (const q of ruleQueues) {
    if (q === queue) return true;
    if (subjectHasWildcard(q) && isSubsetMatch(queue.split('.'), q.split('.'))) return true;
  }
  return false;
}

/** nats-server `splitSubjectQueue`: `"subject"` or `"subject queue"`, both valid subjects. */
function parseSubjectQueue(entry: string): { subject: string; queue: string | null } | null {
  const fields = entry.trim().split(/\s+/).filter((f) => f.length > 0);
  if (fields.length === 0 || fields.length > 2) return null;
  const subject = fields[0]!;
  const queue = fields.length === 2 ? fields[1]! : null;
  if (!isValidSubject(subject) || (queue !== null && !isValidSubject(queue))) return null;
  return { subject, queue };
}

function rule(subject: string, queue: string | null): SubjectRule {
  return { subject, tokens: subject.split('.'), queue };
}

// Invalid entries are skipped as nats-server skips them (config validation reports them);
// a list stays in force even when all its entries were skipped.

function publishAllowRules(entries: readonly string[]): RuleList {
  return new RuleList(entries.filter(isValidSubject).map((s) => rule(s, null)));
}

function publishDenyRules(entries: readonly string[]): RuleList {
  const rules: SubjectRule[] = [];
  for (const entry of entries) {
    if (isValidSubject(entry)) {
      rules.push(rule(entry, null));
      continue;
    }
    // A queue qualifier means nothing for publish; keep the subject's scope.
    const parsed = parseSubjectQueue(entry);
    if (parsed !== null) rules.push(rule(parsed.subject, null));
  }
  return new RuleList(rules);
}

function subscribeRules(entries: readonly string[]): RuleList {
  const rules: SubjectRule[] = [];
  for (const entry of entries) {
    const parsed = parseSubjectQueue(entry);
    if (parsed !== null) rules.push(rule(parsed.subject, parsed.queue));
  }
  return new RuleList(rules);
}

/** A user's permissions, compiled once and shared by all of that user's connections. */
export class PermissionRules {
  readonly publishAllow: RuleList | null;
  readonly publishDeny: RuleList | null;
  readonly subscribeAllow: RuleList | null;
  readonly subscribeDeny: RuleList | null;
  readonly responses: ResponsePermission | null;

  constructor(perms: Permissions) {
    this.responses = perms.allowResponses ?? null;
    const publish = perms.publish;
    let publishAllow = publish?.allow;
    // Granting responses turns off the blanket publish allow (nats-server
    // validateResponsePermissions): the client may then publish only to replies it was sent.
    if (this.responses !== null && publishAllow === undefined) publishAllow = [];
    this.publishAllow = publishAllow === undefined ? null : publishAllowRules(publishAllow);
    this.publishDeny = publish?.deny !== undefined && publish.deny.length > 0 ? publishDenyRules(publish.deny) : null;
    const subscribe = perms.subscribe;
    this.subscribeAllow =
      subscribe?.allow !== undefined && subscribe.allow.length > 0 ? subscribeRules(subscribe.allow) : null;
    this.subscribeDeny =
      subscribe?.deny !== undefined && subscribe.deny.length > 0 ? subscribeRules(subscribe.deny) : null;
  }

  /** The publish decision without reply grants. */
  publishAllowed(subject: string): boolean {
    if (this.publishAllow !== null && !this.publishAllow.matchesAny(subject)) return false;
    if (this.publishDeny !== null && this.publishDeny.matchesAny(subject)) return false;
    return true;
  }

  subscribeAllowed(subject: string, queue: string | null): boolean {
    if (this.subscribeAllow !== null) {
      const m = this.subscribeAllow.match(subject);
      // `foo` allows any queue on foo; `foo v1` only v1 (and no plain SUB); both: plain + v1.
      let allowed = m.plain;
      if (queue !== null && m.queues.length > 0) allowed = queueMatches(queue, m.queues);
      if (!allowed) return false;
    }
    if (this.subscribeDeny !== null) {
      const m = this.subscribeDeny.match(subject);
      if (m.plain) return false;
      if (queue !== null && m.queues.length > 0 && queueMatches(queue, m.queues)) return false;
    }
    return true;
  }

  deliveryDenied(subject: string, queue: string | null): boolean {
    if (this.subscribeDeny === null) return false;
    const m = this.subscribeDeny.match(subject);
    if (m.plain) return true;
    return queue !== null && m.queues.length > 0 && queueMatches(queue, m.queues);
  }

  /** Whether a SUB to `subject` could receive a message some deny entry forbids. */
  overlapsSubscribeDeny(subject: string): boolean {
    if (this.subscribeDeny === null) return false;
    for (const r of this.subscribeDeny.rules) if (subjectsCollide(r.subject, subject)) return true;
    return false;
  }
}

interface ReplyGrant {
  grantedAt: number;
  used: number;
}

/** Drops the oldest entries of an overflowing cache (Map iterates in insertion order). */
function pruneOldest<K, V>(cache: Map<K, V>): void {
  let dropped = 0;
  for (const key of cache.keys()) {
    cache.delete(key);
    if (++dropped >= CACHE_PRUNE_ENTRIES) break;
  }
}

/** One connection's view of its user's permissions. */
export class CompiledPermissions {
  readonly rules: PermissionRules;
  readonly #now: Clock;
  readonly #publishCache = new Map<string, boolean>();
  readonly #deliveryCache = new Map<string, boolean>();
  #deliveryFilterOn = false;
  readonly #replies = new Map<string, ReplyGrant>();
  #recordsSincePrune = 0;
  #lastPruneAt = Number.NEGATIVE_INFINITY;

  constructor(rules: PermissionRules, now: Clock = Date.now) {
    this.rules = rules;
    this.#now = now;
  }

  canPublish(subject: string): boolean {
    if (this.#publishStaticallyAllowed(subject)) return true;
    return this.rules.responses !== null && this.#useReplyGrant(subject);
  }

  /**
   * Whether a SUB (with `queue`, or null) is allowed. An accepted wildcard or queue SUB
   * that overlaps a deny entry switches on the delivery filter (see `canDeliver`).
   */
  canSubscribe(subject: string, queue: string | null): boolean {
    const q = queue === '' ? null : queue;
    if (q === RESERVED_QUEUE_GROUP) return false;
    if (!this.rules.subscribeAllowed(subject, q)) return false;
    if (!this.#deliveryFilterOn && (q !== null || subjectHasWildcard(subject))) {
      this.#deliveryFilterOn = this.rules.overlapsSubscribeDeny(subject);
    }
    return true;
  }

  /** While false `canDeliver` is always true, so the connection may skip calling it. */
  get deliveryFilterOn(): boolean {
    return this.#deliveryFilterOn;
  }

  /**
   * Whether a message on `subject` may be delivered through a subscription of this
   * connection in `queue` (or null): deny entries still apply to what a broader wildcard
   * SUB would receive.
   */
  canDeliver(subject: string, queue: string | null): boolean {
    if (!this.#deliveryFilterOn) return true;
    const q = queue === '' ? null : queue;
    // A subject never holds a newline, so it separates the key parts unambiguously.
    const key = q === null ? subject : `${subject}\n${q}`;
    let denied = this.#deliveryCache.get(key);
    if (denied === undefined) {
      denied = this.rules.deliveryDenied(subject, q);
      this.#deliveryCache.set(key, denied);
      if (this.#deliveryCache.size > DELIVERY_CACHE_MAX_ENTRIES) pruneOldest(this.#deliveryCache);
    }
    return !denied;
  }

  /**
   * Called when a message with reply subject `reply` is delivered to this connection: with
   * allow_responses the connection may then publish to `reply` up to maxMsgs times within
   * expiresMs. A reply it may publish to anyway is not tracked.
   */
  recordReply(reply: string): void {
    if (this.rules.responses === null || reply.length === 0) return;
    if (this.#publishStaticallyAllowed(reply)) return;
    const now = this.#now();
    this.#replies.set(reply, { grantedAt: now, used: 0 });
    this.#recordsSincePrune++;
    if (this.#recordsSincePrune > REPLY_PRUNE_AFTER_RECORDS || now - this.#lastPruneAt > REPLY_PRUNE_INTERVAL_MS) {
      this.#pruneReplies(now);
    }
  }

  /** Reply grants currently held (for monitoring and tests). */
  get pendingReplies(): number {
    return this.#replies.size;
  }

  #publishStaticallyAllowed(subject: string): boolean {
    let allowed = this.#publishCache.get(subject);
    if (allowed === undefined) {
      allowed = this.rules.publishAllowed(subject);
      this.#publishCache.set(subject, allowed);
      if (this.#publishCache.size > PUBLISH_CACHE_MAX_ENTRIES) pruneOldest(this.#publishCache);
    }
    return allowed;
  }

  #useReplyGrant(subject: string): boolean {
    const grant = this.#replies.get(subject);
    if (grant === undefined) return false;
    const { maxMsgs, expiresMs } = this.rules.responses!;
    grant.used++;
    if ((maxMsgs > 0 && grant.used > maxMsgs) || (expiresMs > 0 && this.#now() - grant.grantedAt > expiresMs)) {
      this.#replies.delete(subject);
      return false;
    }
    return true;
  }

  #pruneReplies(now: number): void {
    const { maxMsgs, expiresMs } = this.rules.responses!;
    for (const [reply, grant] of this.#replies) {
      if ((maxMsgs > 0 && grant.used >= maxMsgs) || (expiresMs > 0 && now - grant.grantedAt > expiresMs)) {
        this.#replies.delete(reply);
      }
    }
    this.#recordsSincePrune = 0;
    this.#lastPruneAt = now;
  }
}

/** Compiles `perms` for one connection; `now` is the clock reply grants expire by. */
export function compilePermissions(perms: Permissions, now: Clock = Date.now): CompiledPermissions {
  return new CompiledPermissions(new PermissionRules(perms), now);
}

export function pubViolation(subject: string): string {
  return `Permissions Violation for Publish to ${goQuote(subject)}`;
}

export function subViolation(subject: string, queue?: string | null): string {
  const base = `Permissions Violation for Subscription to ${goQuote(subject)}`;
  return queue === undefined || queue === null || queue === '' ? base : `${base} using queue ${goQuote(queue)}`;
}

export function replyViolation(reply: string): string {
  return `Permissions Violation for Publish with Reply of ${goQuote(reply)}`;
}
