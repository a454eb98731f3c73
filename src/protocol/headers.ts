// NATS message headers: `NATS/1.0[ <status>[ <description>]]\r\n` followed by
// `Key: value\r\n` lines and an empty line. Used by JetStream and system
// services, not by plain message routing, so plain strings are fine here.
//
// Keys keep their case and are matched exactly, as nats-server's header lookup
// does. Values are decoded as latin1 so any byte survives a round trip.

export const HEADER_VERSION = 'NATS/1.0';
const CRLF = '\r\n';

export interface HeaderBlockInit {
  /** Status code for the version line (e.g. 503, 408, 100); omitted when absent. */
  status?: number;
  /** Status description, written only with a status. */
  description?: string;
  headers?: Iterable<readonly [string, string]> | Readonly<Record<string, string | readonly string[]>>;
}

/** Build a complete header block, ending with the blank line. */
export function buildHeaders(init: HeaderBlockInit = {}): Uint8Array {
  let text = HEADER_VERSION;
  if (init.status !== undefined) {
    text += ` ${init.status}`;
    if (init.description) text += ` ${init.description}`;
  }
  text += CRLF;
  const h = init.headers;
  if (h !== undefined) {
    const entries: Iterable<readonly [string, string | readonly string[]]> =
      Symbol.iterator in h
        ? (h as Iterable<readonly [string, string]>)
        : Object.entries(h as Readonly<Record<string, string | readonly string[]>>);
    for (const [key, value] of entries) {
      if (typeof value === 'string') text += `${key}: ${value}${CRLF}`;
      else for (const v of value) text += `${key}: ${v}${CRLF}`;
    }
  }
  text += CRLF;
  return Buffer.from(text, 'latin1');
}

/** `NATS/1.0 <code>[ <description>]\r\n\r\n` — the header-only status messages (503 no responders, ...). */
export function statusHeaders(status: number, description?: string): Uint8Array {
  return buildHeaders(description === undefined ? { status } : { status, description });
}

export interface ParsedHeaders {
  /** Status code from the version line, or 0 when there is none. */
  status: number;
  description: string;
  /** Values in arrival order per key; keys as written. */
  headers: Map<string, string[]>;
}

/**
 * Parse a header block (the first hdr_len bytes of an HMSG/HPUB payload).
 * Returns null when it does not start with the NATS/1.0 version line.
 * Lines without a colon are skipped, as Go's MIME header reader tolerates.
 */
export function parseHeaders(block: Uint8Array): ParsedHeaders | null {
  const text = Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('latin1');
  if (!text.startsWith(HEADER_VERSION)) return null;
  const lines = text.split(CRLF);
  const first = lines[0]!.slice(HEADER_VERSION.length).trim();
  let status = 0;
  let description = '';
  if (first.length > 0) {
    const sp = first.indexOf(' ');
    const code = sp < 0 ? first : first.slice(0, sp);
    if (/^\d{3}$/.test(code)) {
      status = Number(code);
      description = sp < 0 ? '' : first.slice(sp + 1).trim();
    } else {
      description = first;
    }
  }
  const headers = new Map<string, string[]>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    const values = headers.get(key);
    if (values === undefined) headers.set(key, [value]);
    else values.push(value);
  }
  return { status, description, headers };
}

/**
 * First value of `key` in a header block, without parsing the whole block:
 * the key must start a line and be followed directly by ':' (as nats-server's
 * header lookup). Null when absent.
 */
export function headerValue(block: Uint8Array, key: string): string | null {
  const text = Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('latin1');
  let from = 0;
  for (;;) {
    const at = text.indexOf(key, from);
    if (at < 2) {
      if (at < 0) return null;
      from = at + 1;
      continue;
    }
    const colon = at + key.length;
    if (text.charCodeAt(at - 1) === 0x0a && text.charCodeAt(at - 2) === 0x0d && text.charCodeAt(colon) === 0x3a) {
      const end = text.indexOf(CRLF, colon + 1);
      return text.slice(colon + 1, end < 0 ? text.length : end).trim();
    }
    from = at + 1;
  }
}
