import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bruteMatch } from './brute_match.ts';
import {
  isSubsetMatch,
  isValidPublishSubject,
  isValidQueueName,
  isValidSubject,
  numTokens,
  subjectFromBytes,
  subjectIsLiteral,
  subjectMatches,
  subjectsCollide,
  tokenAt,
  tokenizeSubject,
} from '../../../src/routing/subjects.ts';


/** All literal subjects of 1..maxLen tokens over `alphabet`. */
function literalUniverse(alphabet: string[], maxLen: number): string[] {
  const out: string[] = [];
  let layer: string[][] = [[]];
  for (let len = 1; len <= maxLen; len++) {
    layer = layer.flatMap((prefix) => alphabet.map((t) => [...prefix, t]));
    for (const toks of layer) out.push(toks.join('.'));
  }
  return out;
}

/** All valid patterns of 1..maxLen tokens over `alphabet` plus '*' and a final '>'. */
function patternUniverse(alphabet: string[], maxLen: number): string[] {
  const out: string[] = [];
  let layer: string[][] = [[]];
  for (let len = 1; len <= maxLen; len++) {
    const next: string[][] = [];
    for (const prefix of layer) {
      for (const t of [...alphabet, '*']) next.push([...prefix, t]);
      out.push([...prefix, '>'].join('.'));
    }
    layer = next;
    for (const toks of layer) out.push(toks.join('.'));
  }
  return out;
}

describe('subject validity', () => {
  it('follows nats-server TestSublistValidSubjects', () => {
    for (const s of ['.', '.foo', 'foo.', 'foo..bar', '>.bar', 'foo.>.bar', '', 'foo bar', 'foo.\tx', 'a.\r', 'a.b\n', 'x\f']) {
      expect(isValidSubject(s), s).toBe(false);
    }
    for (const s of ['foo', 'foo.bar.*', 'foo.bar.>', '*', '>', 'foo*', 'foo**', 'foo.**', 'foo*bar', 'foo.*bar', 'foo*.bar', '*bar', 'foo>', 'foo.>>', 'foo>bar', 'foo.>bar', 'foo>.bar', '>bar', '*.*.>']) {
      expect(isValidSubject(s), s).toBe(true);
    }
  });

  it('tells literal subjects from wildcard ones (nats-server TestSubjectIsLiteral)', () => {
    for (const s of ['foo', 'foo.bar', 'foo*.bar', 'foo.>>', '>bar']) expect(subjectIsLiteral(s), s).toBe(true);
    for (const s of ['*', '>', 'foo.*', 'foo.>', 'foo.*.>', 'foo.*.bar', 'foo.bar.>']) expect(subjectIsLiteral(s), s).toBe(false);
  });

  it('accepts only valid literal subjects for publishing', () => {
    expect(isValidPublishSubject('foo.bar')).toBe(true);
    expect(isValidPublishSubject('foo*.b>')).toBe(true);
    expect(isValidPublishSubject('foo.*')).toBe(false);
    expect(isValidPublishSubject('foo.>')).toBe(false);
    expect(isValidPublishSubject('foo..bar')).toBe(false);
    expect(isValidPublishSubject('foo bar')).toBe(false);
  });

  it('validates queue names', () => {
    expect(isValidQueueName('workers')).toBe(true);
    expect(isValidQueueName('a.b*>')).toBe(true);
    expect(isValidQueueName('')).toBe(false);
    expect(isValidQueueName('a b')).toBe(false);
    expect(isValidQueueName('a\tb')).toBe(false);
  });

  it('keeps UTF-8 subjects byte-faithful as latin1 strings', () => {
    const raw = new Uint8Array(Buffer.from('città.ünïcode.*', 'utf8'));
    const s = subjectFromBytes(raw);
    expect(s.length).toBe(raw.length);
    expect(Buffer.from(s, 'latin1').equals(Buffer.from(raw))).toBe(true);
    expect(isValidSubject(s)).toBe(true);
    expect(subjectMatches(subjectFromBytes(new Uint8Array(Buffer.from('città.ünïcode.x', 'utf8'))), s)).toBe(true);
    expect(subjectFromBytes(raw.subarray(0, 3))).toBe('cit');
  });

  it('has token helpers', () => {
    expect(tokenizeSubject('foo.bar.*')).toEqual(['foo', 'bar', '*']);
    expect(numTokens('')).toBe(0);
    expect(numTokens('foo')).toBe(1);
    expect(numTokens('foo.bar.baz.*')).toBe(4);
    expect(tokenAt('foo.bar.baz.*', 0)).toBe('foo');
    expect(tokenAt('foo.bar.baz.*', 3)).toBe('*');
    expect(tokenAt('foo.bar.baz.*', 4)).toBe('');
  });
});

