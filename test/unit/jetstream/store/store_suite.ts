// The shared StreamStore suite: every store implementation must pass all of it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../../../src/jetstream/store/errors.ts';
import { UNLIMITED, storedMsgSize, type StoreLimits, type StreamStore } from '../../../../src/jetstream/store/types.ts';

export interface StoreHarness {
  open(limits?: StoreLimits): Promise<StreamStore>;
  cleanup(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));
/** Nanosecond timestamps on an injected clock. */
export const T = (sec: number): bigint => BigInt(sec) * 1_000_000_000n;

export function limits(over: Partial<StoreLimits>): StoreLimits {
  return { ...UNLIMITED, ...over };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).code).toBe(code);
}

export function runStoreSuite(name: string, makeHarness: () => StoreHarness): void {
  describe(`StreamStore suite: ${name}`, () => {
    let h: StoreHarness;
    let open: (l?: StoreLimits) => Promise<StreamStore>;
    beforeEach(() => {
      h = makeHarness();
      open = (l) => h.open(l);
    });
    afterEach(async () => {
      await h.cleanup();
    });

    async function fill(s: StreamStore, subjects: string[], from = 1): Promise<void> {
      let t = from;
      for (const subj of subjects) await s.store(subj, null, bytes(`m${t}`), T(t++));
    }

    it('stores and loads messages with sequence, subject, header, data and time', async () => {
      const s = await open();
      expect(s.state()).toMatchObject({ msgs: 0, firstSeq: 0, lastSeq: 0 });
      expect(await s.store('foo', bytes('NATS/1.0\r\n\r\n'), bytes('hello'), T(10))).toEqual({ seq: 1, ts: T(10) });
      expect(await s.store('bar', null, bytes(''), T(11))).toEqual({ seq: 2, ts: T(11) });
      const m1 = s.load(1)!;
      expect(m1.subject).toBe('foo');
      expect(text(m1.hdr)).toBe('NATS/1.0\r\n\r\n');
      expect(text(m1.data)).toBe('hello');
      expect(m1.time).toBe(T(10));
      const m2 = s.load(2)!;
      expect(m2.hdr).toBeNull();
      expect(m2.data.length).toBe(0);
      expect(s.load(3)).toBeNull();
      expect(s.load(0)).toBeNull();
      expect(s.state()).toEqual({
        msgs: 2,
        bytes: storedMsgSize(3, 12, 5) + storedMsgSize(3, 0, 0),
        firstSeq: 1,
        firstTime: T(10),
        lastSeq: 2,
        lastTime: T(11),
        numSubjects: 2,
        numDeleted: 0,
      });
    });

    it('copies the caller buffers', async () => {
      const s = await open();
      const data = bytes('abc');
      await s.store('foo', null, data, T(1));
      data[0] = 0x7a;
      expect(text(s.load(1)!.data)).toBe('abc');
    });

    it('stores at explicit sequences and skips sequences', async () => {
      const s = await open();
      await expectCode(s.storeAt(5, 'foo', null, bytes('x'), T(1)), 'SEQUENCE_MISMATCH');
      s.skipMsgs(1, 4);
      expect(s.state()).toMatchObject({ msgs: 0, firstSeq: 5, lastSeq: 4 });
      expect(await s.storeAt(5, 'foo', null, bytes('x'), T(1))).toEqual({ seq: 5, ts: T(1) });
      expect(s.skipMsg()).toBe(6);
      await s.store('foo', null, bytes('y'), T(2));
      expect(s.state({ deleted: true })).toMatchObject({ msgs: 2, firstSeq: 5, lastSeq: 7, numDeleted: 1, deleted: [6] });
      expect(() => s.skipMsgs(3, 1)).toThrow(StoreError);
    });

    it('enforces max_msgs with discard old', async () => {
      const s = await open(limits({ maxMsgs: 3 }));
      await fill(s, ['a', 'b', 'c', 'd', 'e']);
      expect(s.state()).toMatchObject({ msgs: 3, firstSeq: 3, lastSeq: 5, firstTime: T(3) });
      expect(s.load(2)).toBeNull();
    });

    it('enforces max_bytes with discard old', async () => {
      const one = storedMsgSize(1, 0, 2);
      const s = await open(limits({ maxBytes: one * 2 }));
      await fill(s, ['a', 'b', 'c']);
      expect(s.state()).toMatchObject({ msgs: 2, bytes: one * 2, firstSeq: 2 });
    });

    it('refuses with discard new: max msgs, max bytes', async () => {
      const s = await open(limits({ maxMsgs: 2, discard: 'new' }));
      await fill(s, ['a', 'b']);
      await expectCode(s.store('c', null, bytes('m3'), T(3)), 'MAX_MSGS');
      expect(s.state()).toMatchObject({ msgs: 2, lastSeq: 2 });

      const one = storedMsgSize(1, 0, 2);
      const b = await open(limits({ maxBytes: one * 2 + 1, discard: 'new' }));
      await fill(b, ['a', 'b']);
      await expectCode(b.store('c', null, bytes('m3'), T(3)), 'MAX_BYTES');
      expect(b.state().lastSeq).toBe(2);
      await b.close();
    });

    it('refuses messages over max_msg_size', async () => {
      const s = await open(limits({ maxMsgSize: 4 }));
      await expectCode(s.store('a', bytes('hh'), bytes('ddd'), T(1)), 'MSG_TOO_LARGE');
      expect(await s.store('a', bytes('hh'), bytes('dd'), T(1))).toEqual({ seq: 1, ts: T(1) });
    });

    it('keeps max_msgs_per_subject, replacing the oldest of that subject', async () => {
      const s = await open(limits({ maxMsgsPerSubject: 2 }));
      await fill(s, ['k.a', 'k.b', 'k.a', 'k.a', 'k.b', 'k.a']);
      expect(s.state({ deleted: true })).toMatchObject({ msgs: 4, firstSeq: 2, lastSeq: 6, numDeleted: 1, deleted: [3] });
      expect([...s.subjectsState('k.*')]).toEqual([
        ['k.a', { msgs: 2, first: 4, last: 6 }],
        ['k.b', { msgs: 2, first: 2, last: 5 }],
      ]);
    });

    it('per-subject limit under discard new replaces unless discard_new_per_subject', async () => {
      const s = await open(limits({ maxMsgsPerSubject: 1, maxMsgs: 2, discard: 'new' }));
      await fill(s, ['a', 'b']);
      // At max_msgs, but 'a' is at its subject limit so the new message replaces the old one.
      await s.store('a', null, bytes('new'), T(3));
      expect(s.state()).toMatchObject({ msgs: 2, firstSeq: 2, lastSeq: 3 });
      await expectCode(s.store('c', null, bytes('x'), T(4)), 'MAX_MSGS');

      const p = await open(limits({ maxMsgsPerSubject: 1, discard: 'new', discardNewPerSubject: true }));
      await fill(p, ['a']);
      await expectCode(p.store('a', null, bytes('x'), T(2)), 'MAX_MSGS_PER_SUBJECT');
      await p.store('b', null, bytes('x'), T(3));
      expect(p.state().msgs).toBe(2);
      await p.close();
    });

    it('applies tightened limits on update', async () => {
      const s = await open();
      await fill(s, ['a', 'a', 'a', 'b', 'b', 'c']);
      s.updateLimits(limits({ maxMsgsPerSubject: 1 }));
      expect(s.state({ deleted: true })).toMatchObject({ msgs: 3, firstSeq: 3, deleted: [4] });
      s.updateLimits(limits({ maxMsgsPerSubject: 1, maxMsgs: 1 }));
      expect(s.state()).toMatchObject({ msgs: 1, firstSeq: 6 });
      expect(s.limits().maxMsgs).toBe(1);
    });

    it('purges everything', async () => {
      const s = await open();
      await fill(s, ['a', 'b', 'c']);
      expect(s.purge()).toBe(3);
      expect(s.state()).toMatchObject({ msgs: 0, bytes: 0, firstSeq: 4, lastSeq: 3, numSubjects: 0, firstTime: 0n });
      expect((await s.store('a', null, bytes('x'), T(9))).seq).toBe(4);
      expect(s.state()).toMatchObject({ firstSeq: 4, lastSeq: 4 });
    });

    it('purges by subject, by sequence and with keep', async () => {
      const s = await open();
      await fill(s, ['a', 'b', 'a', 'b', 'a', 'c.x', 'c.y']);
      expect(s.purge({ subject: 'a', keep: 1 })).toBe(2);
      expect(s.subjectsState('a').get('a')).toEqual({ msgs: 1, first: 5, last: 5 });
      expect(s.purge({ subject: 'b', seq: 4 })).toBe(1); // up to but not including 4
      expect(s.subjectsState('b').get('b')).toEqual({ msgs: 1, first: 4, last: 4 });
      expect([s.msgsOnSubject('a'), s.msgsOnSubject('b'), s.msgsOnSubject('c.x'), s.msgsOnSubject('zzz')]).toEqual([1, 1, 1, 0]);
      expect(s.purge({ subject: 'c.*' })).toBe(2);
      expect(s.msgsOnSubject('c.x')).toBe(0);
      expect(s.state()).toMatchObject({ msgs: 2, firstSeq: 4, lastSeq: 7, numSubjects: 2 });
      expect([s.storedMsgs(), s.storedBytes()]).toEqual([2, s.state().bytes]);
      expect(s.purge({ seq: 1 })).toBe(0);
      expect(s.purge({ subject: 'zzz' })).toBe(0);
      expect(s.purge({ subject: 'a', keep: 5 })).toBe(0);
    });

    it('purge with keep over a wildcard and over everything keeps the newest overall', async () => {
      const s = await open();
      await fill(s, ['x.1', 'x.2', 'x.1', 'x.3']);
      expect(s.purge({ subject: 'x.>', keep: 1 })).toBe(3);
      expect(s.load(4)?.subject).toBe('x.3');
      await fill(s, ['y', 'y'], 5);
      expect(s.purge({ keep: 2 })).toBe(1);
      expect(s.state()).toMatchObject({ msgs: 2, firstSeq: 5 });
      // purge with a sequence and no subject is a compact.
      expect(s.purge({ seq: 6 })).toBe(1);
      expect(s.state().firstSeq).toBe(6);
    });

    it('removes and erases messages, tracking interior deletes', async () => {
      const s = await open();
      await fill(s, ['a', 'b', 'c', 'd']);
      expect(s.remove(2)).toBe(true);
      expect(s.remove(2)).toBe(false);
      expect(s.remove(99)).toBe(false);
      expect(s.remove(3, true)).toBe(true);
      expect(s.load(3)).toBeNull();
      expect(s.state({ deleted: true })).toMatchObject({ msgs: 2, firstSeq: 1, lastSeq: 4, numDeleted: 2, deleted: [2, 3] });
      expect(s.remove(1)).toBe(true);
      expect(s.state()).toMatchObject({ firstSeq: 4, firstTime: T(4), numDeleted: 0 });
      expect(s.state({ deleted: true }).deleted).toBeUndefined();
      expect(s.remove(4)).toBe(true);
      expect(s.state()).toMatchObject({ msgs: 0, firstSeq: 5, lastSeq: 4 });
    });

    it('compacts below a sequence, and past the end', async () => {
      const s = await open();
      await fill(s, ['a', 'b', 'c', 'd', 'e']);
      s.remove(4);
      expect(s.compact(3)).toBe(2);
      expect(s.state({ deleted: true })).toMatchObject({ msgs: 2, firstSeq: 3, lastSeq: 5, deleted: [4] });
      expect(s.compact(2)).toBe(0);
      expect(s.compact(10)).toBe(2);
      expect(s.state()).toMatchObject({ msgs: 0, firstSeq: 10, lastSeq: 9 });
      expect((await s.store('z', null, bytes('z'), T(20))).seq).toBe(10);
    });

    it('truncates above a sequence and resets with 0', async () => {
      const s = await open();
      await fill(s, ['a', 'b', 'a', 'b', 'c']);
      s.truncate(3);
      expect(s.state()).toMatchObject({ msgs: 3, lastSeq: 3, lastTime: T(3), numSubjects: 2 });
      expect(s.loadLast('b')?.seq).toBe(2);
      expect(s.loadLast('c')).toBeNull();
      expect((await s.store('d', null, bytes('again'), T(9))).seq).toBe(4);
      expect(text(s.load(4)!.data)).toBe('again');
      s.truncate(0);
      expect(s.state()).toMatchObject({ msgs: 0, firstSeq: 0, lastSeq: 0, numSubjects: 0 });
      expect((await s.store('a', null, bytes('x'), T(1))).seq).toBe(1);
    });

    it('expires by max_age against the injected clock', async () => {
      const s = await open(limits({ maxAgeNs: T(10) }));
      await fill(s, ['a', 'b', 'c']); // times 1, 2, 3
      expect(s.nextExpiry()).toBe(T(11));
      expect(s.expire(T(10))).toBe(0);
      expect(s.expire(T(12))).toBe(2);
      expect(s.state()).toMatchObject({ msgs: 1, firstSeq: 3 });
      expect(s.nextExpiry()).toBe(T(13));
      expect(s.expire(T(100))).toBe(1);
      expect(s.nextExpiry()).toBeNull();
      const u = await open();
      await fill(u, ['a']);
      expect(u.expire(T(1_000_000))).toBe(0);
      await u.close();
    });

    it('counts pending messages by filter, start and last-per-subject', async () => {
      const s = await open();
      await fill(s, ['o.1', 'o.2', 'o.1', 'x', 'o.3', 'o.1']);
      expect(s.numPending('>', 1, false)).toBe(6);
      expect(s.numPending('', 0, false)).toBe(6);
      expect(s.numPending('o.*', 1, false)).toBe(5);
      expect(s.numPending('o.*', 3, false)).toBe(3);
      expect(s.numPending('o.1', 2, false)).toBe(2);
      expect(s.numPending('o.*', 1, true)).toBe(3);
      expect(s.numPending('o.*', 6, true)).toBe(1);
      expect(s.numPending('>', 4, true)).toBe(3);
      expect(s.numPending('>', 7, false)).toBe(0);
      expect(s.numPending('nope', 1, false)).toBe(0);
      s.remove(3);
      expect(s.numPending('o.1', 1, false)).toBe(2);
    });

    it('reports subjects state with wildcards', async () => {
      const s = await open();
      await fill(s, ['a.b.c', 'a.x.c', 'a.b.d', 'b', 'a.b.c']);
      const all = s.subjectsState('>');
      expect(all.size).toBe(4);
      expect(all.get('a.b.c')).toEqual({ msgs: 2, first: 1, last: 5 });
      expect([...s.subjectsState('a.*.c').keys()].sort()).toEqual(['a.b.c', 'a.x.c']);
      expect([...s.subjectsState('a.>').keys()].length).toBe(3);
      expect(s.subjectsState('b').get('b')).toEqual({ msgs: 1, first: 4, last: 4 });
      expect(s.subjectsState('c').size).toBe(0);
    });

    it('loads last and next by subject, with wildcards', async () => {
      const s = await open();
      await fill(s, ['kv.a', 'kv.b', 'other', 'kv.a', 'kv.c.d']);
      expect(s.loadLast('kv.a')?.seq).toBe(4);
      expect(s.loadLast('kv.*')?.seq).toBe(4);
      expect(s.loadLast('kv.>')?.seq).toBe(5);
      expect(s.loadLast('>')?.seq).toBe(5);
      expect(s.loadLast('missing')).toBeNull();
      expect(s.loadNext('kv.a', 2)?.seq).toBe(4);
      expect(s.loadNext('kv.*', 3)?.seq).toBe(4);
      expect(s.loadNext('*', 1)?.seq).toBe(3);
      expect(s.loadNext('>', 0)?.seq).toBe(1);
      expect(s.loadNext('kv.*', 5)).toBeNull();
      s.remove(4);
      expect(s.loadLast('kv.a')?.seq).toBe(1);
      expect(s.loadNext('kv.a', 2)).toBeNull();
      s.remove(5);
      expect(s.loadLast('>')?.seq).toBe(3);
    });

    it('wildcard next walks many subjects correctly', async () => {
      const s = await open();
      const subjects: string[] = [];
      for (let i = 0; i < 200; i++) subjects.push(`s.${i % 50}`, 'other.x');
      await fill(s, subjects);
      let n = 0;
      for (let m = s.loadNext('s.*', 0); m !== null; m = s.loadNext('s.*', m.seq + 1)) {
        expect(m.subject.startsWith('s.')).toBe(true);
        n++;
      }
      expect(n).toBe(200);
      expect(s.loadNext('s.7', 200)?.seq).toBe(215);
      expect(s.loadNext('s.7', 316)).toBeNull();
    });

    it('finds the first message at or after a time, over deletes and many segments', async () => {
      const s = await open();
      expect(s.seqForTime(T(5))).toBe(1);
      // Times 10, 12, 14, ... (two seconds apart), 300 messages: several segments in the file store.
      for (let i = 1; i <= 300; i++) await s.store(`t.${i % 7}`, null, bytes(`m${i}-${'x'.repeat(40)}`), T(8 + 2 * i));
      const at = (sec: number): number => s.seqForTime(T(sec));
      expect(at(0)).toBe(1);
      expect(at(10)).toBe(1);
      expect(at(11)).toBe(2);
      expect(at(300)).toBe(146);
      expect(at(608)).toBe(300);
      expect(at(609)).toBe(301);
      for (const seq of [146, 147, 148, 1, 300]) s.remove(seq);
      expect(at(300)).toBe(149);
      expect(at(10)).toBe(2);
      expect(at(608)).toBe(301);
      for (let probe = 0; probe < 40; probe++) {
        const sec = 10 + ((probe * 37) % 600);
        const want = s.loadNext('>', 0);
        let expected = 301;
        for (let m = want; m !== null; m = s.loadNext('>', m.seq + 1)) {
          if (m.time >= T(sec)) {
            expected = m.seq;
            break;
          }
        }
        expect(at(sec), `time ${sec}`).toBe(expected);
      }
    });

    it('rejects use after close', async () => {
      const s = await open();
      await fill(s, ['a']);
      await s.close();
      await expectCode(s.store('a', null, bytes('x'), T(2)), 'STORE_CLOSED');
      expect(() => s.remove(1)).toThrow(StoreError);
    });

    it('is deterministic: the same calls give the same state', async () => {
      const run = async (): Promise<unknown> => {
        const s = await open(limits({ maxMsgs: 20, maxMsgsPerSubject: 3, maxAgeNs: T(50) }));
        for (let i = 1; i <= 60; i++) {
          await s.store(`d.${i % 7}`, null, bytes(`v${i}`), T(i));
          if (i % 9 === 0) s.remove(i - 4);
          if (i % 25 === 0) s.expire(T(i));
        }
        s.purge({ subject: 'd.3', keep: 1 });
        const out = { state: s.state(), subjects: [...s.subjectsState('>')].sort() };
        await s.close();
        return out;
      };
      expect(await run()).toEqual(await run());
    });
  });
}
