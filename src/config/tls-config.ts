// Reads a `tls {}` block (the client one at the top level, the route one inside `cluster {}`)
// into canonical keys under a path prefix, with nats-server's messages.

import { parseDurationAt, readSecondsOrDuration } from './auth-config.ts';
import { childPath, describeType, failAt, originIn } from './draft.ts';
import type { ConfigDraft, Origin } from './draft.ts';
import { isConfMap } from './parser.ts';
import type { ConfValue } from './parser.ts';
import { booleanLike } from './units.ts';

/** Where the block's keys go (`tls`, `cluster.tls`) and whether clients or servers connect. */
export interface TlsContext {
  path: string;
  /** `handshake_first` is a client-connection option; routes do not know it. */
  clientContext: boolean;
}

export function readTlsBlock(value: ConfValue, origin: Origin, draft: ConfigDraft, ctx: TlsContext): void {
  if (!isConfMap(value)) failAt(origin, `Expected tls to be a map, got ${describeType(value)}`);
  draft.set(`${ctx.path}.enabled`, true, origin);
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    const lower = key.toLowerCase();
    switch (lower) {
      case 'cert_file':
      case 'key_file':
      case 'ca_file':
        if (typeof v !== 'string') failAt(o, `error parsing tls config, expected '${lower}' to be filename`);
        draft.set(`${ctx.path}.${lower}`, v, o);
        break;
      case 'verify': {
        const b = booleanLike(v);
        if (b === undefined) failAt(o, "error parsing tls config, expected 'verify' to be a boolean");
        draft.set(`${ctx.path}.verify`, b, o);
        break;
      }
      case 'timeout':
        draft.set(`${ctx.path}.timeout`, readSecondsOrDuration(v, o, 'error parsing tls config, '), o);
        break;
      case 'handshake_first':
      case 'first':
      case 'immediate':
        if (!ctx.clientContext) {
          draft.warn(o, `tls field "${key}" is not supported by Petrel, ignored`);
          break;
        }
        draft.set(`${ctx.path}.handshake_first`, readHandshakeFirst(v, o, key), o);
        break;
      default:
        draft.warn(o, `tls field "${key}" is not supported by Petrel, ignored`);
    }
  }
  if (!draft.has(`${ctx.path}.cert_file`)) failAt(origin, "missing 'cert_file' in tls configuration");
  if (!draft.has(`${ctx.path}.key_file`)) failAt(origin, "missing 'key_file' in tls configuration");
}

/** `true`/`false`, or `auto`/a duration (handshake first with a plain-text fallback delay). */
function readHandshakeFirst(value: ConfValue, origin: Origin, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') failAt(origin, `field "${field}" should be a boolean or a string, got ${describeType(value)}`);
  const lower = value.toLowerCase();
  if (lower === 'true' || lower === 'on' || lower === 'auto' || lower === 'auto_fallback') return true;
  if (lower === 'false' || lower === 'off') return false;
  parseDurationAt(value, origin, `field "${field}"'s value "${value}" is invalid: `);
  return true;
}
