// The reference the subject and sublist property tests compare against: plain token arrays.

/** Reference matcher over token arrays. */
export function bruteMatch(subject: string, pattern: string): boolean {
  const s = subject.split('.');
  const p = pattern.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return s.length === p.length;
}
