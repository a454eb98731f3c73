// The seeded workload of the file store crash matrix. The child process runs it against a file
// store and is killed at a chosen file-system call; the test runs the same steps against a memory
// store to know what each acknowledged point must look like. A step only reads the store it is
// given, so both stores take the same decisions as long as they agree, which the suite asserts.

import { UNLIMITED, type StoreLimits, type StreamStore } from '../../../../src/jetstream/store/types.ts';

export const CRASH_STEPS = 260;
/** Steps issued together; the group is then flushed and acknowledged. */
export const CRASH_GROUP = 5;
export const CRASH_LIMITS: StoreLimits = { ...UNLIMITED, maxMsgsPerSubject: 6, maxAgeNs: 60_000_000_000n };
// No cost-share gap between snapshots: the same calls happen in every run, whatever the load.
export const CRASH_STORE_OPTS = { segmentBytes: 1536, snapshotBytes: 1024, snapshotIntervalMs: 0, snapshotCostShare: 0, limits: CRASH_LIMITS };

export function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

export function subjectFor(seq: number): string {
  return `c.${seq % 7}`;
}

export function payloadFor(seq: number): string {
  return `${seq}:${'p'.repeat((seq * 37) % 90)}`;
}

export const timeFor = (step: number): bigint => BigInt(step + 1) * 1_000_000_000n;

/** Applies step i to the store; returns the store's promise when the step stored a message. */
export function crashStep(s: StreamStore, i: number, rand: (n: number) => number): Promise<unknown> | null {
  const r = rand(100);
  const st = s.state();
  if (r < 72 || st.msgs === 0) {
    const seq = st.lastSeq + 1;
    const hdr = seq % 5 === 0 ? new TextEncoder().encode(`NATS/1.0\r\nN: ${seq}\r\n\r\n`) : null;
    return s.store(subjectFor(seq), hdr, new TextEncoder().encode(payloadFor(seq)), timeFor(i));
  }
  const span = st.lastSeq - st.firstSeq + 1;
  if (r < 86) s.remove(st.firstSeq + rand(span), rand(3) === 0);
  else if (r < 90) s.purge({ subject: `c.${rand(7)}`, keep: 1 });
  else if (r < 93) s.compact(st.firstSeq + rand(Math.min(span, 6)));
  else if (r < 96) s.skipMsgs(0, 1 + rand(3));
  else if (r < 98) s.truncate(Math.max(st.lastSeq - rand(3), st.firstSeq));
  else s.expire(timeFor(i));
  return null;
}
