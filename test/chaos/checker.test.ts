// The chaos checker must catch planted bugs: histories with a lost, a duplicated, an unexpected, a
// divergent value, a redelivery after a confirmed ack and a non-linearizable KV operation are each
// reported as such; valid concurrent histories pass; a pathological search answers "unknown"
// within its budget instead of hanging.

import { describe, expect, it } from 'vitest';
import { checkConsumer } from '../../chaos/checker/consumer.ts';
import { checkCore } from '../../chaos/checker/core.ts';
import { MalformedHistory, pairOps } from '../../chaos/checker/history.ts';
import type { Op, OpType } from '../../chaos/checker/history.ts';
import { checkKv } from '../../chaos/checker/kv.ts';
import { checkQueue } from '../../chaos/checker/queue.ts';
import { seededRandom } from '../../src/raft/prng.ts';

/** Appends events in order; time is the event's position, as the runner's clock would be monotonic. */
class History {
  readonly ops: Op[] = [];
  private add(type: OpType, process: number | string, f: string, value: unknown, node?: string): this {
    this.ops.push({ type, process, f, value, time: this.ops.length, ...(node ? { node } : {}) });
    return this;
  }
  invoke(p: number | string, f: string, value: unknown, node?: string): this {
    return this.add('invoke', p, f, value, node);
  }
  ok(p: number | string, f: string, value: unknown, node?: string): this {
    return this.add('ok', p, f, value, node);
  }
  fail(p: number | string, f: string, value: unknown): this {
    return this.add('fail', p, f, value);
  }
  info(p: number | string, f: string, value: unknown): this {
    return this.add('info', p, f, value);
  }
  /** invoke + completion right after. */
  call(p: number | string, f: string, value: unknown, type: OpType = 'ok', result: unknown = value): this {
    return this.invoke(p, f, value).add(type, p, f, result);
  }
  read(node: string, values: unknown[]): this {
    return this.invoke(`reader-${node}`, 'read', null, node).ok(`reader-${node}`, 'read', values, node);
  }
}

describe('history', () => {
  it('pairs invokes with completions per process, leaving unfinished ones open', () => {
    const h = new History().invoke(1, 'publish', 'a').invoke(2, 'publish', 'b').ok(1, 'publish', 'a');
    const pairs = pairOps(h.ops);
    expect(pairs.map((p) => [p.invoke.value, p.completionIndex])).toEqual([
      ['a', 2],
      ['b', Infinity],
    ]);
  });

  it('refuses a process with two operations open, or a completion without invoke', () => {
    expect(() => pairOps(new History().invoke(1, 'publish', 'a').invoke(1, 'publish', 'b').ops)).toThrow(MalformedHistory);
    expect(() => pairOps(new History().ok(1, 'publish', 'a').ops)).toThrow(MalformedHistory);
  });
});

