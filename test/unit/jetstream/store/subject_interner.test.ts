// Subjects read back from segment files are interned, with the subject-table id each was given:
// the same bytes give the same string however many subjects pass through, and an id is only
// trusted while the table still gives it to that subject (ids are reused).
import { describe, expect, it } from 'vitest';
import { SubjectInterner } from '../../../../src/jetstream/store/subject_interner.ts';
import { NO_SUBJECT, SubjectTable } from '../../../../src/jetstream/store/subject_table.ts';

const at = (s: string): [Buffer, number, number] => {
  const buf = Buffer.from(`..${s}..`, 'latin1');
  return [buf, 2, 2 + s.length];
};

describe('SubjectInterner', () => {
  it('gives back the same string for the same bytes while it grows, and right strings past its cap', () => {
    const i = new SubjectInterner();
    const first = i.get(...at('orders.1'));
    for (let n = 0; n < 5000; n++) expect(i.get(...at(`s.${n}`))).toBe(`s.${n}`);
    // Grown from 256 slots to hold 5,000: nothing was dropped.
    expect(i.get(...at('orders.1'))).toBe(first);
    for (let n = 0; n < 50_000; n++) expect(i.get(...at(`u.${n}`))).toBe(`u.${n}`);
    expect(i.get(...at('orders.1'))).toBe('orders.1');
  });

  it('remembers the id noted for each string, which the table must still give it', () => {
    const i = new SubjectInterner();
    const t = new SubjectTable();
    expect(i.get(...at('a'))).toBe('a');
    expect(i.id).toBe(NO_SUBJECT);
    i.id = t.add('a', 1);
    i.get(...at('b'));
    i.id = t.add('b', 2);
    expect(i.get(...at('a'))).toBe('a');
    expect(t.holds(i.id, 'a')).toBe(true);
    // 'a' goes and its id is given to 'c': the cached id no longer holds for 'a'.
    const aId = i.id;
    t.drop(aId, 1);
    expect(t.add('c', 3)).toBe(aId);
    i.get(...at('a'));
    expect(i.id).toBe(aId);
    expect(t.holds(i.id, 'a')).toBe(false);
  });
});
