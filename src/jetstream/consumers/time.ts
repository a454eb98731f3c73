// Times in the JSON API are Go time.Time values (RFC 3339 with up to nanoseconds, UTC);
// durations in request bodies are Go time.Duration (ns as JSON numbers, or "1.5s" text in NAKs).

export function rfc3339FromMs(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go time.ParseDuration ("300ms", "1.5h", "2h45m"); null when malformed. */
export function parseGoDuration(text: string): number | null {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m) return null;
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}
