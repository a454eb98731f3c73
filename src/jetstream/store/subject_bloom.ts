// Which subjects a sealed segment holds, as a Bloom filter over subject hashes: a scan for one
// subject (next-by-subject, a subject's first or last message after its old one went) steps over
// every segment that cannot hold it without loading its offset table, which for a segment whose
// table was evicted means reading the whole file. About 10 bits per distinct subject of the
// segment (1% false positives); messages removed later leave their bits set, which only costs a
// needless look.

const BITS_PER_SUBJECT = 10;
const MIN_BITS = 64;

/** FNV-1a over the subject's characters (subjects are ASCII, one byte a character). */
export function subjectHash(subject: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) h = Math.imul(h ^ subject.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class SubjectBloom {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  /** A filter holding `hashes` (their number, distinct, sizes it). */
  constructor(hashes: ArrayLike<number>) {
    let n = MIN_BITS;
    while (n < hashes.length * BITS_PER_SUBJECT) n *= 2;
    this.bits = new Uint32Array(n >>> 5);
    this.mask = n - 1;
    for (let i = 0; i < hashes.length; i++) this.add(hashes[i]!);
  }

  get byteLength(): number {
    return this.bits.byteLength;
  }

  has(hash: number): boolean {
    const step = probeStep(hash);
    for (let i = 0, p = hash; i < 3; i++, p = (p + step) | 0) {
      const bit = p & this.mask;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  private add(hash: number): void {
    const step = probeStep(hash);
    for (let i = 0, p = hash; i < 3; i++, p = (p + step) | 0) {
      const bit = p & this.mask;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }
}

/** The second hash of double hashing, odd so successive probes differ. */
function probeStep(hash: number): number {
  return (Math.imul(hash, 0x9e3779b1) >>> 15) | 1;
}
