// Small edits of NATS header blocks on the JetStream paths that add headers to a stored message
// (direct get, republish, sourcing): append lines to an existing block, or drop some keys.

import { HEADER_VERSION } from '../protocol/headers.ts';

const CRLF = '\r\n';
const EMPTY_BLOCK = `${HEADER_VERSION}${CRLF}`;

function text(block: Uint8Array): string {
  return Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('latin1');
}

/** `block` (or a fresh block when null/empty) with `entries` appended as `Key: value` lines. */
export function appendHeaders(block: Uint8Array | null, entries: ReadonlyArray<readonly [string, string]>): Buffer {
  let head = block === null || block.length === 0 ? EMPTY_BLOCK : text(block);
  // Drop the blank line that ends the block; it is written again after the new lines.
  if (head.endsWith(CRLF + CRLF)) head = head.slice(0, -2);
  else if (!head.endsWith(CRLF)) head += CRLF;
  let out = head;
  for (const [k, v] of entries) out += `${k}: ${v}${CRLF}`;
  out += CRLF;
  return Buffer.from(out, 'latin1');
}

/** `block` without the lines whose key starts with any of `prefixes`; null when nothing is left. */
export function removeHeadersWithPrefix(block: Uint8Array | null, prefixes: readonly string[]): Uint8Array | null {
  if (block === null || block.length === 0) return block;
  const lines = text(block).split(CRLF);
  let removed = false;
  const kept = lines.filter((line, i) => {
    if (i === 0 || line.length === 0) return true;
    const drop = prefixes.some((p) => line.startsWith(p));
    if (drop) removed = true;
    return !drop;
  });
  if (!removed) return block;
  const first = kept[0]!;
  const body = kept.slice(1).filter((l) => l.length > 0);
  if (body.length === 0 && first === HEADER_VERSION) return null;
  return Buffer.from(`${[first, ...body].join(CRLF)}${CRLF}${CRLF}`, 'latin1');
}