describe('queue checker', () => {
  /** Three publishers, interleaved; x retried after an unknown outcome; y unknown; z failed. */
  function base(): History {
    return new History()
      .invoke(1, 'publish', 'a')
      .invoke(2, 'publish', 'b')
      .ok(2, 'publish', 'b')
      .invoke(3, 'publish', 'x')
      .ok(1, 'publish', 'a')
      .info(3, 'publish', 'x')
      .call(3, 'publish', 'x')
      .call(1, 'publish', 'y', 'info')
      .call(2, 'publish', 'z', 'fail');
  }

  it('passes a valid concurrent history and tells acked, failed, unknown and recovered apart', () => {
    const h = base().read('n1', ['b', 'a', 'x', 'y']).read('n2', ['b', 'a', 'x', 'y']).read('n3', ['b', 'a', 'x', 'y']);
    const r = checkQueue(h.ops);
    expect(r).toMatchObject({
      valid: true,
      attempted: 5,
      acked: 3,
      failed: 1,
      unknown: 1,
      lost: 0,
      unexpected: 0,
      duplicated: 0,
      divergent: 0,
      reordered: 0,
      recovered: 1,
      nodes: ['n1', 'n2', 'n3'],
    });
    expect(r.samples.recovered).toEqual(['y']);
  });

  it('reports a lost value: acked, in no copy', () => {
    const r = checkQueue(base().read('n1', ['b', 'x']).read('n2', ['b', 'x']).ops);
    expect(r.valid).toBe(false);
    expect(r.lost).toBe(1);
    expect(r.samples.lost).toEqual(['a']);
  });

  it('reports a duplicated value: twice in one copy', () => {
    const r = checkQueue(base().read('n1', ['a', 'b', 'x', 'a']).read('n2', ['a', 'b', 'x', 'a']).ops);
    expect(r.valid).toBe(false);
    expect(r.duplicated).toBe(2);
    expect(r.samples.duplicated).toEqual([
      { value: 'a', node: 'n1', count: 2 },
      { value: 'a', node: 'n2', count: 2 },
    ]);
    expect(r.divergent).toBe(0);
  });

  it('reports an unexpected value: never attempted', () => {
    const r = checkQueue(base().read('n1', ['a', 'b', 'x', 'ghost']).read('n2', ['a', 'b', 'x', 'ghost']).ops);
    expect(r.valid).toBe(false);
    expect(r.unexpected).toBe(1);
    expect(r.samples.unexpected).toEqual(['ghost']);
  });

  it('reports divergent replicas: a value one copy lacks, and a copy in another order', () => {
    const missing = checkQueue(base().read('n1', ['a', 'b', 'x']).read('n2', ['a', 'b', 'x']).read('n3', ['a', 'x']).ops);
    expect(missing.valid).toBe(false);
    expect(missing.lost).toBe(0);
    expect(missing.divergent).toBe(1);
    expect(missing.samples.divergent).toEqual([{ value: 'b', counts: { n1: 1, n2: 1, n3: 0 } }]);

    const order = checkQueue(base().read('n1', ['a', 'b', 'x']).read('n2', ['b', 'a', 'x']).ops);
    expect(order.valid).toBe(false);
    expect(order.divergent).toBe(0);
    expect(order.reordered).toBe(1);
    expect(order.samples.reordered).toEqual([{ node: 'n2', index: 0, expected: 'a', found: 'b' }]);
  });

  it('counts a definite failure that is present as recovered, without failing the run', () => {
    const r = checkQueue(base().read('n1', ['a', 'b', 'x', 'z']).ops);
    expect(r.valid).toBe(true);
    expect(r.failedPresent).toBe(1);
  });

  it('is invalid when no copy was read back', () => {
    const r = checkQueue(base().ops);
    expect(r.valid).toBe(false);
    expect(r.errors).toEqual(['no node was read back']);
  });

  it('is invalid when a node could not be read back, even if the others agree', () => {
    const h = base().read('n1', ['a', 'b', 'x']).read('n2', ['a', 'b', 'x']);
    h.ops.push({ type: 'invoke', process: 'reader-n3', f: 'read', value: null, time: h.ops.length, node: 'n3' });
    h.ops.push({ type: 'fail', process: 'reader-n3', f: 'read', value: null, time: h.ops.length, node: 'n3', error: 'no replica of this stream on this node' });
    const r = checkQueue(h.ops);
    expect(r.valid).toBe(false);
    expect(r.errors).toEqual(['n3 could not be read back: no replica of this stream on this node']);
  });
});

