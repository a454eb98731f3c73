// Timestamps in the JetStream JSON API are Go `time.Time` values: RFC 3339 with nanoseconds,
// trailing zeros of the fraction trimmed, always UTC here ("Z"), and the zero time written as
// "0001-01-01T00:00:00Z". Message times are nanoseconds since the epoch (bigint).

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** The date and time of the last second formatted: messages read together are mostly written together. */
let lastSecond = 0n;
let lastBase = '1970-01-01T00:00:00';

export function rfc3339Nano(ns: bigint): string {
  if (ns === 0n) return GO_ZERO_TIME;
  let seconds = ns / NS_PER_S;
  let frac = ns % NS_PER_S;
  if (frac < 0n) {
    frac += NS_PER_S;
    seconds -= 1n;
  }
  if (seconds !== lastSecond) {
    lastBase = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
    lastSecond = seconds;
  }
  const base = lastBase;
  if (frac === 0n) return `${base}Z`;
  const digits = frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}.${digits}Z`;
}

export function rfc3339FromMs(ms: number): string {
  return rfc3339Nano(BigInt(Math.trunc(ms)) * NS_PER_MS);
}

/** Parses an RFC 3339 timestamp (any offset, up to nanoseconds) into ns since the epoch, or null. */
export function parseRfc3339(text: string): bigint | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  if (m === null) return null;
  const ms = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (Number.isNaN(ms)) return null;
  const frac = m[2] === undefined ? 0n : BigInt(m[2].padEnd(9, '0'));
  return BigInt(ms) * NS_PER_MS + frac;
}
