// The subscription index, after nats-server's sublist.go: a trie with one level
// per subject token, each level holding literal children plus the '*' and '>'
// nodes; plain and queue subscriptions kept apart in each node; match results
// as arrays (iterated per message, so no maps); and a bounded cache of results
// by subject, patched in place on insert/remove, with a generation id that
// per-connection caches compare to know they are stale.
//
// The cache is a direct-mapped table indexed by our own hash of the subject, not a
// Map<string, …>: Node 26's V8 internalizes every string used as a Map key or probe,
// which costs ~0.3 µs per new subject (a string-table insert, then its cleanup at GC).
// Reply and ack subjects are unique per message, so a Map cache cost more than the trie
// walk it saved (2.1 µs against 0.5 µs per match for a fresh 9-token subject). For the same
// reason the trie's literal children are keyed by a hash of the token, and a match reads the
// subject in place (token offsets and hashes in scratch arrays) instead of splitting it.

import { subjectIsLiteral, subjectMatches } from './subjects.ts';

export interface SubscriptionLike {
  readonly subject: string;
  readonly queue: string | null;
}

/**
 * What a subject matched. Results are cached and shared between callers:
 * never mutate the arrays. `qsubs` has one array per queue group name.
 */
export interface SublistResult<S> {
  readonly psubs: readonly S[];
  readonly qsubs: readonly (readonly S[])[];
}

export interface SublistStats {
  count: number;
  cacheSize: number;
  inserts: number;
  removes: number;
  matches: number;
  cacheHits: number;
}

export interface SublistOptions {
  /** Keep a match cache (default true); nats-server's no_sublist_cache turns it off. */
  cache?: boolean;
}

/** Cached subjects kept at most (nats-server: 1024); a new subject replaces the one in its slot. */
export const SUBLIST_CACHE_MAX = 1024;
const CACHE_MASK = SUBLIST_CACHE_MAX - 1;

interface CacheEntry<S> {
  subject: string;
  hash: number;
  result: SublistResult<S>;
}