describe('subjectMatches', () => {
  it('follows nats-server TestSublistMatchLiterals', () => {
    const yes: [string, string][] = [
      ['foo', 'foo'], ['foo', '*'], ['foo', '>'], ['foo.bar', '>'], ['foo.bar', 'foo.>'], ['stats.test.22', 'stats.>'],
      ['stats.test.22', 'stats.*.*'], ['stats.test.foos', 'stats.test.foos'], ['*bar', '*bar'], ['foo*', 'foo*'],
      ['foo*bar', 'foo*bar'], ['foo.***.bar', 'foo.***.bar'], ['>bar', '>bar'], ['foo>', 'foo>'], ['foo.>>>.bar', 'foo.>>>.bar'],
    ];
    const no: [string, string][] = [
      ['foo', 'bar'], ['foo.bar', 'bar.>'], ['foo.bar', 'foo'], ['stats.test.foos', 'stats.test.foo'], ['stats.test', 'stats.test.*'],
      ['stats.test.foos', 'stats.*'], ['stats.test.foos', 'stats.*.*.foos'], ['foo', 'foo.>'], ['foox', 'foo*'], ['', '>'],
    ];
    for (const [s, p] of yes) expect(subjectMatches(s, p), `${s} ~ ${p}`).toBe(true);
    for (const [s, p] of no) expect(subjectMatches(s, p), `${s} !~ ${p}`).toBe(false);
  });

  it('agrees with a brute-force matcher on every small subject/pattern pair', () => {
    const subjects = literalUniverse(['a', 'b', 'c'], 4);
    const patterns = patternUniverse(['a', 'b'], 4);
    for (const p of patterns) for (const s of subjects) if (subjectMatches(s, p) !== bruteMatch(s, p)) expect([s, p, subjectMatches(s, p)]).toEqual([s, p, bruteMatch(s, p)]);
  });

  it('agrees with a brute-force matcher on random longer subjects (seeded)', () => {
    const tok = fc.constantFrom('a', 'bb', 'ccc', 'a*', '>x');
    const ptok = fc.constantFrom('a', 'bb', 'ccc', '*', 'a*');
    fc.assert(
      fc.property(fc.array(tok, { minLength: 1, maxLength: 8 }), fc.array(ptok, { minLength: 1, maxLength: 8 }), fc.boolean(), (s, p, fwc) => {
        const subject = s.join('.');
        const pattern = (fwc ? [...p, '>'] : p).join('.');
        expect(subjectMatches(subject, pattern)).toBe(bruteMatch(subject, pattern));
      }),
      { seed: 11, numRuns: 2000 },
    );
  });
});

describe('subjectsCollide and isSubsetMatch', () => {
  const patterns = patternUniverse(['a', 'b'], 3);
  // Any witness (a subject matched by one pattern and not the other, or by both)
  // fits in one token more than the longest pattern, over the patterns' literals plus one more.
  const universe = literalUniverse(['a', 'b', 'c'], 4);
  const matchedBy = new Map(patterns.map((p) => [p, universe.filter((s) => bruteMatch(s, p))]));

  it('subjectsCollide agrees with brute force on every pair of small patterns', () => {
    let collisions = 0;
    for (const a of patterns) {
      const setA = new Set(matchedBy.get(a));
      for (const b of patterns) {
        const expected = matchedBy.get(b)!.some((s) => setA.has(s));
        if (expected) collisions++;
        if (subjectsCollide(a, b) !== expected) expect([a, b, subjectsCollide(a, b)]).toEqual([a, b, expected]);
      }
    }
    expect(collisions).toBeGreaterThan(100);
  });

  it('isSubsetMatch agrees with brute force on every pair of small patterns', () => {
    let subsets = 0;
    for (const p of patterns) {
      for (const of of patterns) {
        const ofSet = new Set(matchedBy.get(of));
        const expected = matchedBy.get(p)!.every((s) => ofSet.has(s));
        if (expected) subsets++;
        if (isSubsetMatch(p, of) !== expected) expect([p, of, isSubsetMatch(p, of)]).toEqual([p, of, expected]);
      }
    }
    expect(subsets).toBeGreaterThan(50);
  });

  it('matches the documented examples', () => {
    expect(isSubsetMatch('foo.*', '>')).toBe(true);
    expect(isSubsetMatch('foo.*', '*.*')).toBe(true);
    expect(isSubsetMatch('foo.*', 'foo.*')).toBe(true);
    expect(isSubsetMatch('foo.*', 'foo.bar')).toBe(false);
    expect(isSubsetMatch('foo.>', 'foo.*')).toBe(false);
    expect(subjectsCollide('foo.*', 'foo.bar')).toBe(true);
    expect(subjectsCollide('foo.*', 'foo.bar.baz')).toBe(false);
    expect(subjectsCollide('foo.>', '*.bar.*')).toBe(true);
    expect(subjectsCollide('foo', 'foo.>')).toBe(false);
  });
});
