import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bruteMatch } from './brute_match.ts';
import { SUBLIST_CACHE_MAX, Sublist, SublistError, subjectHash, tokenHash, type SublistResult } from '../../../src/routing/sublist.ts';

interface Sub {
  readonly subject: string;
  readonly queue: string | null;
  readonly id: number;
}

let nextId = 1;
const sub = (subject: string, queue: string | null = null): Sub => ({ subject, queue, id: nextId++ });


/** Order-free view of a result: sorted plain ids, and queue name → sorted ids. */
function canon(r: SublistResult<Sub>): { p: number[]; q: Record<string, number[]> } {
  const q: Record<string, number[]> = {};
  for (const group of r.qsubs) {
    expect(group.length).toBeGreaterThan(0);
    const name = group[0]!.queue!;
    expect(q[name], `queue ${name} split over two groups`).toBeUndefined();
    expect(group.every((s) => s.queue === name)).toBe(true);
    q[name] = group.map((s) => s.id).sort((a, b) => a - b);
  }
  return { p: r.psubs.map((s) => s.id).sort((a, b) => a - b), q };
}

function bruteResult(subs: Iterable<Sub>, subject: string): { p: number[]; q: Record<string, number[]> } {
  const p: number[] = [];
  const q: Record<string, number[]> = {};
  for (const s of subs) {
    if (!bruteMatch(subject, s.subject)) continue;
    if (s.queue === null) p.push(s.id);
    else (q[s.queue] ??= []).push(s.id);
  }
  p.sort((a, b) => a - b);
  for (const k of Object.keys(q)) q[k]!.sort((a, b) => a - b);
  return { p, q };
}

