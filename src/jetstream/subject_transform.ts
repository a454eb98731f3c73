// Subject transforms for `republish` and `subject_transform`: a source pattern with wildcards and a
// destination that reuses what they matched. Destination tokens may be `{{wildcard(n)}}` or `$n`
// (the n-th '*' of the source, 1-based), or '*' / '>' taking the source's wildcards in order.
// nats-server's other mapping functions (partition, split, ...) are not supported.

import { isValidSubject, subjectMatches, tokenizeSubject } from '../routing/subjects.ts';

type DestPart = { kind: 'literal'; text: string } | { kind: 'wildcard'; index: number } | { kind: 'rest' };

const MUSTACHE_WILDCARD = /^\{\{\s*wildcard\s*\(\s*(\d+)\s*\)\s*\}\}$/i;
const DOLLAR_WILDCARD = /^\$(\d+)$/;

export class SubjectTransform {
  readonly src: string;
  readonly dest: string;
  private readonly srcTokens: string[];
  private readonly parts: DestPart[];

  private constructor(src: string, dest: string, parts: DestPart[]) {
    this.src = src;
    this.dest = dest;
    this.srcTokens = tokenizeSubject(src);
    this.parts = parts;
  }

  /** A transform, or null when the pair is not valid. An empty source means '>'. */
  static create(src: string, dest: string): SubjectTransform | null {
    const source = src === '' ? '>' : src;
    if (!isValidSubject(source) || dest === '') return null;
    const srcTokens = tokenizeSubject(source);
    const stars = srcTokens.filter((t) => t === '*').length;
    const hasRest = srcTokens[srcTokens.length - 1] === '>';
    const parts: DestPart[] = [];
    let nextStar = 1;
    for (const t of tokenizeSubject(dest)) {
      const m = MUSTACHE_WILDCARD.exec(t) ?? DOLLAR_WILDCARD.exec(t);
      if (m !== null) {
        const index = Number(m[1]);
        if (index < 1 || index > stars) return null;
        parts.push({ kind: 'wildcard', index });
      } else if (t === '*') {
        if (nextStar > stars) return null;
        parts.push({ kind: 'wildcard', index: nextStar++ });
      } else if (t === '>') {
        if (!hasRest) return null;
        parts.push({ kind: 'rest' });
      } else if (t.includes('{{')) {
        return null;
      } else {
        parts.push({ kind: 'literal', text: t });
      }
    }
    return new SubjectTransform(source, dest, parts);
  }

  /** The transformed subject, or null when `subject` does not match the source. */
  apply(subject: string): string | null {
    if (!subjectMatches(subject, this.src)) return null;
    const tokens = tokenizeSubject(subject);
    const stars: string[] = [];
    let rest = '';
    for (let i = 0; i < this.srcTokens.length; i++) {
      const t = this.srcTokens[i]!;
      if (t === '*') stars.push(tokens[i]!);
      else if (t === '>') rest = tokens.slice(i).join('.');
    }
    const out: string[] = [];
    for (const p of this.parts) {
      if (p.kind === 'literal') out.push(p.text);
      else if (p.kind === 'wildcard') out.push(stars[p.index - 1]!);
      else out.push(rest);
    }
    return out.join('.');
  }
}
