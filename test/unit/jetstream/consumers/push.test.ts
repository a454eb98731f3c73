import { describe, expect, it } from 'vitest';
import { ack, Inbox, makeRig, SEC, seqOf } from './harness.ts';

describe('push consumers', () => {
  it('delivers to the deliver subject on the original subjects when someone listens', async () => {
    const rig = makeRig();
    await rig.stream.publish('foo.a', '1');
    await rig.stream.publish('foo.b', '2');
    const sub = new Inbox(rig.bus, 'deliver.x');
    rig.create({ durable_name: 'P', deliver_subject: 'deliver.x', ack_policy: 'explicit' });
    expect(sub.data.map((m) => [m.subject, m.data])).toEqual([
      ['foo.a', '1'],
      ['foo.b', '2'],
    ]);
    await rig.stream.publish('foo.c', '3');
    expect(sub.data.length).toBe(3);
    expect(rig.api.get('S', 'P')!.info()).toMatchObject({ push_bound: true, num_pending: 0, num_ack_pending: 3 });
  });

  it('waits for interest before delivering, and notices it arriving', async () => {
    const rig = makeRig();
    await rig.stream.publish('foo.a', '1');
    rig.create({ durable_name: 'P', deliver_subject: 'deliver.x', ack_policy: 'explicit' });
    expect(rig.bus.published.filter((p) => p.subject === 'deliver.x').length).toBe(0);
    const sub = new Inbox(rig.bus, 'deliver.x');
    // Told by the bus, not by a poll: no clock advance, only the microtask the consumer defers to.
    await Promise.resolve();
    expect(sub.data.map((m) => m.data)).toEqual(['1']);
  });

  it('a wildcard subscriber counts as interest, and a deleted consumer stops listening', async () => {
    const rig = makeRig();
    await rig.stream.publish('foo.a', '1');
    rig.create({ durable_name: 'P', deliver_subject: 'deliver.w', ack_policy: 'none' });
    const sub = new Inbox(rig.bus, 'deliver.*');
    await Promise.resolve();
    expect(sub.data.map((m) => m.data)).toEqual(['1']);
    sub.close();
    await Promise.resolve();
    await rig.stream.publish('foo.a', '2');
    expect(rig.bus.published.filter((p) => p.subject === 'deliver.w').length).toBe(1);
    expect(rig.bus.interestWatchers).toBe(1);
    expect(rig.call('CONSUMER.DELETE.S.P')).toMatchObject({ success: true });
    expect(rig.bus.interestWatchers).toBe(0);
  });

  it('a queue group gets each message once', async () => {
    const rig = makeRig();
    const a = new Inbox(rig.bus, 'deliver.q', 'grp');
    const b = new Inbox(rig.bus, 'deliver.q', 'grp');
    rig.create({ durable_name: 'P', deliver_subject: 'deliver.q', deliver_group: 'grp', ack_policy: 'explicit' });
    for (let i = 0; i < 4; i++) await rig.stream.publish('foo.a', String(i));
    expect(a.data.length + b.data.length).toBe(4);
  });

  it('sends idle heartbeats with the last sequences when quiet', async () => {
    const rig = makeRig();
    const sub = new Inbox(rig.bus, 'deliver.h');
    await rig.stream.publish('foo.a', '1');
    rig.create({ name: 'H', deliver_subject: 'deliver.h', ack_policy: 'none', idle_heartbeat: SEC });
    rig.sched.advance(999);
    expect(sub.statuses.length).toBe(0);
    rig.sched.advance(1);
    const hb = sub.statuses;
    expect(hb.map((m) => [m.status, m.description])).toEqual([[100, 'Idle Heartbeat']]);
    expect(hb[0]!.headers.get('Nats-Last-Consumer')).toEqual(['1']);
    expect(hb[0]!.headers.get('Nats-Last-Stream')).toEqual(['1']);
    // A delivery restarts the idle clock.
    rig.sched.advance(500);
    await rig.stream.publish('foo.a', '2');
    rig.sched.advance(900);
    expect(sub.statuses.length).toBe(1);
    rig.sched.advance(100);
    expect(sub.statuses.length).toBe(2);
  });

  it('flow control: asks the client, stalls past the window, resumes on the answer', async () => {
    const rig = makeRig({ fcWindow: 16 * 1024 });
    const sub = new Inbox(rig.bus, 'deliver.f');
    for (let i = 0; i < 40; i++) await rig.stream.publish('foo.a', 'x'.repeat(200));
    rig.create({ name: 'F', deliver_subject: 'deliver.f', ack_policy: 'none', flow_control: true, idle_heartbeat: SEC });
    // Initial window is 1/16 of the maximum (1 KiB): a request goes out past half of it, delivery stops past all of it.
    const fc = sub.statuses.filter((m) => m.description === 'FlowControl Request');
    expect(fc.length).toBe(1);
    expect(fc[0]!.reply).toMatch(/^\$JS\.FC\.S\.F\.[A-Za-z0-9]{4}$/);
    const before = sub.data.length;
    expect(before).toBeLessThan(40);
    // While stalled, heartbeats say what we wait for.
    rig.sched.advance(SEC / 1e6);
    const hb = sub.statuses.filter((m) => m.description === 'Idle Heartbeat').at(-1)!;
    expect(hb.headers.get('Nats-Consumer-Stalled')).toEqual([fc[0]!.reply]);
    // The client answers each flow-control request; everything arrives.
    sub.onMsg = (m) => {
      if (m.description === 'FlowControl Request') rig.bus.publish(m.reply!, null, null, new Uint8Array(0));
    };
    rig.bus.publish(fc[0]!.reply!, null, null, new Uint8Array(0));
    expect(sub.data.length).toBe(40);
  });

  it('loses interest: stops, and an ephemeral is deleted after its inactive threshold', async () => {
    const rig = makeRig();
    const sub = new Inbox(rig.bus, 'deliver.e');
    const name = rig.create({ deliver_subject: 'deliver.e', ack_policy: 'none', inactive_threshold: 2 * SEC })['name'] as string;
    await rig.stream.publish('foo.a', '1');
    expect(sub.data.length).toBe(1);
    sub.close();
    await rig.stream.publish('foo.a', '2');
    expect(rig.bus.published.filter((p) => p.subject === 'deliver.e').length).toBe(1);
    rig.sched.advance(1_000);
    expect(rig.api.count('S')).toBe(1);
    rig.sched.advance(2_500);
    expect(rig.api.count('S')).toBe(0);
    void name;
  });

  it('ordered-consumer shape (ephemeral, ack none, flow control, heartbeats, mem storage) works', async () => {
    const rig = makeRig();
    const sub = new Inbox(rig.bus, '_INBOX.ord');
    for (let i = 1; i <= 3; i++) await rig.stream.publish(`foo.k${i}`, `v${i}`);
    const r = rig.create({
      deliver_subject: '_INBOX.ord',
      deliver_policy: 'by_start_sequence',
      opt_start_seq: 2,
      ack_policy: 'none',
      max_deliver: 1,
      flow_control: true,
      idle_heartbeat: 5 * SEC,
      mem_storage: true,
      num_replicas: 1,
      filter_subject: 'foo.>',
    });
    expect(r['config']).toMatchObject({ ack_policy: 'none', flow_control: true, idle_heartbeat: 5 * SEC, mem_storage: true, num_replicas: 1 });
    expect(sub.data.map((m) => [m.subject, seqOf(m).sseq, seqOf(m).dseq])).toEqual([
      ['foo.k2', 2, 1],
      ['foo.k3', 3, 2],
    ]);
    expect(sub.data.at(-1)!.reply!.split('.').at(-1)).toBe('0');
  });

  it('acks work the same for push consumers', async () => {
    const rig = makeRig();
    const sub = new Inbox(rig.bus, 'deliver.a');
    rig.create({ durable_name: 'P', deliver_subject: 'deliver.a', ack_policy: 'explicit', ack_wait: SEC });
    await rig.stream.publish('foo.a', '1');
    rig.sched.advance(1_100);
    expect(sub.data.map((m) => seqOf(m).dc)).toEqual([1, 2]);
    ack(rig.bus, sub.data[1]!);
    rig.sched.advance(5_000);
    expect(sub.data.length).toBe(2);
  });
});