describe('Sublist basics', () => {
  it('matches literal, * and > subscriptions', () => {
    const sl = new Sublist<Sub>();
    const lit = sub('foo.bar');
    const pwc = sub('foo.*');
    const fwc = sub('foo.>');
    const all = sub('>');
    const other = sub('bar.*');
    for (const s of [lit, pwc, fwc, all, other]) sl.insert(s);
    expect(sl.count).toBe(5);
    expect(canon(sl.match('foo.bar')).p).toEqual([lit.id, pwc.id, fwc.id, all.id]);
    expect(canon(sl.match('foo.bar.baz')).p).toEqual([fwc.id, all.id]);
    expect(canon(sl.match('foo')).p).toEqual([all.id]);
    expect(canon(sl.match('bar.x')).p).toEqual([all.id, other.id]);
    expect(sl.match('foo..bar').psubs).toEqual([]);
    expect(sl.match('foo.').psubs).toEqual([]);
  });

  it('groups queue subscriptions by queue name, apart from plain ones', () => {
    const sl = new Sublist<Sub>();
    const a1 = sub('orders.*', 'A');
    const a2 = sub('orders.new', 'A');
    const b1 = sub('orders.>', 'B');
    const plain = sub('orders.new');
    for (const s of [a1, a2, b1, plain]) sl.insert(s);
    const r = canon(sl.match('orders.new'));
    expect(r.p).toEqual([plain.id]);
    expect(r.q).toEqual({ A: [a1.id, a2.id], B: [b1.id] });
    expect(canon(sl.match('orders.old')).q).toEqual({ A: [a1.id], B: [b1.id] });
  });

  it('removes, reports whether it removed, and prunes', () => {
    const sl = new Sublist<Sub>();
    const s1 = sub('a.b.c');
    const s2 = sub('a.b.c', 'q');
    sl.insert(s1);
    sl.insert(s2);
    expect(sl.remove(s1)).toBe(true);
    expect(sl.remove(s1)).toBe(false);
    expect(sl.remove(sub('a.b.c'))).toBe(false);
    expect(sl.remove(sub('x.y'))).toBe(false);
    expect(sl.remove(sub('a.b.c', 'other'))).toBe(false);
    expect(sl.count).toBe(1);
    expect(sl.remove(s2)).toBe(true);
    expect(sl.count).toBe(0);
    expect(sl.all()).toEqual([]);
    expect(sl.hasInterest('a.b.c')).toBe(false);
  });

  it('ignores a second insert of the same subscription', () => {
    const sl = new Sublist<Sub>();
    const s = sub('x');
    const q = sub('x', 'g');
    sl.insert(s);
    sl.match('x'); // cached
    sl.insert(s);
    sl.insert(q);
    sl.insert(q);
    expect(sl.count).toBe(2);
    expect(sl.match('x').psubs).toEqual([s]);
    expect(sl.match('x').qsubs).toEqual([[q]]);
  });

  it('rejects invalid subjects on insert', () => {
    const sl = new Sublist<Sub>();
    for (const bad of ['', '.', 'foo.', '.foo', 'foo..bar', 'foo.>.bar', '>.x']) {
      expect(() => sl.insert(sub(bad))).toThrow(SublistError);
    }
    expect(sl.count).toBe(0);
    expect(sl.all()).toEqual([]);
  });

  it('answers hasInterest with and without a cached result', () => {
    const sl = new Sublist<Sub>();
    sl.insert(sub('a.*.c'));
    sl.insert(sub('x.>', 'q'));
    expect(sl.hasInterest('a.b.c')).toBe(true);
    expect(sl.hasInterest('a.b')).toBe(false);
    expect(sl.hasInterest('x.y.z')).toBe(true);
    expect(sl.hasInterest('x')).toBe(false);
    sl.match('a.b.c');
    sl.match('a.b');
    expect(sl.hasInterest('a.b.c')).toBe(true);
    expect(sl.hasInterest('a.b')).toBe(false);
  });

  it('patches cached results on insert and remove, and bumps the generation id', () => {
    const sl = new Sublist<Sub>();
    const s1 = sub('foo.bar');
    sl.insert(s1);
    const before = sl.match('foo.bar');
    const gen = sl.genId;
    const wc = sub('foo.*');
    sl.insert(wc);
    expect(sl.genId).not.toBe(gen);
    expect(canon(sl.match('foo.bar')).p).toEqual([s1.id, wc.id]);
    // The result handed out earlier is not changed under its holder.
    expect(before.psubs).toEqual([s1]);
    const g2 = sl.genId;
    sl.remove(wc);
    expect(sl.genId).not.toBe(g2);
    expect(sl.match('foo.bar').psubs).toEqual([s1]);
  });

  it('serves repeated matches from the cache', () => {
    const sl = new Sublist<Sub>();
    sl.insert(sub('a'));
    const r1 = sl.match('a');
    const r2 = sl.match('a');
    expect(r2).toBe(r1);
    expect(sl.stats().cacheHits).toBe(1);
    expect(sl.stats().matches).toBe(2);
    const noCache = new Sublist<Sub>({ cache: false });
    noCache.insert(sub('a'));
    noCache.match('a');
    expect(noCache.cacheSize).toBe(0);
  });

  it('bounds the cache and stays correct after sweeps', () => {
    const sl = new Sublist<Sub>();
    const w = sub('s.*');
    sl.insert(w);
    for (let i = 0; i < 3 * SUBLIST_CACHE_MAX; i++) {
      expect(sl.match(`s.${i}`).psubs).toEqual([w]);
      expect(sl.cacheSize).toBeLessThanOrEqual(SUBLIST_CACHE_MAX);
    }
    const w2 = sub('s.>');
    sl.insert(w2);
    expect(canon(sl.match('s.7')).p).toEqual([w.id, w2.id]);
    expect(canon(sl.match(`s.${3 * SUBLIST_CACHE_MAX - 1}`)).p).toEqual([w.id, w2.id]);
  });

  it('keeps tokens apart whose hashes collide, in the trie and in the cache', () => {
    // Two tokens with the same trie hash, and two subjects sharing a cache slot.
    const firstCollision = (hash: (s: string) => number, prefix: string): [string, string] => {
      const seen = new Map<number, string>();
      for (let i = 0; ; i++) {
        const t = `${prefix}${i}`;
        const h = hash(t);
        const other = seen.get(h);
        if (other !== undefined) return [other, t];
        seen.set(h, t);
      }
    };
    const [t1, t2] = firstCollision(tokenHash, 't');
    expect(tokenHash(t1)).toBe(tokenHash(t2));
    const sl = new Sublist<Sub>();
    const a = sub(`x.${t1}.y`);
    const b = sub(`x.${t2}.y`);
    const c = sub(`x.${t2}.>`);
    for (const s of [a, b, c]) sl.insert(s);
    expect(sl.match(`x.${t1}.y`).psubs).toEqual([a]);
    expect(canon(sl.match(`x.${t2}.y`)).p).toEqual([b.id, c.id].sort((m, n) => m - n));
    sl.remove(b);
    expect(sl.match(`x.${t2}.y`).psubs).toEqual([c]);
    expect(sl.match(`x.${t1}.y`).psubs).toEqual([a]);
    sl.remove(a);
    expect(sl.match(`x.${t1}.y`).psubs).toEqual([]);
    expect(new Set(sl.all())).toEqual(new Set([c]));

    const [s1, s2] = firstCollision((s) => subjectHash(s) & (SUBLIST_CACHE_MAX - 1), 'k.');
    const cached = new Sublist<Sub>();
    const ws = sub('k.*');
    const l1 = sub(s1);
    cached.insert(ws);
    cached.insert(l1);
    for (let round = 0; round < 2; round++) {
      expect(canon(cached.match(s1)).p).toEqual([ws.id, l1.id].sort((m, n) => m - n));
      expect(cached.match(s2).psubs).toEqual([ws]);
    }
  });

  it('removes in batches and enumerates all subscriptions', () => {
    const sl = new Sublist<Sub>();
    const subs = [sub('a'), sub('a.b'), sub('a.*'), sub('a.>', 'q'), sub('*.b', 'q'), sub('>')];
    for (const s of subs) sl.insert(s);
    expect(new Set(sl.all())).toEqual(new Set(subs));
    sl.match('a.b');
    expect(sl.removeBatch([subs[1]!, subs[3]!, sub('nope')])).toBe(2);
    expect(sl.count).toBe(4);
    expect(canon(sl.match('a.b'))).toEqual(bruteResult([subs[0]!, subs[2]!, subs[4]!, subs[5]!], 'a.b'));
    expect(new Set(sl.all())).toEqual(new Set([subs[0], subs[2], subs[4], subs[5]]));
  });
});

