import { afterAll, describe, expect, it } from 'vitest';
import { hashSync } from 'bcryptjs';
import { close, constantTimeEqual, isBcrypt, verifyPassword } from '../../../src/auth/password.ts';

/** Lowest cost bcryptjs accepts, so the tests stay fast. */
const TEST_COST = 4;

afterAll(async () => {
  await close();
});

describe('isBcrypt', () => {
  it('recognises $2a$, $2b$, $2x$, $2y$ with a two-digit cost', () => {
    const hash = hashSync('pw', TEST_COST);
    for (const minor of ['a', 'b', 'x', 'y']) expect(isBcrypt(`$2${minor}$${hash.slice(4)}`)).toBe(true);
    expect(isBcrypt('$2a$04$')).toBe(true);
  });

  it('treats everything else as plain', () => {
    for (const plain of ['', 'password', '$2c$04$abc', '$2a$4$abc', '$2a04$abc', ' $2a$04$abc', '$1$abc']) {
      expect(isBcrypt(plain)).toBe(false);
    }
  });
});

describe('constantTimeEqual', () => {
  it('compares whole strings of any lengths', () => {
    expect(constantTimeEqual('s3cret', 's3cret')).toBe(true);
    expect(constantTimeEqual('s3cret', 's3cre')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('', 'x')).toBe(false);
    expect(constantTimeEqual('é', 'é')).toBe(true);
  });
});

describe('verifyPassword', () => {
  it('runs where worker threads can load .ts task files', () => {
    const strips = (process.features as { typescript?: unknown }).typescript;
    expect(strips, 'run vitest with the pinned Node 26 (npx vitest), not the system Node').toBeTruthy();
  });

  it('checks plain passwords without waiting for a thread', async () => {
    expect(await verifyPassword('pw', 'pw')).toBe(true);
    expect(await verifyPassword('pW', 'pw')).toBe(false);
  });

  it('checks bcrypt hashes on the pool (a .ts task under type stripping)', async () => {
    const hash = hashSync('correct horse', TEST_COST);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('wrong horse', hash)).toBe(false);
    expect(await verifyPassword(hash, hash)).toBe(false);
  });

  it('accepts every bcrypt minor version as nats-server does', async () => {
    const hash = hashSync('pw', TEST_COST);
    for (const minor of ['a', 'b', 'x', 'y']) {
      expect(await verifyPassword('pw', `$2${minor}$${hash.slice(4)}`)).toBe(true);
    }
  });

  it('fails, without throwing, on a malformed hash', async () => {
    expect(await verifyPassword('pw', '$2a$04$tooshort')).toBe(false);
  });

  it('starts a new pool after close()', async () => {
    const hash = hashSync('pw', TEST_COST);
    await close();
    await close(); // closing twice is harmless
    expect(await verifyPassword('pw', hash)).toBe(true);
  });

  it('runs comparisons concurrently without mixing them up', async () => {
    const a = hashSync('a', TEST_COST);
    const b = hashSync('b', TEST_COST);
    const results = await Promise.all([
      verifyPassword('a', a),
      verifyPassword('a', b),
      verifyPassword('b', b),
      verifyPassword('b', a),
    ]);
    expect(results).toEqual([true, false, true, false]);
  });
});
