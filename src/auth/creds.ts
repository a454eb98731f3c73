// A `.creds` file (nats-server's credsRe, the `nsc` format): a user JWT and an nkey seed, each
// between dash-framed BEGIN/END lines. A leaf node signs its hub's nonce with the seed and sends
// the JWT with the signature, as a client does.

import fs from 'node:fs';

const BLOCK = /\s*(?:(?:-{3,}[^\n]*-{3,}\n)(.+)(?:\n\s*-{3,}[^\n]*-{3,}\n))/g;

export interface Credentials {
  jwt: string;
  seed: string;
}

/** The JWT and seed of a creds text; a readable error when the text has not both. */
export function parseCreds(text: string): Credentials | { error: string } {
  const items = [...text.matchAll(BLOCK)].map((m) => m[1]!.trim());
  if (items.length < 2) return { error: 'Credentials file malformed' };
  return { jwt: items[0]!, seed: items[1]! };
}

export function readCreds(path: string): Credentials | { error: string } {
  try {
    return parseCreds(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    return { error: (err as Error).message };
  }
}
