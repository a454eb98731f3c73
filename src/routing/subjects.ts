// Subject rules and matching. Inside the server a subject is a latin1 string of
// its raw bytes (one char per byte), so UTF-8 subjects pass through unchanged
// and matching is byte-exact. Tokens are separated by '.'; '*' matches exactly
// one token and '>' one or more trailing tokens, and both are wildcards only
// when they are a whole token ("a*b" is a literal token).
//
// These functions walk the strings with indexOf instead of splitting, so the
// match-time helpers allocate nothing.

import { latin1String } from '../protocol/bytes.ts';

export const TOKEN_SEPARATOR = '.';
export const PARTIAL_WILDCARD = '*';
export const FULL_WILDCARD = '>';

const DOT = 0x2e;
const STAR = 0x2a;
const GT = 0x3e;

/** Server-side form of a subject received as bytes. */
export function subjectFromBytes(b: Uint8Array): string {
  return latin1String(b);
}

/** Whitespace nats-server rejects inside a subject token. */
function isSubjectSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c;
}

/** End index of the token starting at `start` (index of the next '.', or the length). */
function tokenEnd(s: string, start: number): number {
  const dot = s.indexOf(TOKEN_SEPARATOR, start);
  return dot < 0 ? s.length : dot;
}

/** True when `s[start, end)` is the single-char token `c`. */
function isSingle(s: string, start: number, end: number, c: number): boolean {
  return end - start === 1 && s.charCodeAt(start) === c;
}

/** True when `a[as, ae)` and `b[bs, be)` hold the same characters. */
function sameToken(a: string, as: number, ae: number, b: string, bs: number, be: number): boolean {
  const n = ae - as;
  if (n !== be - bs) return false;
  for (let i = 0; i < n; i++) if (a.charCodeAt(as + i) !== b.charCodeAt(bs + i)) return false;
  return true;
}

/**
 * A valid subscription subject: non-empty tokens without whitespace, '>' only
 * as the last token. Wildcards are allowed.
 */
export function isValidSubject(s: string): boolean {
  const len = s.length;
  if (len === 0) return false;
  let start = 0;
  for (;;) {
    const end = tokenEnd(s, start);
    if (end === start) return false;
    for (let i = start; i < end; i++) if (isSubjectSpace(s.charCodeAt(i))) return false;
    if (end === len) return true;
    if (isSingle(s, start, end, GT)) return false; // '>' followed by more tokens
    start = end + 1;
  }
}

/** A subject without wildcard tokens (does not check validity). */
export function subjectIsLiteral(s: string): boolean {
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if ((c === STAR || c === GT) && (i === 0 || s.charCodeAt(i - 1) === DOT) && (i + 1 === len || s.charCodeAt(i + 1) === DOT)) {
      return false;
    }
  }
  return true;
}

/** A subject one may publish to: valid and literal. */
export function isValidPublishSubject(s: string): boolean {
  return isValidSubject(s) && subjectIsLiteral(s);
}

/** A queue group name: non-empty, no whitespace (the protocol separates arguments by blanks). */
export function isValidQueueName(q: string): boolean {
  if (q.length === 0) return false;
  for (let i = 0; i < q.length; i++) if (isSubjectSpace(q.charCodeAt(i))) return false;
  return true;
}

/**
 * Whether the literal `subject` is matched by `pattern` (which may hold
 * wildcards). A wildcard-looking token in `subject` is compared literally, which
 * is what the match cache relies on.
 */
export function subjectMatches(subject: string, pattern: string): boolean {
  const sl = subject.length;
  const pl = pattern.length;
  if (sl === 0 || pl === 0) return false;
  let si = 0;
  let pi = 0;
  for (;;) {
    const pe = tokenEnd(pattern, pi);
    if (isSingle(pattern, pi, pe, GT)) return true; // at least one subject token remains here
    const se = tokenEnd(subject, si);
    if (!isSingle(pattern, pi, pe, STAR) && !sameToken(subject, si, se, pattern, pi, pe)) return false;
    const patternDone = pe === pl;
    const subjectDone = se === sl;
    if (patternDone || subjectDone) return patternDone && subjectDone;
    pi = pe + 1;
    si = se + 1;
  }
}

/**
 * Whether two subjects (either may hold wildcards) can both match some literal
 * subject — how JetStream decides that two streams' subjects overlap.
 */
export function subjectsCollide(a: string, b: string): boolean {
  if (a === b) return true;
  const al = a.length;
  const bl = b.length;
  if (al === 0 || bl === 0) return false;
  let ai = 0;
  let bi = 0;
  for (;;) {
    const ae = tokenEnd(a, ai);
    const be = tokenEnd(b, bi);
    // '>' absorbs whatever the other side still needs (it has at least this token).
    if (isSingle(a, ai, ae, GT) || isSingle(b, bi, be, GT)) return true;
    if (!isSingle(a, ai, ae, STAR) && !isSingle(b, bi, be, STAR) && !sameToken(a, ai, ae, b, bi, be)) return false;
    const aDone = ae === al;
    const bDone = be === bl;
    if (aDone || bDone) return aDone && bDone;
    ai = ae + 1;
    bi = be + 1;
  }
}

/**
 * Whether every subject matched by `pattern` is also matched by `ofPattern`
 * (both may hold wildcards): "foo.*" is a subset of "foo.>" and of "*.*", not of "foo.bar".
 */
export function isSubsetMatch(pattern: string, ofPattern: string): boolean {
  const pl = pattern.length;
  const ol = ofPattern.length;
  if (pl === 0 || ol === 0) return false;
  let pi = 0;
  let oi = 0;
  for (;;) {
    const oe = tokenEnd(ofPattern, oi);
    if (isSingle(ofPattern, oi, oe, GT)) return true; // pattern has a token here, so ≥ 1 token remains
    const pe = tokenEnd(pattern, pi);
    if (isSingle(pattern, pi, pe, GT)) return false; // pattern reaches lengths ofPattern cannot
    if (!isSingle(ofPattern, oi, oe, STAR)) {
      // A literal token in ofPattern needs the same literal in pattern.
      if (isSingle(pattern, pi, pe, STAR) || !sameToken(pattern, pi, pe, ofPattern, oi, oe)) return false;
    }
    const pDone = pe === pl;
    const oDone = oe === ol;
    if (pDone || oDone) return pDone && oDone;
    pi = pe + 1;
    oi = oe + 1;
  }
}

/** The tokens of a subject (allocates; not for per-message paths). */
export function tokenizeSubject(s: string): string[] {
  return s.split(TOKEN_SEPARATOR);
}

/** Number of tokens ('' has none). */
export function numTokens(s: string): number {
  if (s.length === 0) return 0;
  let n = 1;
  for (let i = s.indexOf(TOKEN_SEPARATOR); i >= 0; i = s.indexOf(TOKEN_SEPARATOR, i + 1)) n++;
  return n;
}

/** The token at zero-based `index`, or '' when there is none. */
export function tokenAt(s: string, index: number): string {
  let start = 0;
  for (let t = 0; t < index; t++) {
    const dot = s.indexOf(TOKEN_SEPARATOR, start);
    if (dot < 0) return '';
    start = dot + 1;
  }
  return s.slice(start, tokenEnd(s, start));
}