describe('Sublist against brute force (seeded)', () => {
  // A small alphabet so that subscriptions overlap a lot.
  const token = fc.constantFrom('a', 'b', 'c');
  const literal = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
  const pattern = fc
    .tuple(fc.array(fc.constantFrom('a', 'b', 'c', '*', '*'), { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([t, fwc]) => (fwc ? [...t.slice(0, -1), '>'] : t).join('.'));
  const queue = fc.option(fc.constantFrom('q1', 'q2'), { nil: null, freq: 2 });

  type Op =
    | { kind: 'insert'; subject: string; queue: string | null }
    | { kind: 'remove'; pick: number }
    | { kind: 'match'; subject: string }
    | { kind: 'interest'; subject: string }
    | { kind: 'batch'; picks: number[] };

  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), subject: pattern, queue }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('match' as const), subject: literal }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('interest' as const), subject: literal }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('batch' as const), picks: fc.array(fc.nat(), { maxLength: 4 }) }) },
  );

  for (const cache of [true, false]) {
    it(`matches like a brute-force scan with interleaved inserts and removes (cache ${cache ? 'on' : 'off'})`, () => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
          const sl = new Sublist<Sub>({ cache });
          const live: Sub[] = [];
          for (const o of ops) {
            switch (o.kind) {
              case 'insert': {
                const s = sub(o.subject, o.queue);
                sl.insert(s);
                live.push(s);
                break;
              }
              case 'remove': {
                if (live.length === 0) {
                  expect(sl.remove(sub('a'))).toBe(false);
                  break;
                }
                const [s] = live.splice(o.pick % live.length, 1);
                expect(sl.remove(s!)).toBe(true);
                expect(sl.remove(s!)).toBe(false);
                break;
              }
              case 'batch': {
                const picked = new Set<Sub>();
                for (const p of o.picks) if (live.length > 0) picked.add(live[p % live.length]!);
                expect(sl.removeBatch(picked)).toBe(picked.size);
                for (const s of picked) live.splice(live.indexOf(s), 1);
                break;
              }
              case 'match':
                expect(canon(sl.match(o.subject))).toEqual(bruteResult(live, o.subject));
                break;
              case 'interest':
                expect(sl.hasInterest(o.subject)).toBe(live.some((s) => bruteMatch(o.subject, s.subject)));
                break;
            }
            expect(sl.count).toBe(live.length);
          }
          expect(new Set(sl.all())).toEqual(new Set(live));
        }),
        { seed: cache ? 1234 : 4321, numRuns: 300 },
      );
    });
  }
});