describe('consumer checker', () => {
  function published(): History {
    return new History().call('p', 'publish', 1).call('p', 'publish', 2).call('p', 'publish', 3);
  }

  it('passes at-least-once processing with a redelivery before the ack and one racing it', () => {
    const h = published()
      .call('w1', 'fetch', null, 'ok', [1, 2])
      .call('w1', 'ack', 1)
      // w2's fetch is running when the ack of 2 is confirmed: a redelivery sent before it is fine.
      .invoke('w2', 'fetch', null)
      .call('w1', 'ack', 2)
      .ok('w2', 'fetch', [2, 3])
      .call('w2', 'ack', 3);
    const r = checkConsumer(h.ops);
    expect(r).toMatchObject({ valid: true, delivered: 3, deliveries: 4, redeliveries: 1, ackConfirmed: 3, neverAcked: 0 });
  });

  it('reports a redelivery after a confirmed ack', () => {
    const h = published()
      .call('w1', 'fetch', null, 'ok', [1, 2, 3])
      .call('w1', 'ack', 1)
      .call('w1', 'ack', 2)
      .call('w1', 'ack', 3)
      .call('w2', 'fetch', null, 'ok', [2]);
    const r = checkConsumer(h.ops);
    expect(r.valid).toBe(false);
    expect(r.redeliveredAfterAck).toBe(1);
    expect(r.samples.redeliveredAfterAck[0]).toMatchObject({ value: 2, process: 'w2' });
  });

  it('an ack that was not confirmed (info) does not forbid a redelivery', () => {
    const h = published()
      .call('w1', 'fetch', null, 'ok', [1, 2, 3])
      .call('w1', 'ack', 1, 'info')
      .call('w1', 'ack', 2)
      .call('w1', 'ack', 3)
      .call('w2', 'fetch', null, 'ok', [1])
      .call('w2', 'ack', 1);
    expect(checkConsumer(h.ops).valid).toBe(true);
  });

  it('reports an acked publish never processed, and a delivery never published', () => {
    const unprocessed = checkConsumer(published().call('w1', 'fetch', null, 'ok', [1, 3]).ops);
    expect(unprocessed.valid).toBe(false);
    expect(unprocessed.samples.unprocessed).toEqual([2]);
    const unexpected = checkConsumer(published().call('w1', 'fetch', null, 'ok', [1, 2, 3, 99]).ops);
    expect(unexpected.valid).toBe(false);
    expect(unexpected.samples.unexpected).toEqual([99]);
  });
});

describe('core checker', () => {
  it('passes deliveries to one member each, with losses allowed', () => {
    const h = new History()
      .call('p', 'publish', 'm1')
      .call('p', 'publish', 'm2')
      .call('p', 'publish', 'm3')
      .ok('s1', 'deliver', 'm1', 'n1')
      .ok('s2', 'deliver', 'm2', 'n2');
    expect(checkCore(h.ops)).toMatchObject({ valid: true, delivered: 2, undelivered: 1, duplicated: 0 });
  });

  it('reports a message delivered twice to the group, and one never published', () => {
    const h = new History()
      .call('p', 'publish', 'm1')
      .ok('s1', 'deliver', 'm1', 'n1')
      .ok('s3', 'deliver', 'm1', 'n3')
      .ok('s2', 'deliver', 'm9', 'n2');
    const r = checkCore(h.ops);
    expect(r.valid).toBe(false);
    expect(r.duplicated).toBe(1);
    expect(r.samples.duplicated[0]!.deliveries.map((d) => d.node)).toEqual(['n1', 'n3']);
    expect(r.unexpected).toBe(1);
  });
});

