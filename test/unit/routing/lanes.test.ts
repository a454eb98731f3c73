import { describe, expect, it } from 'vitest';
import { createRing } from '../../../src/routing/ring.ts';
import { InLane, NO_HEADERS, OutLane } from '../../../src/routing/lanes.ts';
import type { LaneHandler } from '../../../src/routing/lanes.ts';
import { SubKind } from '../../../src/routing/router.ts';

function collector(out: string[]): LaneHandler {
  return {
    onPeerSub: (_f, id, subject, queue, account, kind, weight, origin) => out.push(`sub ${id} ${subject} ${queue} ${account} ${kind} ${weight} ${origin}`),
    onPeerUnsub: (_f, id) => out.push(`unsub ${id}`),
    onPeerWeight: (_f, id, weight) => out.push(`weight ${id} ${weight}`),
    onPeerMsg: (_f, subject, reply, hdrLen, msg, targets, n, origin) =>
      out.push(`msg ${subject} ${reply} ${hdrLen === NO_HEADERS ? '-' : hdrLen} ${Buffer.from(msg).toString()} ${Array.from(targets.subarray(0, n)).join(',')} ${origin}`),
    onBarrier: (_f, t) => out.push(`barrier ${t}`),
    onBarrierAck: (_f, t) => out.push(`ack ${t}`),
  };
}

describe('worker lanes', () => {
  it('round-trips every record kind', () => {
    const ring = createRing(4096);
    const out = new OutLane(ring);
    const inl = new InLane(ring, 1);
    out.sub(2 ** 32 + 5, 'orders.>', 'q', 3, SubKind.ROUTE, 4, 'leafc');
    out.sub(7, 'x', null, 0, SubKind.CLIENT, 1, null);
    out.weight(2 ** 32 + 5, 2);
    out.msg('orders.eu', '_INBOX.1', 4, Buffer.from('hdr!body'), [2 ** 32 + 5, 7], 2, 'leafc');
    out.msg('x', null, NO_HEADERS, Buffer.from('plain'), [7], 1, null);
    out.unsub(7);
    out.barrier(9, false);
    out.barrier(9, true);
    expect(out.commit()).toBe(true);
    const seen: string[] = [];
    inl.drain(collector(seen), 100);
    expect(seen).toEqual([
      `sub ${2 ** 32 + 5} orders.> q 3 2 4 leafc`,
      'sub 7 x null 0 0 1 null',
      `weight ${2 ** 32 + 5} 2`,
      `msg orders.eu _INBOX.1 4 hdr!body ${2 ** 32 + 5},7 leafc`,
      'msg x null - plain 7 null',
      'unsub 7',
      'barrier 9',
      'ack 9',
    ]);
  });

  it('keeps order through a backlog when the ring is full, and drains it as room appears', () => {
    const ring = createRing(1024);
    const out = new OutLane(ring);
    const inl = new InLane(ring, 0);
    for (let i = 0; i < 5000; i++) out.msg('s', null, NO_HEADERS, Buffer.from(String(i)), [1], 1, null);
    expect(out.hasBacklog).toBe(true);
    expect(out.backlogSize).toBeGreaterThan(0);
    const seen: string[] = [];
    const h = collector(seen);
    for (let rounds = 0; rounds < 10_000 && (out.hasBacklog || seen.length < 5000); rounds++) {
      out.commit();
      inl.drain(h, 50);
    }
    expect(out.hasBacklog).toBe(false);
    expect(out.backlogSize).toBe(0);
    expect(seen.map((x) => Number(x.split(' ')[4]))).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });
});
