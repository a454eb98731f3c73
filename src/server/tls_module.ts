// node:tls, loaded on first use. The module and the crypto it initialises cost each thread that
// loads it a few MB and milliseconds at start, which servers without TLS never need to pay;
// getBuiltinModule loads it synchronously wherever a TLS socket or context is first made.

import type tls from 'node:tls';

export function tlsModule(): typeof tls {
  return process.getBuiltinModule('node:tls');
}
