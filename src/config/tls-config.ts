// Reads a `tls {}` block (the client one at the top level, the route one inside `cluster {}`,
// the gateway and leaf node ones) into canonical keys under a path prefix, with nats-server's
// messages; and a block of a list entry (a remote gateway or leaf hub) straight into TlsOptions.

import { parseDurationAt, readSecondsOrDuration } from './auth-config.ts';
import { ConfigDraft, childPath, describeType, failAt, originIn } from './draft.ts';
import type { Origin } from './draft.ts';
import type { TlsOptions } from './options.ts';
import { isConfMap } from './parser.ts';
import type { ConfValue } from './parser.ts';
import { booleanLike } from './units.ts';

/** nats-server TLS_TIMEOUT: how long a handshake may take. */
export const TLS_TIMEOUT_MS = 2_000;

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

/** The canonical keys readTlsBlock writes, as convict fills them. */
export interface CanonicalTls {
  enabled: boolean;
  cert_file: string;
  key_file: string;
  ca_file: string;
  verify: boolean;
  timeout: number;
  handshake_first: boolean;
}

/**
 * TlsOptions from canonical keys. `serverLink`: a route or gateway, where both sides always
 * verify each other's certificate whatever `verify` says (nats-server's rule).
 */
export function tlsOptionsOf(t: CanonicalTls, serverLink: boolean): TlsOptions {
  const tls: TlsOptions = {
    certFile: t.cert_file,
    keyFile: t.key_file,
    verify: serverLink || t.verify,
    timeoutMs: Math.round(t.timeout),
    handshakeFirst: !serverLink && t.handshake_first,
  };
  if (t.ca_file !== '') tls.caFile = t.ca_file;
  return tls;
}

/** A `tls {}` block inside a list entry (a remote gateway, a leaf hub): no canonical path to live under. */
export function readEntryTls(value: ConfValue, origin: Origin, draft: ConfigDraft, serverLink: boolean): TlsOptions {
  const d = new ConfigDraft();
  readTlsBlock(value, origin, d, { path: 'tls', clientContext: false });
  for (const w of d.warnings) draft.warnings.push(w);
  const t = d.values['tls'] as Partial<CanonicalTls>;
  return tlsOptionsOf(
    {
      enabled: true,
      cert_file: t.cert_file ?? '',
      key_file: t.key_file ?? '',
      ca_file: t.ca_file ?? '',
      verify: t.verify ?? false,
      timeout: t.timeout ?? TLS_TIMEOUT_MS,
      handshake_first: false,
    },
    serverLink,
  );
}