/** FNV-1a over the UTF-16 code units of s[start, end). */
function fnv1a(s: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/** The match cache's hash of a whole subject. */
export function subjectHash(subject: string): number {
  return fnv1a(subject, 0, subject.length) >>> 0;
}

export const SublistErrorCode = {
  INVALID_SUBJECT: 'SUBLIST_INVALID_SUBJECT',
} as const;

export class SublistError extends Error {
  readonly code: (typeof SublistErrorCode)[keyof typeof SublistErrorCode];
  constructor(subject: string) {
    super(`sublist: invalid subject ${JSON.stringify(subject)}`);
    this.name = 'SublistError';
    this.code = SublistErrorCode.INVALID_SUBJECT;
  }
}

interface TrieNode<S> {
  /** The literal token this node stands for ('' for the '*' and '>' nodes). */
  token: string;
  /** The next literal node whose token has the same hash in this level. */
  collide: TrieNode<S> | null;
  next: Level<S> | null;
  psubs: Set<S>;
  /** Queue name → members; null until the first queue subscription. */
  qsubs: Map<string, Set<S>> | null;
}

interface Level<S> {
  /** Literal children by tokenHash, chained through `collide`. */
  nodes: Map<number, TrieNode<S>>;
  /** Literal children. */
  count: number;
  pwc: TrieNode<S> | null;
  fwc: TrieNode<S> | null;
}

interface MutableResult<S> {
  psubs: S[];
  qsubs: S[][];
}

const EMPTY_RESULT: SublistResult<never> = Object.freeze({
  psubs: Object.freeze([]) as readonly never[],
  qsubs: Object.freeze([]) as readonly (readonly never[])[],
});

function newLevel<S>(): Level<S> {
  return { nodes: new Map(), count: 0, pwc: null, fwc: null };
}

function newNode<S>(token = ''): TrieNode<S> {
  return { token, collide: null, next: null, psubs: new Set(), qsubs: null };
}

/** FNV-1a of one token, kept within V8's small integers so Map keys stay cheap. */
export function tokenHash(token: string): number {
  return fnv1a(token, 0, token.length) & 0x3fffffff;
}

function literalChild<S>(l: Level<S>, token: string): TrieNode<S> | null {
  let n = l.nodes.get(tokenHash(token)) ?? null;
  while (n !== null && n.token !== token) n = n.collide;
  return n;
}

function addLiteralChild<S>(l: Level<S>, token: string): TrieNode<S> {
  const hash = tokenHash(token);
  const n = newNode<S>(token);
  n.collide = l.nodes.get(hash) ?? null;
  l.nodes.set(hash, n);
  l.count++;
  return n;
}

function removeLiteralChild<S>(l: Level<S>, node: TrieNode<S>): void {
  const hash = tokenHash(node.token);
  let n = l.nodes.get(hash) ?? null;
  if (n === node) {
    if (node.collide === null) l.nodes.delete(hash);
    else l.nodes.set(hash, node.collide);
  } else {
    while (n !== null && n.collide !== node) n = n.collide;
    if (n === null) return;
    n.collide = node.collide;
  }
  l.count--;
}

// Scratch for one match: token i of the subject is [TOK_START[i], TOK_END[i]); TOK_HASH[i] is its
// tokenHash once a level with literal children asked for it (-1 before). Hashing lazily matters
// for long unique subjects such as acks: a walk usually ends at a '>' or '*' well before the end.
// A match never re-enters itself, so one set of arrays serves every sublist in the thread.
let TOK_START = new Int32Array(32);
let TOK_END = new Int32Array(32);
let TOK_HASH = new Int32Array(32);

/** Fills the scratch token bounds; returns the token count, or -1 for an empty token. */
function tokenize(subject: string): number {
  let count = 0;
  let start = 0;
  for (;;) {
    const dot = subject.indexOf('.', start);
    const end = dot < 0 ? subject.length : dot;
    if (end === start) return -1;
    if (count === TOK_START.length) growScratch();
    TOK_START[count] = start;
    TOK_END[count] = end;
    TOK_HASH[count] = -1;
    count++;
    if (dot < 0) return count;
    start = dot + 1;
  }
}

function scratchTokenHash(subject: string, i: number): number {
  let h = TOK_HASH[i]!;
  if (h >= 0) return h;
  // The same hash as tokenHash, over the token in place.
  h = fnv1a(subject, TOK_START[i]!, TOK_END[i]!) & 0x3fffffff;
  TOK_HASH[i] = h;
  return h;
}

function growScratch(): void {
  const n = TOK_START.length * 2;
  const grow = (a: Int32Array) => {
    const b = new Int32Array(n);
    b.set(a);
    return b;
  };
  TOK_START = grow(TOK_START);
  TOK_END = grow(TOK_END);
  TOK_HASH = grow(TOK_HASH);
}

/** The literal child for scratch token i of `subject`, compared in place. */
function childForToken<S>(l: Level<S>, subject: string, i: number): TrieNode<S> | null {
  let n = l.nodes.get(scratchTokenHash(subject, i)) ?? null;
  if (n === null) return null;
  const start = TOK_START[i]!;
  const len = TOK_END[i]! - start;
  for (; n !== null; n = n.collide) {
    const t = n.token;
    if (t.length !== len) continue;
    let k = 0;
    while (k < len && t.charCodeAt(k) === subject.charCodeAt(start + k)) k++;
    if (k === len) return n;
  }
  return null;
}

function levelSize<S>(l: Level<S> | null): number {
  if (l === null) return 0;
  return l.count + (l.pwc !== null ? 1 : 0) + (l.fwc !== null ? 1 : 0);
}

function nodeIsEmpty<S>(n: TrieNode<S>): boolean {
  return n.psubs.size === 0 && (n.qsubs === null || n.qsubs.size === 0) && levelSize(n.next) === 0;
}

export class Sublist<S extends SubscriptionLike> {
  #root: Level<S> = newLevel();
  #cache: (CacheEntry<S> | undefined)[] | null;
  #cacheSize = 0;
  /** The last match, for publishers repeating one subject (the common case): no hashing. */
  #lastSubject = '';
  #lastResult: SublistResult<S> = EMPTY_RESULT;
  #lastGen = -1;
  #count = 0;
  #genId = 0;
  #inserts = 0;
  #removes = 0;
  #matches = 0;
  #cacheHits = 0;

  constructor(options: SublistOptions = {}) {
    this.#cache = options.cache === false ? null : new Array<CacheEntry<S> | undefined>(SUBLIST_CACHE_MAX).fill(undefined);
  }

  /** Number of subscriptions stored. */
  get count(): number {
    return this.#count;
  }

  /** Changes on every insert and remove; per-connection caches compare it to drop stale entries. */
  get genId(): number {
    return this.#genId;
  }

  get cacheSize(): number {
    return this.#cacheSize;
  }

  stats(): SublistStats {
    return {
      count: this.#count,
      cacheSize: this.cacheSize,
      inserts: this.#inserts,
      removes: this.#removes,
      matches: this.#matches,
      cacheHits: this.#cacheHits,
    };
  }

  /**
   * Add a subscription. Throws SublistError when the subject has an empty token
   * or a '>' that is not last. Inserting the same object twice is a no-op.
   */
  insert(sub: S): void {
    const tokens = sub.subject.split('.');
    let level = this.#root;
    let node: TrieNode<S> | null = null;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.length === 0 || (t === '>' && i !== tokens.length - 1)) throw new SublistError(sub.subject);
    }
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === '*') {
        node = level.pwc ??= newNode();
      } else if (t === '>') {
        node = level.fwc ??= newNode();
      } else {
        node = literalChild(level, t) ?? addLiteralChild(level, t);
      }
      if (i < tokens.length - 1) level = node.next ??= newLevel();
    }
    const n = node!;
    if (sub.queue === null) {
      if (n.psubs.has(sub)) return;
      n.psubs.add(sub);
    } else {
      n.qsubs ??= new Map();
      let members = n.qsubs.get(sub.queue);
      if (members === undefined) {
        members = new Set();
        n.qsubs.set(sub.queue, members);
      } else if (members.has(sub)) {
        return;
      }
      members.add(sub);
    }
    this.#count++;
    this.#inserts++;
    this.#addToCache(sub);
    this.#genId++;
  }

  /** Remove a subscription; false when it was not stored. */
  remove(sub: S): boolean {
    if (!this.#removeFromTrie(sub)) return false;
    this.#removeFromCache(sub.subject);
    this.#genId++;
    return true;
  }

  /** Remove many subscriptions (a connection going away); returns how many were stored. */
  removeBatch(subs: Iterable<S>): number {
    let removed = 0;
    for (const sub of subs) if (this.#removeFromTrie(sub)) removed++;
    if (removed > 0) {
      // Patching the cache per subscription costs more than refilling it.
      this.#clearCache();
      this.#genId++;
    }
    return removed;
  }

  /**
   * Subscriptions whose subject matches the literal `subject`. The result is
   * shared (cached): do not mutate it.
   */
  match(subject: string): SublistResult<S> {
    this.#matches++;
    const cache = this.#cache;
    let hash = 0;
    if (cache !== null) {
      if (subject === this.#lastSubject && this.#lastGen === this.#genId) {
        this.#cacheHits++;
        return this.#lastResult;
      }
      hash = subjectHash(subject);
      const e = cache[hash & CACHE_MASK];
      if (e !== undefined && e.hash === hash && e.subject === subject) {
        this.#cacheHits++;
        return this.#remember(subject, e.result);
      }
    }
    const count = tokenize(subject);
    if (count < 0) return EMPTY_RESULT;
    const r: MutableResult<S> = { psubs: [], qsubs: [] };
    matchLevel(this.#root, subject, 0, count, r);
    const result: SublistResult<S> = r.psubs.length === 0 && r.qsubs.length === 0 ? EMPTY_RESULT : r;
    if (cache !== null) {
      const slot = hash & CACHE_MASK;
      const e = cache[slot];
      if (e === undefined) {
        cache[slot] = { subject, hash, result };
        this.#cacheSize++;
      } else {
        e.subject = subject;
        e.hash = hash;
        e.result = result;
      }
      this.#remember(subject, result);
    }
    return result;
  }

  #remember(subject: string, result: SublistResult<S>): SublistResult<S> {
    this.#lastSubject = subject;
    this.#lastResult = result;
    this.#lastGen = this.#genId;
    return result;
  }

  /** Whether anything matches `subject`, without building a result on a cache miss. */
  hasInterest(subject: string): boolean {
    const cache = this.#cache;
    if (cache !== null) {
      const hash = subjectHash(subject);
      const e = cache[hash & CACHE_MASK];
      if (e !== undefined && e.hash === hash && e.subject === subject) return e.result.psubs.length > 0 || e.result.qsubs.length > 0;
    }
    const count = tokenize(subject);
    if (count < 0) return false;
    return anyInterest(this.#root, subject, 0, count);
  }

  /** Every stored subscription (allocates; for monitoring and snapshots). */
  all(): S[] {
    const out: S[] = [];
    collectAll(this.#root, out);
    return out;
  }

  #removeFromTrie(sub: S): boolean {
    const tokens = sub.subject.split('.');
    // The path walked, to prune nodes left empty.
    const levels: Level<S>[] = [];
    const nodes: TrieNode<S>[] = [];
    let level: Level<S> | null = this.#root;
    let node: TrieNode<S> | null = null;
    for (let i = 0; i < tokens.length; i++) {
      if (level === null) return false;
      const t = tokens[i]!;
      node = t === '*' ? level.pwc : t === '>' ? level.fwc : literalChild(level, t);
      if (node === null) return false;
      levels.push(level);
      nodes.push(node);
      level = node.next;
    }
    const n = node!;
    if (sub.queue === null) {
      if (!n.psubs.delete(sub)) return false;
    } else {
      const members = n.qsubs?.get(sub.queue);
      if (members === undefined || !members.delete(sub)) return false;
      if (members.size === 0) n.qsubs!.delete(sub.queue);
    }
    for (let i = nodes.length - 1; i >= 0; i--) {
      const nd = nodes[i]!;
      if (!nodeIsEmpty(nd)) break;
      const lv = levels[i]!;
      if (lv.pwc === nd) lv.pwc = null;
      else if (lv.fwc === nd) lv.fwc = null;
      else removeLiteralChild(lv, nd);
    }
    this.#count--;
    this.#removes++;
    return true;
  }

  /** Patch cached results the new subscription belongs to (copy-on-write: results are shared). */
  #addToCache(sub: S): void {
    const cache = this.#cache;
    if (cache === null) return;
    if (subjectIsLiteral(sub.subject)) {
      const hash = subjectHash(sub.subject);
      const e = cache[hash & CACHE_MASK];
      if (e !== undefined && e.hash === hash && e.subject === sub.subject) e.result = withSub(e.result, sub);
      return;
    }
    for (const e of cache) {
      if (e !== undefined && subjectMatches(e.subject, sub.subject)) e.result = withSub(e.result, sub);
    }
  }

  /** Drop cached results a removed subscription may be in; they are rebuilt on the next match. */
  #removeFromCache(subject: string): void {
    const cache = this.#cache;
    if (cache === null) return;
    if (subjectIsLiteral(subject)) {
      const hash = subjectHash(subject);
      const slot = hash & CACHE_MASK;
      const e = cache[slot];
      if (e !== undefined && e.hash === hash && e.subject === subject) this.#dropSlot(slot);
      return;
    }
    for (let slot = 0; slot < cache.length; slot++) {
      const e = cache[slot];
      if (e !== undefined && subjectMatches(e.subject, subject)) this.#dropSlot(slot);
    }
  }

  #dropSlot(slot: number): void {
    this.#cache![slot] = undefined;
    this.#cacheSize--;
  }

  #clearCache(): void {
    if (this.#cache === null || this.#cacheSize === 0) return;
    this.#cache.fill(undefined);
    this.#cacheSize = 0;
  }
}

