import { describe, expect, it } from 'vitest';
import { buildHeaders } from '../../../../src/protocol/headers.ts';
import { ack, Inbox, makeRig, SEC, seqOf, type Rig } from './harness.ts';

function pullAll(rig: Rig, name: string): string[] {
  const inbox = new Inbox(rig.bus, `_INBOX.${name}`);
  rig.next(name, `_INBOX.${name}`, { batch: 100, no_wait: true });
  inbox.close();
  return inbox.data.map((m) => `${m.subject}:${m.data}`);
}

async function sample(): Promise<Rig> {
  const rig = makeRig();
  // seq: 1 a:1, 2 b:2, 3 a:3, 4 c:4, 5 b:5
  for (const [s, d] of [
    ['foo.a', '1'],
    ['foo.b', '2'],
    ['foo.a', '3'],
    ['foo.c', '4'],
    ['foo.b', '5'],
  ] as const) {
    rig.sched.advance(1_000);
    await rig.stream.publish(s, d);
  }
  return rig;
}

describe('deliver policies and filters', () => {
  it('all, last, new, by_start_sequence, by_start_time, last_per_subject', async () => {
    const rig = await sample();
    rig.create({ name: 'all', ack_policy: 'none' });
    rig.create({ name: 'last', ack_policy: 'none', deliver_policy: 'last' });
    rig.create({ name: 'new', ack_policy: 'none', deliver_policy: 'new' });
    rig.create({ name: 'seq', ack_policy: 'none', deliver_policy: 'by_start_sequence', opt_start_seq: 4 });
    const t3 = new Date(1_700_000_000_000 + 3_000).toISOString();
    rig.create({ name: 'time', ack_policy: 'none', deliver_policy: 'by_start_time', opt_start_time: t3 });
    rig.create({ name: 'lps', ack_policy: 'none', deliver_policy: 'last_per_subject', filter_subject: 'foo.*' });
    rig.create({ name: 'lastb', ack_policy: 'none', deliver_policy: 'last', filter_subject: 'foo.b' });
    expect(rig.api.get('S', 'lps')!.info()['num_pending']).toBe(3);
    expect(rig.api.get('S', 'new')!.info()).toMatchObject({ num_pending: 0, delivered: { stream_seq: 5 }, ack_floor: { stream_seq: 5 } });
    expect(pullAll(rig, 'all')).toEqual(['foo.a:1', 'foo.b:2', 'foo.a:3', 'foo.c:4', 'foo.b:5']);
    expect(pullAll(rig, 'last')).toEqual(['foo.b:5']);
    expect(pullAll(rig, 'new')).toEqual([]);
    expect(pullAll(rig, 'seq')).toEqual(['foo.c:4', 'foo.b:5']);
    expect(pullAll(rig, 'time')).toEqual(['foo.a:3', 'foo.c:4', 'foo.b:5']);
    expect(pullAll(rig, 'lps')).toEqual(['foo.a:3', 'foo.c:4', 'foo.b:5']);
    expect(pullAll(rig, 'lastb')).toEqual(['foo.b:5']);
    await rig.stream.publish('foo.a', '6');
    expect(pullAll(rig, 'new')).toEqual(['foo.a:6']);
    expect(pullAll(rig, 'lps')).toEqual(['foo.a:6']);
  });

  it('filter_subject and filter_subjects select, in stream order, with num_pending to match', async () => {
    const rig = await sample();
    rig.create({ name: 'one', ack_policy: 'explicit', filter_subject: 'foo.b' });
    rig.create({ name: 'multi', ack_policy: 'explicit', filter_subjects: ['foo.c', 'foo.a'] });
    expect(rig.api.get('S', 'one')!.info()['num_pending']).toBe(2);
    expect(rig.api.get('S', 'multi')!.info()['num_pending']).toBe(3);
    expect(pullAll(rig, 'one')).toEqual(['foo.b:2', 'foo.b:5']);
    expect(pullAll(rig, 'multi')).toEqual(['foo.a:1', 'foo.a:3', 'foo.c:4']);
    await rig.stream.publish('foo.c', '6');
    await rig.stream.publish('foo.d', '7');
    expect(rig.api.get('S', 'multi')!.info()['num_pending']).toBe(1);
    expect(rig.api.get('S', 'one')!.info()['num_pending']).toBe(0);
  });

  it('the ack reply carries the remaining pending count', async () => {
    const rig = await sample();
    rig.create({ name: 'p', ack_policy: 'explicit', filter_subject: 'foo.a' });
    const inbox = new Inbox(rig.bus, '_INBOX.p');
    rig.next('p', '_INBOX.p', { batch: 5, no_wait: true });
    expect(inbox.data.map((m) => seqOf(m).pending)).toEqual([1, 0]);
  });

  it('headers_only sends the headers plus Nats-Msg-Size and no body', async () => {
    const rig = makeRig();
    await rig.stream.publish('foo.a', 'hello', buildHeaders({ headers: { 'X-K': 'v' } }));
    await rig.stream.publish('foo.a', 'abc');
    rig.create({ name: 'h', ack_policy: 'none', headers_only: true });
    const inbox = new Inbox(rig.bus, '_INBOX.h');
    rig.next('h', '_INBOX.h', { batch: 2 });
    expect(inbox.msgs.map((m) => [m.data, m.headers.get('X-K'), m.headers.get('Nats-Msg-Size')])).toEqual([
      ['', ['v'], ['5']],
      ['', undefined, ['3']],
    ]);
  });

  it('original headers go out unchanged', async () => {
    const rig = makeRig();
    await rig.stream.publish('foo.a', 'x', buildHeaders({ headers: { 'Nats-Msg-Id': 'id1' } }));
    rig.create({ name: 'c', ack_policy: 'none' });
    const inbox = new Inbox(rig.bus, '_INBOX.c');
    rig.next('c', '_INBOX.c');
    expect(inbox.data[0]!.headers.get('Nats-Msg-Id')).toEqual(['id1']);
  });

  it('replay_policy original keeps the original spacing', async () => {
    const rig = await sample(); // one message per second
    const sub = new Inbox(rig.bus, 'deliver.r');
    rig.create({ name: 'r', deliver_subject: 'deliver.r', ack_policy: 'none', replay_policy: 'original' });
    expect(sub.data.length).toBe(1);
    rig.sched.advance(999);
    expect(sub.data.length).toBe(1);
    rig.sched.advance(1);
    expect(sub.data.length).toBe(2);
    rig.sched.advance(3_000);
    expect(sub.data.length).toBe(5);
    // Caught up: new messages go at once.
    await rig.stream.publish('foo.a', 'x');
    expect(sub.data.length).toBe(6);
  });

  it('rate_limit_bps paces push delivery', async () => {
    const rig = makeRig();
    for (let i = 0; i < 4; i++) await rig.stream.publish('foo.a', 'x'.repeat(100));
    const sub = new Inbox(rig.bus, 'deliver.rl');
    // About 150 bytes per message at 1200 bits/s = ~1 s each.
    rig.create({ name: 'rl', deliver_subject: 'deliver.rl', ack_policy: 'none', rate_limit_bps: 1200 });
    expect(sub.data.length).toBe(1);
    rig.sched.advance(500);
    expect(sub.data.length).toBe(1);
    rig.sched.advance(5_000);
    expect(sub.data.length).toBe(4);
  });

  it('a purge moves the consumer past purged messages and clears their pending state', async () => {
    const rig = await sample();
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.d');
    rig.next('D', '_INBOX.d', { batch: 2 });
    rig.stream.store.purge();
    rig.stream.emit({ kind: 'purge', firstSeq: 6 });
    expect(rig.api.get('S', 'D')!.info()).toMatchObject({ num_ack_pending: 0, num_pending: 0, ack_floor: { stream_seq: 5 } });
    await rig.stream.publish('foo.a', 'after');
    rig.next('D', '_INBOX.d', { batch: 5, no_wait: true });
    expect(inbox.data.map((m) => m.data)).toEqual(['1', '2', 'after']);
  });
});

