// Flips one bit of one stream segment of a stopped node: the `bitflip-follower` fault. Which file
// and where come from the schedule (so a seed replays it): the file is `pick` modulo the sorted
// list of segment files under the node's store, the byte is at `offset` (a fraction of its size).
// Segment files are Petrel's `msgs/<n>.seg` and nats-server's `msgs/<n>.blk`.

import fs from 'node:fs';
import path from 'node:path';
import type { SegmentChoice } from './nemesis.ts';

export const SEGMENT_FILE = /\.(seg|blk)$/;

export interface Flipped {
  file: string;
  position: number;
  bit: number;
}

function segmentFiles(dir: string, match: RegExp): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && match.test(e.name) && fs.statSync(p).size > 0) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Flips the chosen bit in place; null when the directory holds no non-empty segment. */
export function flipSegmentBit(storeDir: string, choice: SegmentChoice, match: RegExp = SEGMENT_FILE): Flipped | null {
  const files = segmentFiles(storeDir, match);
  if (files.length === 0) return null;
  const file = files[choice.pick % files.length]!;
  const size = fs.statSync(file).size;
  const position = Math.min(size - 1, Math.floor(choice.offset * size));
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, position);
    b[0]! ^= 1 << (choice.bit & 7);
    fs.writeSync(fd, b, 0, 1, position);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { file: path.relative(storeDir, file), position, bit: choice.bit & 7 };
}
