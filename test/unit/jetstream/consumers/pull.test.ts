import { describe, expect, it } from 'vitest';
import { ack, Inbox, makeRig, MS, SEC, seqOf } from './harness.ts';

async function filled(n: number, subject = 'foo.a') {
  const rig = makeRig();
  for (let i = 1; i <= n; i++) await rig.stream.publish(subject, `m${i}`);
  return rig;
}

describe('pull consumers', () => {
  it('delivers a batch on the original subject with the v1 ack reply', async () => {
    const rig = await filled(3);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.1');
    rig.next('D', '_INBOX.1', { batch: 2 });
    expect(inbox.data.map((m) => m.data)).toEqual(['m1', 'm2']);
    expect(inbox.data[0]!.subject).toBe('foo.a');
    const t = inbox.data[0]!.reply!.split('.');
    expect(t.slice(0, 4)).toEqual(['$JS', 'ACK', 'S', 'D']);
    expect(t.length).toBe(9);
    expect(seqOf(inbox.data[0]!)).toEqual({ dc: 1, sseq: 1, dseq: 1, pending: 2 });
    expect(seqOf(inbox.data[1]!)).toEqual({ dc: 1, sseq: 2, dseq: 2, pending: 1 });
    expect(BigInt(t[7]!)).toBe(rig.sched.nowNs());
  });

  it('a bare number asks for that many, an empty body for one', async () => {
    const rig = await filled(5);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.1');
    rig.next('D', '_INBOX.1', '3');
    expect(inbox.data.length).toBe(3);
    rig.next('D', '_INBOX.1');
    expect(inbox.data.length).toBe(4);
  });

  it('no_wait with nothing pending answers 404 No Messages', async () => {
    const rig = await filled(0);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.1');
    rig.next('D', '_INBOX.1', { batch: 5, no_wait: true });
    expect(inbox.msgs.map((m) => [m.status, m.description])).toEqual([[404, 'No Messages']]);
  });

  it('no_wait delivers what there is then ends with 408 Request Timeout and the pending counts', async () => {
    const rig = await filled(2);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.1');
    rig.next('D', '_INBOX.1', { batch: 5, no_wait: true });
    expect(inbox.data.length).toBe(2);
    const last = inbox.msgs.at(-1)!;
    expect([last.status, last.description]).toEqual([408, 'Request Timeout']);
    expect(last.headers.get('Nats-Pending-Messages')).toEqual(['3']);
    expect(last.headers.get('Nats-Pending-Bytes')).toEqual(['0']);
    expect(rig.api.get('S', 'D')!.info()['num_waiting']).toBe(0);
  });

  it('a waiting request is served as messages arrive and expires with 408', async () => {
    const rig = await filled(0);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.1');
    rig.next('D', '_INBOX.1', { batch: 3, expires: 5 * SEC });
    expect(rig.api.get('S', 'D')!.info()['num_waiting']).toBe(1);
    await rig.stream.publish('foo.a', 'late');
    expect(inbox.data.map((m) => m.data)).toEqual(['late']);
    rig.sched.advance(4_999);
    expect(inbox.statuses.length).toBe(0);
    rig.sched.advance(1);
    const s = inbox.statuses;
    expect(s.map((m) => [m.status, m.description, m.headers.get('Nats-Pending-Messages')![0]])).toEqual([[408, 'Request Timeout', '2']]);
    expect(rig.api.get('S', 'D')!.info()['num_waiting']).toBe(0);
  });

  it('max_bytes: a message too large ends the request with 409 Message Size Exceeds MaxBytes', async () => {
    const rig = makeRig();
    await rig.stream.publish('foo.a', 'x'.repeat(200));
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.1');
    rig.next('D', '_INBOX.1', { batch: 10, max_bytes: 100, expires: SEC });
    expect(inbox.data.length).toBe(0);
    expect(inbox.statuses.map((m) => [m.status, m.description])).toEqual([[409, 'Message Size Exceeds MaxBytes']]);
  });

  it('max_bytes: stops at the byte budget', async () => {
    const rig = await filled(10);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.1');
    // Each message counts subject + reply + data; about 50 bytes here.
    rig.next('D', '_INBOX.1', { batch: 10, max_bytes: 120, expires: SEC });
    expect(inbox.data.length).toBe(2);
  });

  it('max_waiting: the next request is refused with 409 Exceeded MaxWaiting', async () => {
    const rig = await filled(0);
    rig.create({ durable_name: 'D', ack_policy: 'explicit', max_waiting: 1 });
    const a = new Inbox(rig.bus, '_INBOX.a');
    const b = new Inbox(rig.bus, '_INBOX.b');
    rig.next('D', '_INBOX.a', { batch: 1, expires: SEC });
    rig.next('D', '_INBOX.b', { batch: 1, expires: SEC });
    expect(a.statuses.length).toBe(0);
    expect(b.statuses.map((m) => [m.status, m.description])).toEqual([[409, 'Exceeded MaxWaiting']]);
  });

  it('max_batch / max_expires / max_bytes limits answer 409 with nats-server texts', async () => {
    const rig = await filled(0);
    rig.create({ durable_name: 'D', ack_policy: 'explicit', max_batch: 2, max_expires: SEC, max_bytes: 1000 });
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.next('D', '_INBOX.a', { batch: 3 });
    rig.next('D', '_INBOX.a', { batch: 1, expires: 2 * SEC });
    rig.next('D', '_INBOX.a', { batch: 1, max_bytes: 2000 });
    expect(a.statuses.map((m) => m.description)).toEqual(['Exceeded MaxRequestBatch of 2', 'Exceeded MaxRequestExpires of 1s', 'Exceeded MaxRequestMaxBytes of 1000']);
  });

  it('idle heartbeats on a waiting request: 100 Idle Heartbeat; bad heartbeat is a 400', async () => {
    const rig = await filled(0);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.next('D', '_INBOX.a', { batch: 1, expires: 10 * SEC, idle_heartbeat: 2 * SEC });
    rig.sched.advance(2_000);
    rig.sched.advance(2_000);
    expect(a.statuses.map((m) => [m.status, m.description])).toEqual([
      [100, 'Idle Heartbeat'],
      [100, 'Idle Heartbeat'],
    ]);
    expect(a.statuses[0]!.headers.get('Nats-Last-Consumer')).toEqual(['0']);
    rig.next('D', '_INBOX.a', { batch: 1, expires: SEC, idle_heartbeat: SEC });
    expect(a.statuses.at(-1)!.description).toBe('Bad Request - heartbeat value too large');
  });

  it('requests without interest are dropped; deleting the consumer answers 409 Consumer Deleted', async () => {
    const rig = await filled(0);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const a = new Inbox(rig.bus, '_INBOX.a');
    const b = new Inbox(rig.bus, '_INBOX.b');
    rig.next('D', '_INBOX.a', { batch: 1, expires: 10 * SEC });
    rig.next('D', '_INBOX.b', { batch: 1, expires: 10 * SEC });
    b.close();
    expect(rig.api.get('S', 'D')!.info()['num_waiting']).toBe(1);
    const r = rig.call('CONSUMER.DELETE.S.D');
    expect(r).toEqual({ type: 'io.nats.jetstream.api.v1.consumer_delete_response', success: true });
    expect(a.statuses.map((m) => [m.status, m.description])).toEqual([[409, 'Consumer Deleted']]);
  });

  it('MSG.NEXT on a push consumer answers 409 Consumer is push based', async () => {
    const rig = await filled(0);
    rig.create({ durable_name: 'P', deliver_subject: 'deliver.p', ack_policy: 'explicit' });
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.next('P', '_INBOX.a');
    expect(a.statuses.map((m) => m.description)).toEqual(['Consumer is push based']);
  });

  it('requests are served round robin', async () => {
    const rig = await filled(4);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const a = new Inbox(rig.bus, '_INBOX.a');
    const b = new Inbox(rig.bus, '_INBOX.b');
    rig.next('D', '_INBOX.a', { batch: 10, expires: SEC });
    expect(a.data.length).toBe(4);
    await rig.stream.publish('foo.a', 'x');
    rig.next('D', '_INBOX.b', { batch: 10, expires: SEC });
    await rig.stream.publish('foo.a', 'y');
    await rig.stream.publish('foo.a', 'z');
    expect(a.data.length + b.data.length).toBe(7);
    expect(b.data.length).toBeGreaterThan(0);
  });

  it('max_ack_pending stalls delivery until acks free slots', async () => {
    const rig = await filled(5);
    rig.create({ durable_name: 'D', ack_policy: 'explicit', max_ack_pending: 2 });
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.next('D', '_INBOX.a', { batch: 5, expires: 10 * SEC });
    expect(a.data.length).toBe(2);
    ack(rig.bus, a.data[0]!);
    expect(a.data.length).toBe(3);
    expect(rig.api.get('S', 'D')!.info()['num_ack_pending']).toBe(2);
  });

  it('+NXT acks and asks for more on the ack message reply', async () => {
    const rig = await filled(3);
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.next('D', '_INBOX.a');
    expect(a.data.length).toBe(1);
    ack(rig.bus, a.data[0]!, '+NXT {"batch":2}', '_INBOX.a');
    expect(a.data.map((m) => m.data)).toEqual(['m1', 'm2', 'm3']);
    const info = rig.api.get('S', 'D')!.info();
    expect(info['ack_floor']).toMatchObject({ consumer_seq: 1, stream_seq: 1 });
    expect(info['num_ack_pending']).toBe(2);
    void MS;
  });
});
