import { describe, expect, it } from 'vitest';
import { ack, Inbox, makeRig, SEC, seqOf } from './harness.ts';

async function pullRig(n: number, config: Record<string, unknown> = {}) {
  const rig = makeRig();
  for (let i = 1; i <= n; i++) await rig.stream.publish('foo.a', `m${i}`);
  rig.create({ durable_name: 'D', ack_policy: 'explicit', ...config });
  const inbox = new Inbox(rig.bus, '_INBOX.c');
  const info = () => rig.api.get('S', 'D')!.info();
  return { rig, inbox, info };
}

describe('acknowledgements', () => {
  it('+ACK, +OK and an empty body all ack; the ack floor follows contiguous acks', async () => {
    const { rig, inbox, info } = await pullRig(4);
    rig.next('D', '_INBOX.c', { batch: 4 });
    const [m1, m2, m3, m4] = inbox.data;
    ack(rig.bus, m2!, '+ACK');
    expect(info()['ack_floor']).toMatchObject({ consumer_seq: 0, stream_seq: 0 });
    ack(rig.bus, m1!, '');
    expect(info()['ack_floor']).toMatchObject({ consumer_seq: 2, stream_seq: 2 });
    ack(rig.bus, m3!, '+OK');
    expect(info()['num_ack_pending']).toBe(1);
    ack(rig.bus, m4!);
    expect(info()).toMatchObject({ num_ack_pending: 0, ack_floor: { consumer_seq: 4, stream_seq: 4 }, delivered: { consumer_seq: 4, stream_seq: 4 } });
  });

  it('ack_policy all acks everything up to the acked message', async () => {
    const { rig, inbox, info } = await pullRig(5, { ack_policy: 'all' });
    rig.next('D', '_INBOX.c', { batch: 5 });
    ack(rig.bus, inbox.data[3]!);
    expect(info()).toMatchObject({ num_ack_pending: 1, ack_floor: { consumer_seq: 4, stream_seq: 4 } });
  });

  it('ack_policy none: nothing pending, floor moves on delivery', async () => {
    const { rig, inbox, info } = await pullRig(3, { ack_policy: 'none' });
    rig.next('D', '_INBOX.c', { batch: 3 });
    expect(inbox.data.length).toBe(3);
    expect(info()).toMatchObject({ num_ack_pending: 0, ack_floor: { consumer_seq: 3, stream_seq: 3 } });
  });

  it('unacked messages are redelivered after ack_wait with a higher delivery count', async () => {
    const { rig, inbox, info } = await pullRig(1, { ack_wait: 2 * SEC });
    rig.next('D', '_INBOX.c', { batch: 1 });
    rig.next('D', '_INBOX.c', { batch: 1, expires: 60 * SEC });
    rig.sched.advance(1_999);
    expect(inbox.data.length).toBe(1);
    rig.sched.advance(10);
    expect(inbox.data.length).toBe(2);
    expect(seqOf(inbox.data[1]!)).toMatchObject({ dc: 2, sseq: 1, dseq: 2 });
    expect(info()).toMatchObject({ num_redelivered: 1, num_ack_pending: 1 });
    ack(rig.bus, inbox.data[1]!);
    expect(info()).toMatchObject({ num_redelivered: 0, num_ack_pending: 0 });
  });

  it('+WPI resets the ack timer', async () => {
    const { rig, inbox } = await pullRig(1, { ack_wait: 2 * SEC });
    rig.next('D', '_INBOX.c', { batch: 1 });
    rig.next('D', '_INBOX.c', { batch: 1, expires: 60 * SEC });
    rig.sched.advance(1_500);
    ack(rig.bus, inbox.data[0]!, '+WPI');
    rig.sched.advance(1_500);
    expect(inbox.data.length).toBe(1);
    rig.sched.advance(600);
    expect(inbox.data.length).toBe(2);
  });

  it('-NAK redelivers now; -NAK with a delay waits that long', async () => {
    const { rig, inbox, info } = await pullRig(2, { ack_wait: 30 * SEC });
    rig.next('D', '_INBOX.c', { batch: 2 });
    rig.next('D', '_INBOX.c', { batch: 5, expires: 60 * SEC });
    ack(rig.bus, inbox.data[0]!, '-NAK');
    expect(inbox.data.length).toBe(3);
    expect(seqOf(inbox.data[2]!)).toMatchObject({ sseq: 1, dc: 2 });
    ack(rig.bus, inbox.data[1]!, `-NAK {"delay":${5 * SEC}}`);
    rig.sched.advance(4_900);
    expect(inbox.data.length).toBe(3);
    rig.sched.advance(200);
    expect(inbox.data.length).toBe(4);
    expect(seqOf(inbox.data[3]!)).toMatchObject({ sseq: 2, dc: 2 });
    expect(rig.advisories.filter((a) => a.suffix === 'CONSUMER.MSG_NAKED.S.D').length).toBe(2);
    void info;
  });

  it('+TERM stops redelivery and publishes a terminated advisory with the reason', async () => {
    const { rig, inbox, info } = await pullRig(1, { ack_wait: SEC });
    rig.next('D', '_INBOX.c', { batch: 1 });
    ack(rig.bus, inbox.data[0]!, '+TERM poison');
    rig.next('D', '_INBOX.c', { batch: 1, expires: 60 * SEC });
    rig.sched.advance(5_000);
    expect(inbox.data.length).toBe(1);
    expect(info()['num_ack_pending']).toBe(0);
    const adv = rig.advisories.find((a) => a.suffix === 'CONSUMER.MSG_TERMINATED.S.D')!;
    expect(adv.body).toMatchObject({ type: 'io.nats.jetstream.advisory.v1.terminated', stream: 'S', consumer: 'D', stream_seq: 1, consumer_seq: 1, deliveries: 1, reason: 'poison' });
  });

  it('backoff drives the redelivery schedule; max_deliver stops it with an advisory', async () => {
    const { rig, inbox, info } = await pullRig(1, { backoff: [1 * SEC, 3 * SEC], max_deliver: 3 });
    expect(info()['config']).toMatchObject({ ack_wait: SEC, backoff: [SEC, 3 * SEC], max_deliver: 3 });
    rig.next('D', '_INBOX.c', { batch: 10, expires: 600 * SEC });
    expect(inbox.data.length).toBe(1);
    rig.sched.advance(1_100);
    expect(inbox.data.length).toBe(2);
    rig.sched.advance(2_000);
    expect(inbox.data.length).toBe(2);
    rig.sched.advance(1_100);
    expect(inbox.data.length).toBe(3);
    expect(inbox.data.map((m) => seqOf(m).dc)).toEqual([1, 2, 3]);
    rig.sched.advance(60_000);
    expect(inbox.data.length).toBe(3);
    const adv = rig.advisories.filter((a) => a.suffix === 'CONSUMER.MAX_DELIVERIES.S.D');
    expect(adv.length).toBe(1);
    expect(adv[0]!.body).toMatchObject({ type: 'io.nats.jetstream.advisory.v1.max_deliver', stream_seq: 1, deliveries: 3 });
    expect(info()).toMatchObject({ num_ack_pending: 0, num_redelivered: 1 });
  });

  it('backoff longer than max_deliver is refused', async () => {
    const rig = makeRig();
    const r = rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { durable_name: 'D', ack_policy: 'explicit', backoff: [SEC, SEC, SEC], max_deliver: 2 } });
    expect(r).toEqual({ code: 400, err_code: 10116, description: 'max deliver is required to be > length of backoff values' });
  });

  it('double-ack: a reply on the ack is answered (memory stream: at once)', async () => {
    const { rig, inbox } = await pullRig(1);
    rig.next('D', '_INBOX.c', { batch: 1 });
    const r = new Inbox(rig.bus, '_INBOX.ackack');
    ack(rig.bus, inbox.data[0]!, '+ACK', '_INBOX.ackack');
    expect(r.msgs.length).toBe(1);
    expect(r.msgs[0]!.data).toBe('');
    // An ack for a sequence never delivered is not answered.
    rig.bus.publish('$JS.ACK.S.D.1.99.99.0.0', '_INBOX.ackack', null, Buffer.from('+ACK'));
    expect(r.msgs.length).toBe(1);
  });

  it('acks with a malformed subject are ignored', async () => {
    const { rig, inbox, info } = await pullRig(1);
    rig.next('D', '_INBOX.c', { batch: 1 });
    rig.bus.publish('$JS.ACK.S.D.x.1.1.0.0', null, null, Buffer.from('+ACK'));
    rig.bus.publish('$JS.ACK.S.D.1.1', null, null, Buffer.from('+ACK'));
    expect(info()['num_ack_pending']).toBe(1);
    void inbox;
  });
});

describe('ack sampling', () => {
  it('sample_freq 100% publishes an ack metric per ack', async () => {
    const { rig, inbox } = await pullRig(1, { sample_freq: '100%' });
    const metrics = new Inbox(rig.bus, '$JS.EVENT.METRIC.CONSUMER.ACK.S.D');
    rig.next('D', '_INBOX.c', { batch: 1 });
    rig.sched.advance(250);
    ack(rig.bus, inbox.data[0]!);
    expect(metrics.msgs.length).toBe(1);
    expect(JSON.parse(metrics.msgs[0]!.data)).toMatchObject({
      type: 'io.nats.jetstream.metric.v1.consumer_ack',
      stream: 'S',
      consumer: 'D',
      consumer_seq: 1,
      stream_seq: 1,
      ack_time: 250_000_000,
      deliveries: 1,
    });
  });

  it('a bad sample_freq is refused', () => {
    const rig = makeRig();
    expect(rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { durable_name: 'D', sample_freq: 'often' } })).toMatchObject({ err_code: 10095 });
  });
});
