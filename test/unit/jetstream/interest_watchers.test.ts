// Interest watchers: who is told when a subscription comes or goes.
import { describe, expect, it } from 'vitest';
import { InterestWatchers } from '../../../src/jetstream/bus.ts';

describe('InterestWatchers', () => {
  it('tells the watchers a literal or wildcard subscription could reach, each watch once', () => {
    const w = new InterestWatchers();
    const calls: string[] = [];
    const stopA = w.watch('deliver.a', () => calls.push('a'));
    const stopA2 = w.watch('deliver.a', () => calls.push('a2'));
    w.watch('deliver.b.c', () => calls.push('bc'));
    expect(w.size).toBe(3);

    w.changed('deliver.a');
    expect(calls.splice(0)).toEqual(['a', 'a2']);
    w.changed('deliver.*');
    expect(calls.splice(0)).toEqual(['a', 'a2']);
    w.changed('deliver.>');
    expect(calls.splice(0).sort()).toEqual(['a', 'a2', 'bc']);
    w.changed('other.a');
    w.changed('deliver');
    expect(calls).toEqual([]);

    stopA();
    stopA();
    expect(w.size).toBe(2);
    w.changed('deliver.a');
    expect(calls.splice(0)).toEqual(['a2']);
    stopA2();
    w.changed('deliver.a');
    expect(calls).toEqual([]);
    expect(w.size).toBe(1);
  });

  it('lets a watcher stop watching from inside its own callback', () => {
    const w = new InterestWatchers();
    let n = 0;
    const stop = w.watch('x', () => {
      n++;
      stop();
    });
    w.changed('x');
    w.changed('x');
    expect(n).toBe(1);
    expect(w.size).toBe(0);
  });
});
