import { describe, expect, it } from 'vitest';
import { createAccount, createUser } from '@nats-io/nkeys';
import {
  crc16,
  decodePublicNkey,
  decodeSignature,
  makeNonce,
  NkeyPrefix,
  nonceBytes,
  userPublicKey,
  verifyNonceSignature,
} from '../../../src/auth/nkeys.ts';

/** Replaces the character at `index` with another base32 character. */
function corrupt(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

describe('crc16', () => {
  it('is CRC-16/XMODEM', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0x31c3);
  });
});

describe('decodePublicNkey', () => {
  it('decodes a user key to its 32 raw bytes', () => {
    const kp = createUser();
    const raw = decodePublicNkey(kp.getPublicKey(), NkeyPrefix.user);
    expect(raw).not.toBeNull();
    expect(raw!.length).toBe(32);
  });

  it('rejects a bad checksum', () => {
    const pub = createUser().getPublicKey();
    expect(decodePublicNkey(corrupt(pub, 20), NkeyPrefix.user)).toBeNull();
    expect(decodePublicNkey(corrupt(pub, pub.length - 1), NkeyPrefix.user)).toBeNull();
  });

  it('rejects another key type (prefix) even with a valid checksum', () => {
    const account = createAccount().getPublicKey();
    expect(account.startsWith('A')).toBe(true);
    expect(decodePublicNkey(account, NkeyPrefix.user)).toBeNull();
    expect(decodePublicNkey(account, NkeyPrefix.account)).not.toBeNull();
    expect(userPublicKey(account)).toBeNull();
  });

  it('rejects wrong lengths, lower case and non-base32 characters', () => {
    const pub = createUser().getPublicKey();
    expect(decodePublicNkey(pub.slice(0, -1), NkeyPrefix.user)).toBeNull();
    expect(decodePublicNkey(`${pub}A`, NkeyPrefix.user)).toBeNull();
    expect(decodePublicNkey(pub.toLowerCase(), NkeyPrefix.user)).toBeNull();
    expect(decodePublicNkey(`${pub.slice(0, -1)}1`, NkeyPrefix.user)).toBeNull();
    expect(decodePublicNkey('', NkeyPrefix.user)).toBeNull();
  });
});

describe('signature of the nonce', () => {
  const kp = createUser();
  const key = userPublicKey(kp.getPublicKey())!;
  const nonce = makeNonce();
  const signed = kp.sign(nonceBytes(nonce));

  it('verifies unpadded base64url, as clients send it', () => {
    const sig = Buffer.from(signed).toString('base64url');
    expect(sig).not.toContain('=');
    expect(verifyNonceSignature(key, nonceBytes(nonce), sig)).toBe(true);
  });

  it('also accepts padded standard base64', () => {
    const sig = Buffer.from(signed).toString('base64');
    expect(sig.endsWith('==')).toBe(true);
    expect(verifyNonceSignature(key, nonceBytes(nonce), sig)).toBe(true);
  });

  it('rejects a signature of another nonce or by another key', () => {
    const otherNonce = kp.sign(nonceBytes(`${nonce}x`));
    expect(verifyNonceSignature(key, nonceBytes(nonce), Buffer.from(otherNonce).toString('base64url'))).toBe(false);
    const otherKey = createUser().sign(nonceBytes(nonce));
    expect(verifyNonceSignature(key, nonceBytes(nonce), Buffer.from(otherKey).toString('base64url'))).toBe(false);
  });

  it('rejects a tampered, truncated or non-base64 signature', () => {
    const tampered = Buffer.from(signed);
    tampered[10]! ^= 0x01;
    expect(verifyNonceSignature(key, nonceBytes(nonce), tampered.toString('base64url'))).toBe(false);
    expect(verifyNonceSignature(key, nonceBytes(nonce), Buffer.from(signed.subarray(0, 63)).toString('base64url'))).toBe(
      false,
    );
    expect(verifyNonceSignature(key, nonceBytes(nonce), `${Buffer.from(signed).toString('base64url')}!`)).toBe(false);
    expect(verifyNonceSignature(key, nonceBytes(nonce), '')).toBe(false);
  });
});

describe('decodeSignature', () => {
  it('refuses text Node would silently skip over', () => {
    expect(decodeSignature('ab$d')).toBeNull();
    expect(decodeSignature('abcde')).toBeNull(); // 5 chars: impossible length
    expect(decodeSignature('ab=d')).toBeNull();
    expect(decodeSignature('a+b/')).toEqual(Buffer.from('a+b/', 'base64'));
    expect(decodeSignature('a-b_')).toEqual(Buffer.from('a-b_', 'base64url'));
  });
});

describe('makeNonce', () => {
  it('is 11 random bytes as 15 base64url characters, like nats-server', () => {
    const a = makeNonce();
    const b = makeNonce();
    expect(a).toMatch(/^[A-Za-z0-9_-]{15}$/);
    expect(Buffer.from(a, 'base64url').length).toBe(11);
    expect(a).not.toBe(b);
    expect(Array.from(nonceBytes(a))).toEqual(Array.from(Buffer.from(a, 'ascii')));
  });
});