describe('retention interplay', () => {
  it('workqueue: explicit ack only, one unfiltered consumer, no overlapping filters, deliver all', () => {
    const rig = makeRig({ retention: 'workqueue' });
    const err = (c: Record<string, unknown>) => rig.call(`CONSUMER.CREATE.S.${c['name']}`, { stream_name: 'S', config: c });
    expect(err({ name: 'n', ack_policy: 'none' })).toMatchObject({ err_code: 10084 });
    expect(err({ name: 'n', ack_policy: 'all' })).toMatchObject({ err_code: 10098, description: 'workqueue stream requires explicit ack' });
    expect(err({ name: 'n', ack_policy: 'explicit', deliver_policy: 'new' })).toMatchObject({ err_code: 10101 });
    rig.create({ name: 'a', ack_policy: 'explicit', filter_subject: 'foo.a' });
    expect(err({ name: 'b', ack_policy: 'explicit' })).toMatchObject({ err_code: 10099, description: 'multiple non-filtered consumers not allowed on workqueue stream' });
    expect(err({ name: 'b', ack_policy: 'explicit', filter_subject: 'foo.*' })).toMatchObject({ err_code: 10100, description: 'filtered consumer not unique on workqueue stream' });
    expect(err({ name: 'b', ack_policy: 'explicit', filter_subject: 'foo.b' })).toMatchObject({ name: 'b' });
    // Updating 'b' to overlap 'a' is refused too.
    expect(err({ name: 'b', ack_policy: 'explicit', filter_subject: 'foo.>' })).toMatchObject({ err_code: 10100 });
  });

  it('workqueue: an ack removes the message', async () => {
    const rig = makeRig({ retention: 'workqueue' });
    await rig.stream.publish('foo.a', '1');
    await rig.stream.publish('foo.a', '2');
    rig.create({ durable_name: 'W', ack_policy: 'explicit' });
    expect(rig.stream.registered.has('W')).toBe(true);
    const inbox = new Inbox(rig.bus, '_INBOX.w');
    rig.next('W', '_INBOX.w', { batch: 2 });
    ack(rig.bus, inbox.data[0]!);
    expect(rig.stream.done).toEqual([['W', 1]]);
    expect(rig.stream.store.state().msgs).toBe(1);
    ack(rig.bus, inbox.data[1]!, '+TERM');
    expect(rig.stream.store.state().msgs).toBe(0);
    expect(rig.api.get('S', 'W')!.info()).toMatchObject({ num_pending: 0, num_ack_pending: 0, ack_floor: { stream_seq: 2 } });
    rig.call('CONSUMER.DELETE.S.W');
    expect(rig.stream.registered.has('W')).toBe(false);
  });

  it('interest: a message goes once every interested consumer is done with it', async () => {
    const rig = makeRig({ retention: 'interest' });
    rig.create({ durable_name: 'A', ack_policy: 'explicit' });
    rig.create({ durable_name: 'B', ack_policy: 'explicit', filter_subject: 'foo.b' });
    await rig.stream.publish('foo.a', '1');
    await rig.stream.publish('foo.b', '2');
    const a = new Inbox(rig.bus, '_INBOX.a');
    const b = new Inbox(rig.bus, '_INBOX.b');
    rig.next('A', '_INBOX.a', { batch: 2 });
    rig.next('B', '_INBOX.b', { batch: 2 });
    ack(rig.bus, a.data[0]!); // foo.a: only A is interested
    expect(rig.stream.store.load(1)).toBeNull();
    ack(rig.bus, a.data[1]!); // foo.b: B still needs it
    expect(rig.stream.store.load(2)).not.toBeNull();
    ack(rig.bus, b.data[0]!);
    expect(rig.stream.store.load(2)).toBeNull();
  });

  it('interest with ack none: delivery is enough', async () => {
    const rig = makeRig({ retention: 'interest' });
    const sub = new Inbox(rig.bus, 'deliver.n');
    rig.create({ durable_name: 'N', deliver_subject: 'deliver.n', ack_policy: 'none' });
    await rig.stream.publish('foo.a', '1');
    expect(sub.data.length).toBe(1);
    expect(rig.stream.store.state().msgs).toBe(0);
  });

  it('isDone follows the ack floor and pending set', async () => {
    const rig = makeRig({ retention: 'interest' });
    rig.create({ durable_name: 'A', ack_policy: 'explicit', ack_wait: SEC, max_deliver: 1 });
    const c = rig.api.get('S', 'A')!;
    await rig.stream.publish('foo.a', '1');
    await rig.stream.publish('foo.a', '2');
    expect([c.isDone(1), c.isDone(2)]).toEqual([false, false]);
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.next('A', '_INBOX.a', { batch: 2 });
    ack(rig.bus, a.data[1]!);
    expect([c.isDone(1), c.isDone(2)]).toEqual([false, true]);
    // Max deliveries reached without an ack: kept for interest (nats-server keeps it).
    rig.sched.advance(2_000);
    expect(c.isDone(1)).toBe(false);
    expect(rig.advisories.some((x) => x.suffix === 'CONSUMER.MAX_DELIVERIES.S.A')).toBe(true);
  });
});