/** A copy of `r` with `sub` added to its plain list or its queue group. */
function withSub<S extends SubscriptionLike>(r: SublistResult<S>, sub: S): SublistResult<S> {
  if (sub.queue === null) return { psubs: [...r.psubs, sub], qsubs: r.qsubs };
  const qsubs = r.qsubs.slice();
  const slot = findQueueSlot(qsubs, sub.queue);
  if (slot < 0) qsubs.push([sub]);
  else qsubs[slot] = [...qsubs[slot]!, sub];
  return { psubs: r.psubs, qsubs };
}

function findQueueSlot<S extends SubscriptionLike>(qsubs: readonly (readonly S[])[], queue: string): number {
  for (let i = 0; i < qsubs.length; i++) if (qsubs[i]![0]!.queue === queue) return i;
  return -1;
}

function addNodeToResult<S extends SubscriptionLike>(n: TrieNode<S>, r: MutableResult<S>): void {
  for (const s of n.psubs) r.psubs.push(s);
  if (n.qsubs === null) return;
  for (const [queue, members] of n.qsubs) {
    let slot = findQueueSlot(r.qsubs, queue);
    if (slot < 0) {
      slot = r.qsubs.length;
      r.qsubs.push([]);
    }
    const group = r.qsubs[slot]!;
    for (const s of members) group.push(s);
  }
}

