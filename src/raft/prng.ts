// Seeded randomness: the core and the simulator take their randomness from here
// so that a seed reproduces a run exactly.

export interface Random {
  /** integer in [0, n) */
  int(n: number): number;
  /** float in [0, 1) */
  next(): number;
}

/** mulberry32: tiny, fast, good enough for timeouts and fault injection. */
export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

/** Derives an independent stream so that changing one consumer does not shift another. */
export function deriveSeed(seed: number, salt: number): number {
  let h = (seed ^ Math.imul(salt + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Randomness for one live Raft group on one node: differs between the group's members (so their
 * election timeouts spread) and between runs (so a restart does not replay the same timeouts).
 */
export function groupRandom(node: string, group: string, salt: number): Random {
  const seed = Array.from(node + group).reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, salt);
  return seededRandom(seed ^ Date.now());
}