describe('kv checker', () => {
  const get = (key: string) => ({ key });
  const read = (key: string, value: string | null, revision: number) => ({ key, value, revision });
  const put = (key: string, value: string) => ({ key, value });
  const wrote = (key: string, value: string, revision: number) => ({ key, value, revision });
  const cas = (key: string, value: string, expected: number) => ({ key, value, expected });
  const cased = (key: string, value: string, expected: number, revision: number) => ({ key, value, expected, revision });

  it('passes a sequential history of get, put, cas and create', () => {
    const h = new History()
      .call(1, 'get', get('k'), 'ok', read('k', null, 0))
      .call(1, 'cas', cas('k', 'a', 0), 'ok', cased('k', 'a', 0, 1))
      .call(1, 'get', get('k'), 'ok', read('k', 'a', 1))
      .call(2, 'put', put('other', 'z'), 'ok', wrote('other', 'z', 2))
      .call(1, 'cas', cas('k', 'b', 1), 'ok', cased('k', 'b', 1, 3))
      .call(1, 'cas', cas('k', 'c', 1), 'fail', cas('k', 'c', 1))
      .call(1, 'get', get('k'), 'ok', read('k', 'b', 3));
    const r = checkKv(h.ops);
    expect(r.valid).toBe(true);
    expect(r.keys.map((k) => [k.key, k.valid])).toEqual([
      ['k', true],
      ['other', true],
    ]);
    expect(r).toMatchObject({ ok: 6, failed: 1, unknown: 0 });
  });

  it('passes overlapping writes read in either order while they overlap', () => {
    const h = new History()
      .invoke(1, 'put', put('k', 'x'))
      .invoke(2, 'put', put('k', 'y'))
      .invoke(3, 'get', get('k'))
      .ok(3, 'get', read('k', 'y', 5))
      .ok(1, 'put', wrote('k', 'x', 4))
      .ok(2, 'put', wrote('k', 'y', 5))
      .call(3, 'get', get('k'), 'ok', read('k', 'y', 5));
    expect(checkKv(h.ops).valid).toBe(true);
  });

  it('an unknown write may or may not have happened', () => {
    const tookEffect = new History()
      .call(1, 'put', put('k', 'a'), 'ok', wrote('k', 'a', 1))
      .call(1, 'put', put('k', 'b'), 'info')
      .call(2, 'get', get('k'), 'ok', read('k', 'b', 7))
      .call(2, 'cas', cas('k', 'c', 7), 'ok', cased('k', 'c', 7, 8));
    expect(checkKv(tookEffect.ops).valid).toBe(true);
    const didNot = new History()
      .call(1, 'put', put('k', 'a'), 'ok', wrote('k', 'a', 1))
      .call(1, 'cas', cas('k', 'b', 1), 'info')
      .call(2, 'get', get('k'), 'ok', read('k', 'a', 1));
    expect(checkKv(didNot.ops).valid).toBe(true);
    const neverInvokedYet = new History()
      .invoke(1, 'put', put('k', 'late'))
      .call(2, 'get', get('k'), 'ok', read('k', 'late', 3));
    expect(checkKv(neverInvokedYet.ops).valid).toBe(true);
  });

  it('reports a read of a missing key after a completed write (lost write), naming the read', () => {
    const h = new History()
      .call(1, 'put', put('k', 'a'), 'ok', wrote('k', 'a', 1))
      .call(2, 'get', get('k'), 'ok', read('k', null, 0));
    const r = checkKv(h.ops);
    expect(r.valid).toBe(false);
    expect(r.keys[0]!.stuck).toMatchObject({ process: 2, f: 'get', invokeIndex: 2 });
  });

  it('reports a stale read after a newer write completed', () => {
    const h = new History()
      .call(1, 'put', put('k', 'a'), 'ok', wrote('k', 'a', 1))
      .call(1, 'put', put('k', 'b'), 'ok', wrote('k', 'b', 2))
      .call(2, 'get', get('k'), 'ok', read('k', 'a', 1));
    expect(checkKv(h.ops).valid).toBe(false);
  });

  it('reports two compare-and-sets that both won against the same revision', () => {
    const h = new History()
      .call(1, 'put', put('k', 'a'), 'ok', wrote('k', 'a', 1))
      .call(1, 'cas', cas('k', 'b', 1), 'ok', cased('k', 'b', 1, 2))
      .call(2, 'cas', cas('k', 'c', 1), 'ok', cased('k', 'c', 1, 3));
    expect(checkKv(h.ops).valid).toBe(false);
  });

  it('reports one key broken while another is fine, and a revision claimed twice', () => {
    const h = new History()
      .call(1, 'put', put('good', 'a'), 'ok', wrote('good', 'a', 1))
      .call(1, 'put', put('bad', 'x'), 'ok', wrote('bad', 'x', 2))
      .call(2, 'get', get('bad'), 'ok', read('bad', 'y', 2));
    const r = checkKv(h.ops);
    expect(r.valid).toBe(false);
    expect(r.keys.map((k) => [k.key, k.valid])).toEqual([
      ['bad', false],
      ['good', true],
    ]);
    const dup = checkKv(
      new History()
        .call(1, 'put', put('a', 'x'), 'ok', wrote('a', 'x', 4))
        .call(2, 'put', put('b', 'y'), 'ok', wrote('b', 'y', 4)).ops,
    );
    expect(dup.valid).toBe(false);
    expect(dup.duplicateRevisions).toEqual([4]);
  });

  /** A history from a real register: each op takes effect at a random instant inside its call. */
  function simulated(seed: number, processes: number, opsPerProcess: number): History {
    const r = seededRandom(seed);
    type Planned = { p: number; f: 'get' | 'put' | 'cas'; start: number; effect: number; end: number; value: string; expected: number; outcome: 'ok' | 'info' };
    const planned: Planned[] = [];
    for (let p = 0; p < processes; p++) {
      let t = r.int(5);
      for (let i = 0; i < opsPerProcess; i++) {
        const start = t + 1 + r.int(10);
        const end = start + 1 + r.int(30);
        const f = (['get', 'put', 'cas'] as const)[r.int(3)]!;
        planned.push({ p, f, start, effect: start + r.next() * (end - start), end, value: `v${p}-${i}`, expected: 0, outcome: r.next() < 0.1 && f !== 'get' ? 'info' : 'ok' });
        t = end;
      }
    }
    // Apply in effect order to the register; CAS expects the revision a read would most likely have seen.
    let value: string | null = null;
    let revision = 0;
    let seq = 0;
    const results = new Map<Planned, unknown>();
    for (const op of [...planned].sort((a, b) => a.effect - b.effect)) {
      if (op.f === 'get') results.set(op, read('k', value, revision));
      else if (op.f === 'put') {
        value = op.value;
        revision = ++seq;
        results.set(op, wrote('k', op.value, revision));
      } else {
        op.expected = r.next() < 0.5 ? revision : Math.max(0, revision - 1);
        if (op.expected === revision && (revision !== 0 || value === null)) {
          value = op.value;
          revision = ++seq;
          results.set(op, cased('k', op.value, op.expected, revision));
        } else {
          op.outcome = 'ok';
          results.set(op, null); // refused: recorded as a fail
        }
      }
    }
    const events = planned.flatMap((op) => [
      { t: op.start, kind: 'invoke' as const, op },
      { t: op.end, kind: 'done' as const, op },
    ]);
    events.sort((a, b) => a.t - b.t || (a.kind === 'invoke' ? 1 : -1));
    const h = new History();
    for (const e of events) {
      const input = e.op.f === 'get' ? get('k') : e.op.f === 'put' ? put('k', e.op.value) : cas('k', e.op.value, e.op.expected);
      if (e.kind === 'invoke') h.invoke(e.op.p, e.op.f, input);
      else if (results.get(e.op) === null) h.fail(e.op.p, e.op.f, input);
      else if (e.op.outcome === 'info') h.info(e.op.p, e.op.f, input);
      else h.ok(e.op.p, e.op.f, results.get(e.op));
    }
    return h;
  }

  it('passes concurrent histories of a real register, and fails them once one read is corrupted', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const h = simulated(seed, 5, 40);
      const r = checkKv(h.ops);
      expect(r.valid, `seed ${seed}`).toBe(true);
      const corrupt = h.ops.map((op) => ({ ...op }));
      const i = corrupt.findIndex((op) => op.f === 'get' && op.type === 'ok' && (op.value as { value: unknown }).value !== null);
      corrupt[i] = { ...corrupt[i]!, value: { ...(corrupt[i]!.value as object), value: 'never-written' } };
      expect(checkKv(corrupt).valid, `seed ${seed} corrupted`).toBe(false);
    }
  });

  it('answers unknown within its step budget on a pathological history', () => {
    const h = new History();
    for (let p = 0; p < 24; p++) h.invoke(p, 'put', put('k', `v${p}`));
    h.call('reader', 'get', get('k'), 'ok', read('k', 'never-written', 99));
    const r = checkKv(h.ops, { maxStepsPerKey: 20_000 });
    expect(r.valid).toBe('unknown');
    expect(r.keys[0]!.steps).toBeLessThanOrEqual(20_001);
    expect(r.keys[0]!.reason).toBe('over 20000 search steps');
  });
});