/** Collect matches for scratch tokens [start, count) below level `l` (recursing into '*' branches). */
function matchLevel<S extends SubscriptionLike>(l: Level<S> | null, subject: string, start: number, count: number, r: MutableResult<S>): void {
  let pwc: TrieNode<S> | null = null;
  let n: TrieNode<S> | null = null;
  for (let i = start; i < count; i++) {
    if (l === null) return;
    if (l.fwc !== null) addNodeToResult(l.fwc, r);
    pwc = l.pwc;
    if (pwc !== null) matchLevel(pwc.next, subject, i + 1, count, r);
    n = l.count === 0 ? null : childForToken(l, subject, i);
    l = n !== null ? n.next : null;
  }
  if (n !== null) addNodeToResult(n, r);
  if (pwc !== null) addNodeToResult(pwc, r);
}

function nodeHasSubs<S>(n: TrieNode<S>): boolean {
  return n.psubs.size > 0 || (n.qsubs !== null && n.qsubs.size > 0);
}

function anyInterest<S>(l: Level<S> | null, subject: string, start: number, count: number): boolean {
  let pwc: TrieNode<S> | null = null;
  let n: TrieNode<S> | null = null;
  for (let i = start; i < count; i++) {
    if (l === null) return false;
    // A '>' node only exists while it holds subscriptions or deeper nodes; check it has subs.
    if (l.fwc !== null && nodeHasSubs(l.fwc)) return true;
    pwc = l.pwc;
    if (pwc !== null && anyInterest(pwc.next, subject, i + 1, count)) return true;
    n = l.count === 0 ? null : childForToken(l, subject, i);
    l = n !== null ? n.next : null;
  }
  return (n !== null && nodeHasSubs(n)) || (pwc !== null && nodeHasSubs(pwc));
}

function collectAll<S>(l: Level<S>, out: S[]): void {
  const visit = (n: TrieNode<S>): void => {
    for (const s of n.psubs) out.push(s);
    if (n.qsubs !== null) for (const members of n.qsubs.values()) for (const s of members) out.push(s);
    if (n.next !== null) collectAll(n.next, out);
  };
  for (const head of l.nodes.values()) for (let n: TrieNode<S> | null = head; n !== null; n = n.collide) visit(n);
  if (l.pwc !== null) visit(l.pwc);
  if (l.fwc !== null) visit(l.fwc);
}
