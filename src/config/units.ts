// Units the NATS config format understands: Go duration strings, size suffixes on
// integers, the string sizes JetStream limits accept, and boolean words.

const NANOS_PER_MILLI = 1e6;

/** Nanoseconds per Go duration unit (time.ParseDuration). */
const DURATION_UNIT_NANOS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Parses a Go duration (`"1h30m"`, `"500ms"`, `"-1.5s"`, `"0"`) into milliseconds.
 * Throws an Error whose message matches Go's `time: ...` texts.
 */
export function parseGoDuration(text: string): number {
  const invalid = (): Error => new Error(`time: invalid duration ${JSON.stringify(text)}`);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let nanos = 0;
  while (s !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = num?.[1] ?? '';
    const frac = num?.[2];
    if (num === null || (whole === '' && (frac === undefined || frac === ''))) throw invalid();
    s = s.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(s)?.[0] ?? '';
    if (unit === '') throw new Error(`time: missing unit in duration ${JSON.stringify(text)}`);
    const scale = DURATION_UNIT_NANOS[unit];
    if (scale === undefined) {
      throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
    }
    s = s.slice(unit.length);
    nanos += Number(`${whole === '' ? '0' : whole}.${frac ?? '0'}`) * scale;
  }
  const ms = nanos / NANOS_PER_MILLI;
  return negative ? -ms : ms;
}

/** Formats milliseconds the way Go prints a time.Duration, for messages (`1m30s`, `500ms`). */
export function formatGoDuration(ms: number): string {
  return formatGoDurationNs(Math.round(ms * NANOS_PER_MILLI));
}

/**
 * Formats nanoseconds exactly as Go's time.Duration.String: `0s`, `800ns`, `150µs`, `1.5ms`,
 * `1m0s`, `2h0m3.5s` (no days; fractions as long as needed, trailing zeros dropped).
 */
export function formatGoDurationNs(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  const u = Math.abs(ns);
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${decimalFraction(u, 1e3)}µs`;
  if (u < 1e9) return `${sign}${decimalFraction(u, 1e6)}ms`;
  const h = Math.floor(u / 3.6e12);
  const m = Math.floor((u % 3.6e12) / 6e10);
  const s = decimalFraction(u % 6e10, 1e9);
  return `${sign}${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

/** `n / unit` (unit a power of ten) in decimal, without float rounding and without trailing zeros. */
function decimalFraction(n: number, unit: number): string {
  const whole = Math.floor(n / unit);
  const rest = n - whole * unit;
  if (rest === 0) return String(whole);
  return `${whole}.${String(rest).padStart(String(unit).length - 1, '0').replace(/0+$/, '')}`;
}

/**
 * Multipliers for suffixed integers in the conf format (conf/parse.go): a bare
 * letter is decimal (k = 1000), a `b`/`i`/`ib` form is binary (kb = ki = kib = 1024).
 */
const INTEGER_SUFFIX_MULTIPLIER: Readonly<Record<string, number>> = (() => {
  const table: Record<string, number> = { '': 1 };
  'kmgtpe'.split('').forEach((letter, i) => {
    const power = i + 1;
    table[letter] = 1000 ** power;
    for (const binary of ['b', 'i', 'ib']) table[letter + binary] = 1024 ** power;
  });
  return table;
})();

/** Conf integers are int64 in nats-server. */
const INT64_LIMIT = 2 ** 63;

/**
 * Converts the text of a conf integer (`-1`, `64k`, `1MB`, `2GiB`) to a number.
 * Throws with a conf-parser style message when it cannot.
 */
export function parseSuffixedInteger(text: string): number {
  const m = /^(-?\d+)(.*)$/.exec(text);
  if (m === null) throw new Error(`expected integer, but got '${text}'`);
  const digits = m[1] ?? '';
  const multiplier = INTEGER_SUFFIX_MULTIPLIER[(m[2] ?? '').trim().toLowerCase()];
  if (multiplier === undefined) throw new Error(`invalid size suffix in '${text}'`);
  const value = Number(digits) * multiplier;
  // int64 like nats-server; above 2^53 the number is approximate, which only sizes reach.
  if (Math.abs(value) >= INT64_LIMIT) throw new Error(`integer '${text}' is out of the range`);
  return value;
}

/** Powers of two for JetStream's string sizes (`"1G"`), as nats-server's getStorageSize. */
const STORAGE_SUFFIX_SHIFT: Readonly<Record<string, number>> = { K: 10, M: 20, G: 30, T: 40 };

/** JetStream limits accept an integer (already sized by the lexer) or a string like `"10G"`. */
export function parseStorageSize(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') throw new Error('must be int64 or string');
  if (value === '') return 0;
  const shift = STORAGE_SUFFIX_SHIFT[value.slice(-1)];
  const prefix = value.slice(0, -1);
  if (!/^-?\d+$/.test(prefix)) throw new Error(`invalid size ${JSON.stringify(value)}`);
  if (shift === undefined) throw new Error('sizes defined as strings must end in K, M, G, T');
  return Number(prefix) * 2 ** shift;
}

/** Words the lexer reads as booleans (conf/lex.go isBool). */
export function lexBooleanWord(word: string): boolean | undefined {
  switch (word.toLowerCase()) {
    case 'true':
    case 'yes':
    case 'on':
      return true;
    case 'false':
    case 'no':
    case 'off':
      return false;
    default:
      return undefined;
  }
}

/** Boolean keys also take `enabled`/`disabled` (nats-server accepts them for `jetstream`). */
export function booleanLike(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  if (lower === 'enabled' || lower === 'enable') return true;
  if (lower === 'disabled' || lower === 'disable') return false;
  return lexBooleanWord(lower);
}
