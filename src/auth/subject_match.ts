// Subject matching as the permission checks of nats-server see it. Private to auth: the
// permission lists behave like a sublist in which the *checked* subject is taken literally,
// so a SUB to `foo.>` is allowed by `foo.*` (the `*` node matches the literal token `>`),
// which differs from the subset logic a router would use. Keeping that quirk here, apart
// from src/routing, lets the router's matcher stay strict.

const TOKEN_SEPARATOR = '.';
const PARTIAL_WILDCARD = '*';
const FULL_WILDCARD = '>';

/** Splits on `.`; null when a token is empty (nats-server then matches nothing). */
export function tokenize(subject: string): string[] | null {
  if (subject.length === 0) return null;
  const tokens = subject.split(TOKEN_SEPARATOR);
  for (let i = 0; i < tokens.length; i++) if (tokens[i]!.length === 0) return null;
  return tokens;
}

/**
 * Whether `pattern` (may hold `*` and a trailing `>`) matches `subject`, with every token of
 * `subject` compared literally: a `*` or `>` in `subject` is only matched by a wildcard in
 * `pattern`, never by a literal token.
 */
export function patternMatches(pattern: readonly string[], subject: readonly string[]): boolean {
  const n = pattern.length;
  for (let i = 0; i < n; i++) {
    const p = pattern[i]!;
    if (p === FULL_WILDCARD) return subject.length > i;
    if (i >= subject.length) return false;
    if (p !== PARTIAL_WILDCARD && p !== subject[i]) return false;
  }
  return subject.length === n;
}

/** A token that is exactly `*` or `>` (a `*` inside a longer token is an ordinary character). */
function isWildcardToken(token: string): boolean {
  return token === PARTIAL_WILDCARD || token === FULL_WILDCARD;
}

export function subjectHasWildcard(subject: string): boolean {
  const tokens = subject.split(TOKEN_SEPARATOR);
  for (const t of tokens) if (isWildcardToken(t)) return true;
  return false;
}

/**
 * Whether every subject matched by `tokens` is also matched by `test` (both may hold
 * wildcards): `foo.*` is a subset of `>`, `*.*` and `foo.*`, not of `foo.bar`.
 */
export function isSubsetMatch(tokens: readonly string[], test: readonly string[]): boolean {
  for (let i = 0; i < test.length; i++) {
    if (i >= tokens.length) return false;
    const t2 = test[i]!;
    if (t2.length === 0) return false;
    if (t2 === FULL_WILDCARD) return true;
    const t1 = tokens[i]!;
    if (t1.length === 0 || t1 === FULL_WILDCARD) return false;
    if (t1 === PARTIAL_WILDCARD) {
      if (t2 !== PARTIAL_WILDCARD) return false;
      continue;
    }
    // nats-server looks at the first character only here, so `*x` in `test` matches anything.
    if (t2[0] !== PARTIAL_WILDCARD && t1 !== t2) return false;
  }
  return tokens.length === test.length;
}

/** Whether some literal subject could be matched by both `a` and `b`. */
export function subjectsCollide(a: string, b: string): boolean {
  if (a === b) return true;
  const ta = a.split(TOKEN_SEPARATOR);
  const tb = b.split(TOKEN_SEPARATOR);
  const wa = wildcardKinds(ta);
  const wb = wildcardKinds(tb);
  const literalA = !wa.partial && !wa.full;
  const literalB = !wb.partial && !wb.full;
  if (literalA && literalB) return false;
  if (literalA) return isSubsetMatch(ta, tb);
  if (literalB) return isSubsetMatch(tb, ta);
  if (ta.length !== tb.length) {
    // The shorter one can only reach the longer one's tokens through a trailing `>`.
    if ((ta.length < tb.length && !wa.full) || (tb.length < ta.length && !wb.full)) return false;
  }
  const stop = Math.min(ta.length, tb.length);
  for (let i = 0; i < stop; i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x.length === 0 || y.length === 0) return false;
    // As in nats-server, a token *starting* with a wildcard character may match anything.
    if (!startsWithWildcard(x) && !startsWithWildcard(y) && x !== y) return false;
  }
  return true;
}

function startsWithWildcard(token: string): boolean {
  const c = token[0];
  return c === PARTIAL_WILDCARD || c === FULL_WILDCARD;
}

function wildcardKinds(tokens: readonly string[]): { partial: boolean; full: boolean } {
  let partial = false;
  let full = false;
  for (const t of tokens) {
    if (t === PARTIAL_WILDCARD) partial = true;
    else if (t === FULL_WILDCARD) full = true;
  }
  return { partial, full };
}

const WHITESPACE = /[ \t\n\r\f]/;

/** nats-server `IsValidSubject`: non-empty tokens, no whitespace, `>` only last. */
export function isValidSubject(subject: string): boolean {
  if (subject.length === 0) return false;
  const tokens = subject.split(TOKEN_SEPARATOR);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.length === 0) return false;
    if (WHITESPACE.test(t)) return false;
    if (t === FULL_WILDCARD && i !== tokens.length - 1) return false;
  }
  return true;
}
