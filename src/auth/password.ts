// Password and token checks. Plain secrets are compared in constant time on the calling
// thread; bcrypt hashes are compared on a piscina thread because one comparison costs
// tens of milliseconds by design and would stall every connection of a routing thread.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Piscina } from 'piscina';
import type { BcryptTask } from '../../workers/bcrypt_task.ts';

/** nats-server's test: `$2`, a minor version letter, a two-digit cost, `$`. */
const BCRYPT_PREFIX = /^\$2[abxy]\$[0-9]{2}\$/;

export function isBcrypt(hash: string): boolean {
  return BCRYPT_PREFIX.test(hash);
}

/**
 * Compares plain secrets by their SHA-256 digests so neither the content nor the length of
 * the stored secret shows in the timing.
 */
export function constantTimeEqual(given: string, stored: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(stored, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Whether `given` matches `stored`, a plain secret or a bcrypt hash. Plain secrets resolve
 * at once (an already-settled promise); bcrypt runs on the pool and never rejects.
 */
export function verifyPassword(given: string, stored: string): Promise<boolean> {
  if (!isBcrypt(stored)) return Promise.resolve(constantTimeEqual(given, stored));
  const task: BcryptTask = { password: given, hash: forBcryptjs(stored) };
  return bcryptPool()
    .then((p) => p.run(task))
    .then(
      (ok: unknown) => ok === true,
      // A malformed hash is a failed login, not a server error.
      () => false,
    );
}

/**
 * Go's bcrypt treats every minor version alike; bcryptjs refuses `$2x$`, whose algorithm is
 * the same as `$2a$` for the comparisons Go would make.
 */
function forBcryptjs(hash: string): string {
  return hash.startsWith('$2x$') ? `$2a$${hash.slice(4)}` : hash;
}

/** One thread is plenty: logins are rare and a burst should queue, not take every core. */
const BCRYPT_MAX_THREADS = 1;
/** The thread exits after this long without work so an idle server holds no extra thread. */
const BCRYPT_IDLE_TIMEOUT_MS = 1_000;
const BCRYPT_TASK_FILE = new URL('../../workers/bcrypt_task.ts', import.meta.url);

let pool: Promise<Piscina> | null = null;

/** The pool, started on the first bcrypt check: piscina is not even loaded on servers without one. */
function bcryptPool(): Promise<Piscina> {
  if (pool !== null) return pool;
  const created = import('piscina').then(({ Piscina }) => {
    const p = new Piscina({
      filename: BCRYPT_TASK_FILE.href,
      minThreads: 0,
      maxThreads: BCRYPT_MAX_THREADS,
      idleTimeout: BCRYPT_IDLE_TIMEOUT_MS,
    });
    // When the task module cannot load, piscina reports it here and leaves queued tasks
    // pending forever; tearing the pool down rejects them (a failed login) and the next
    // check tries a fresh pool.
    p.on('error', () => {
      if (pool === created) pool = null;
      void p.destroy();
    });
    return p;
  });
  created.catch(() => {
    if (pool === created) pool = null;
  });
  pool = created;
  return pool;
}

/** Stops the bcrypt thread (server shutdown). A later check starts a new pool. */
export async function close(): Promise<void> {
  const p = pool;
  pool = null;
  if (p !== null) await (await p).destroy();
}
