// Public nkeys and the nonce challenge of the NATS CONNECT handshake.
// An nkey is base32 (RFC 4648 alphabet, no padding) of: prefix byte, 32-byte Ed25519 public
// key, CRC-16/XMODEM of those 33 bytes stored little-endian. The server sends a nonce in
// INFO; the client signs the nonce's ASCII bytes and sends the signature as `sig`.

import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

/** Prefix bytes of public nkeys; each encodes to the letter that starts the key. */
export const NkeyPrefix = {
  operator: 14 << 3, // 'O'
  server: 13 << 3, // 'N'
  cluster: 2 << 3, // 'C'
  account: 0, // 'A'
  user: 20 << 3, // 'U'
} as const;

const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const CHECKSUM_BYTES = 2;
const PUBLIC_NKEY_BYTES = 1 + ED25519_PUBLIC_KEY_BYTES + CHECKSUM_BYTES;
/** 35 bytes are exactly 280 bits, 56 base32 characters with no spare bits. */
const PUBLIC_NKEY_CHARS = (PUBLIC_NKEY_BYTES * 8) / 5;

/** Random bytes behind a nonce (nats-server `nonceRawLen`). */
const NONCE_RAW_BYTES = 11;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE32_VALUES = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < BASE32_ALPHABET.length; i++) table[BASE32_ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Strict base32 decode (upper case, no padding); null on any other character. */
function base32Decode(text: string): Uint8Array | null {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const v = code < 128 ? BASE32_VALUES[code]! : -1;
    if (v < 0) return null;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >>> bits) & 0xff;
    }
  }
  return out;
}

// Built at the first nkey checked, not at import (see crc32.ts: hot start-up loops cost memory).
let CRC16_TABLE: Uint16Array | null = null;

function crc16Table(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return (CRC16_TABLE = table);
}

/** CRC-16/XMODEM (poly 0x1021, init 0), the nkeys checksum. */
export function crc16(data: Uint8Array): number {
  const table = CRC16_TABLE ?? crc16Table();
  let crc = 0;
  for (let i = 0; i < data.length; i++) crc = ((crc << 8) & 0xffff) ^ table[((crc >>> 8) ^ data[i]!) & 0xff]!;
  return crc;
}

/**
 * The raw 32-byte Ed25519 key of a public nkey, or null when the text is not base32, has the
 * wrong length, fails its checksum, or does not carry `expectedPrefix`.
 */
export function decodePublicNkey(nkey: string, expectedPrefix: number): Uint8Array | null {
  if (nkey.length !== PUBLIC_NKEY_CHARS) return null;
  const raw = base32Decode(nkey);
  if (raw === null || raw.length !== PUBLIC_NKEY_BYTES) return null;
  const body = raw.subarray(0, PUBLIC_NKEY_BYTES - CHECKSUM_BYTES);
  const stored = raw[PUBLIC_NKEY_BYTES - 2]! | (raw[PUBLIC_NKEY_BYTES - 1]! << 8);
  if (crc16(body) !== stored) return null;
  if (raw[0] !== expectedPrefix) return null;
  return raw.slice(1, 1 + ED25519_PUBLIC_KEY_BYTES);
}

/** A verification key for a user nkey (`U…`), or null when the nkey is not a valid one. */
export function userPublicKey(nkey: string): KeyObject | null {
  const raw = decodePublicNkey(nkey, NkeyPrefix.user);
  if (raw === null) return null;
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

const RAW_URL_BASE64 = /^[A-Za-z0-9_-]*$/;
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a CONNECT `sig`: unpadded base64url as clients send it, else padded standard
 * base64 (nats-server falls back to it). Node's own decoder skips bad characters, so the
 * alphabet and length are checked first; null when neither form fits.
 */
export function decodeSignature(sig: string): Uint8Array | null {
  if (RAW_URL_BASE64.test(sig) && sig.length % 4 !== 1) return Buffer.from(sig, 'base64url');
  if (STD_BASE64.test(sig)) return Buffer.from(sig, 'base64');
  return null;
}

/** Whether `sig` (as sent in CONNECT) is `key`'s Ed25519 signature of `nonce`. */
export function verifyNonceSignature(key: KeyObject, nonce: Uint8Array, sig: string): boolean {
  const bytes = decodeSignature(sig);
  if (bytes === null || bytes.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return verify(null, nonce, key, bytes);
  } catch {
    return false;
  }
}

/**
 * A fresh nonce for INFO: 11 random bytes as unpadded base64url, 15 characters, like
 * nats-server. The client signs the nonce's ASCII bytes, so pass `nonceBytes(nonce)` to the
 * authenticator.
 */
export function makeNonce(): string {
  return randomBytes(NONCE_RAW_BYTES).toString('base64url');
}

/** The bytes a client signs for `nonce` (its ASCII text). */
export function nonceBytes(nonce: string): Uint8Array {
  return Buffer.from(nonce, 'latin1');
}

/** nkeys' seed prefix byte ('S'): a seed encodes it, then its key type, then the 32 raw bytes. */
const SEED_PREFIX = 18 << 3;
/** PKCS#8 wrapping of a raw Ed25519 private key (RFC 8410), so Node can sign with it. */
const ED25519_PKCS8_HEADER = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The raw 32-byte Ed25519 seed of an nkey seed (`SU…`), or null when it is not a valid one. */
export function decodeSeed(seed: string): Uint8Array | null {
  const raw = base32Decode(seed.trim());
  if (raw === null || raw.length !== 2 + ED25519_PUBLIC_KEY_BYTES + CHECKSUM_BYTES) return null;
  const body = raw.subarray(0, raw.length - CHECKSUM_BYTES);
  const stored = raw[raw.length - 2]! | (raw[raw.length - 1]! << 8);
  if (crc16(body) !== stored || (raw[0]! & 0xf8) !== SEED_PREFIX) return null;
  return raw.slice(2, 2 + ED25519_PUBLIC_KEY_BYTES);
}

/** Signs `data` with an nkey seed; the signature as a CONNECT `sig` (unpadded base64url). */
export function signWithSeed(seed: string, data: Uint8Array): string | null {
  const raw = decodeSeed(seed);
  if (raw === null) return null;
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_HEADER, raw]), format: 'der', type: 'pkcs8' });
  return sign(null, data, key).toString('base64url');
}
