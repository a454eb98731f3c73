import { describe, expect, it } from 'vitest';
import { Inbox, makeRig, SEC } from './harness.ts';

const err = (code: number, err_code: number, description: string) => ({ code, err_code, description });

describe('consumer API', () => {
  it('create answers consumer info with nats-server defaults', async () => {
    const rig = makeRig();
    await rig.stream.publish('foo.a', 'x');
    const r = rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    expect(Object.keys(r)).toEqual(['type', 'stream_name', 'name', 'created', 'config', 'delivered', 'ack_floor', 'num_ack_pending', 'num_redelivered', 'num_waiting', 'num_pending', 'ts']);
    expect(r).toMatchObject({
      type: 'io.nats.jetstream.api.v1.consumer_create_response',
      stream_name: 'S',
      name: 'D',
      config: {
        durable_name: 'D',
        name: 'D',
        deliver_policy: 'all',
        ack_policy: 'explicit',
        ack_wait: 30 * SEC,
        max_deliver: -1,
        replay_policy: 'instant',
        max_waiting: 512,
        max_ack_pending: 1000,
        num_replicas: 0,
      },
      delivered: { consumer_seq: 0, stream_seq: 0 },
      ack_floor: { consumer_seq: 0, stream_seq: 0 },
      num_ack_pending: 0,
      num_redelivered: 0,
      num_waiting: 0,
      num_pending: 1,
    });
    expect(r['created']).toBe('2023-11-14T22:13:20Z');
    expect(rig.advisories.map((a) => [a.suffix, a.body['action'], a.body['type']])).toEqual([
      ['CONSUMER.CREATED.S.D', 'create', 'io.nats.jetstream.advisory.v1.consumer_action'],
    ]);
  });

  it('ephemerals get a generated name and a 5 s inactive threshold, and vanish when idle', async () => {
    const rig = makeRig();
    const r = rig.create({ ack_policy: 'explicit' });
    const name = r['name'] as string;
    expect(name).toMatch(/^[A-Za-z0-9]{8}$/);
    expect(r['config']).toMatchObject({ name, inactive_threshold: 5 * SEC });
    expect(rig.api.count('S')).toBe(1);
    rig.sched.advance(4_000);
    expect(rig.api.count('S')).toBe(1);
    rig.sched.advance(1_001);
    expect(rig.api.count('S')).toBe(0);
    expect(rig.advisories.map((a) => a.suffix)).toContain(`CONSUMER.DELETED.S.${name}`);
  });

  it('a pull request keeps an ephemeral alive', async () => {
    const rig = makeRig();
    const name = rig.create({ ack_policy: 'explicit', inactive_threshold: 2 * SEC })['name'] as string;
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.sched.advance(1_500);
    rig.next(name, '_INBOX.a', { batch: 1, expires: 10 * SEC });
    rig.sched.advance(5_000);
    expect(rig.api.count('S')).toBe(1);
    rig.sched.advance(8_000);
    expect(rig.api.count('S')).toBe(0);
    void a;
  });

  it('create is idempotent for the same config; action create refuses a different one; update needs it to exist', () => {
    const rig = makeRig();
    const cfg = { durable_name: 'D', ack_policy: 'explicit', description: 'one' };
    rig.create(cfg);
    expect(rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: cfg, action: 'create' })).toMatchObject({ name: 'D' });
    expect(rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { ...cfg, description: 'two' }, action: 'create' })).toEqual(err(400, 10148, 'consumer already exists'));
    expect(rig.call('CONSUMER.CREATE.S.X', { stream_name: 'S', config: { ...cfg, durable_name: 'X' }, action: 'update' })).toEqual(err(400, 10149, 'consumer does not exist'));
    // Create-or-update changes what may change...
    expect(rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { ...cfg, description: 'two', max_ack_pending: 5 } })).toMatchObject({ config: { description: 'two', max_ack_pending: 5 } });
    // ...and refuses what may not.
    expect(rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { ...cfg, ack_policy: 'all' } })).toEqual(err(500, 10012, 'ack policy can not be updated'));
    expect(rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { ...cfg, deliver_policy: 'new' } })).toEqual(err(500, 10012, 'deliver policy can not be updated'));
    expect(rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { ...cfg, deliver_subject: 'x.y' } })).toEqual(err(500, 10012, 'can not update pull consumer to push based'));
  });

  it('subject forms: durable, named with a filter, legacy ephemeral', () => {
    const rig = makeRig();
    expect(rig.call('CONSUMER.DURABLE.CREATE.S.D', { stream_name: 'S', config: { durable_name: 'D', ack_policy: 'explicit' } })).toMatchObject({ name: 'D' });
    expect(rig.call('CONSUMER.DURABLE.CREATE.S.D', { stream_name: 'S', config: { ack_policy: 'explicit' } })).toEqual(
      err(400, 10018, 'consumer expected to be durable but a durable name was not set'),
    );
    expect(rig.call('CONSUMER.DURABLE.CREATE.S.D', { stream_name: 'S', config: { durable_name: 'E' } })).toEqual(
      err(400, 10017, 'consumer name in subject does not match durable name in request'),
    );
    expect(rig.call('CONSUMER.CREATE.S.F.foo.b', { stream_name: 'S', config: { name: 'F', filter_subject: 'foo.b' } })).toMatchObject({ name: 'F', config: { filter_subject: 'foo.b' } });
    expect(rig.call('CONSUMER.CREATE.S.G.foo.b', { stream_name: 'S', config: { filter_subject: 'foo.c' } })).toEqual(
      err(400, 10131, 'Consumer create request did not match filtered subject from create subject'),
    );
    expect(rig.call('CONSUMER.CREATE.S.G.foo.b', { stream_name: 'S', config: { filter_subjects: ['foo.b'] } })).toEqual(
      err(400, 10137, 'consumer with multiple subject filters cannot use subject based API'),
    );
    expect(rig.call('CONSUMER.CREATE.S', { stream_name: 'S', config: { durable_name: 'Q' } })).toEqual(
      err(400, 10020, 'consumer expected to be ephemeral but a durable name was set in request'),
    );
    expect(rig.call('CONSUMER.CREATE.S.H', { stream_name: 'T', config: {} })).toEqual(err(400, 10056, 'stream name in subject does not match request'));
    expect(rig.call('CONSUMER.CREATE.S.H', 'not json')).toEqual(err(400, 10025, 'invalid JSON'));
    expect(rig.call('CONSUMER.CREATE.S.H', { stream_name: 'S', config: { ack_policy: 'sometimes' } })).toEqual(err(400, 10025, 'invalid JSON'));
    expect(rig.call('CONSUMER.CREATE.S.H', { stream_name: 'S', config: { ack_wait: '30s' } })).toEqual(err(400, 10025, 'invalid JSON'));
    expect(rig.call('CONSUMER.CREATE.S.a/b', { stream_name: 'S', config: {} })).toEqual(err(400, 10127, 'Consumer name can not contain path separators'));
    expect(rig.call('CONSUMER.CREATE.S.H', { stream_name: 'S', config: { num_replicas: 3 } })).toEqual(err(500, 10074, 'replicas > 1 not supported in non-clustered mode'));
    expect(rig.call('CONSUMER.CREATE.S.H', { stream_name: 'S', config: { durable_name: 'I', name: 'H' } })).toEqual(
      err(400, 10017, 'consumer name in subject does not match durable name in request'),
    );
  });

  it('config validation errors as nats-server', () => {
    const rig = makeRig();
    const bad = (config: Record<string, unknown>) => rig.call('CONSUMER.CREATE.S.C', { stream_name: 'S', config: { name: 'C', ...config } });
    expect(bad({ deliver_subject: 'a.*' })).toEqual(err(400, 10079, 'consumer deliver subject has wildcards'));
    expect(bad({ deliver_subject: 'foo.x' })).toEqual(err(400, 10081, 'consumer deliver subject forms a cycle'));
    expect(bad({ deliver_subject: 'd', max_waiting: 3 })).toEqual(err(400, 10080, 'consumer in push mode can not set max waiting'));
    expect(bad({ deliver_subject: 'd', idle_heartbeat: 50_000_000 })).toEqual(err(400, 10083, 'consumer idle heartbeat needs to be >= 100ms'));
    expect(bad({ deliver_subject: 'd', flow_control: true })).toEqual(err(400, 10108, 'consumer with flow control also needs heartbeats'));
    expect(bad({ deliver_subject: 'd', ack_policy: 'none', max_ack_pending: 5 })).toEqual(err(400, 10082, 'consumer requires ack policy for max ack pending'));
    expect(bad({ idle_heartbeat: SEC })).toEqual(err(400, 10088, 'consumer idle heartbeat requires a push based consumer'));
    expect(bad({ flow_control: true })).toEqual(err(400, 10089, 'consumer flow control requires a push based consumer'));
    expect(bad({ rate_limit_bps: 100 })).toEqual(err(400, 10086, 'consumer in pull mode can not have rate limit set'));
    expect(bad({ max_waiting: -1 })).toEqual(err(400, 10087, 'consumer max waiting needs to be positive'));
    expect(bad({ max_batch: -1 })).toEqual(err(400, 10114, 'consumer max request batch needs to be > 0'));
    expect(bad({ max_expires: 10 })).toEqual(err(400, 10115, 'consumer max request expires needs to be >= 1ms'));
    expect(bad({ filter_subject: 'foo.a', filter_subjects: ['foo.b'] })).toEqual(err(400, 10136, 'consumer cannot have both FilterSubject and FilterSubjects specified'));
    expect(bad({ filter_subjects: ['foo.a', ''] })).toEqual(err(400, 10139, 'consumer filter in FilterSubjects cannot be empty'));
    expect(bad({ filter_subjects: ['foo.*', 'foo.a'] })).toEqual(err(400, 10138, 'consumer subject filters cannot overlap'));
    expect(bad({ deliver_policy: 'by_start_sequence' })).toEqual(err(400, 10094, 'consumer delivery policy is deliver by start sequence, but optional start sequence is not set'));
    expect(bad({ deliver_policy: 'all', opt_start_seq: 4 })).toEqual(err(400, 10094, 'consumer delivery policy is deliver all, but optional start sequence is also set'));
    expect(bad({ deliver_policy: 'by_start_time' })).toEqual(err(400, 10094, 'consumer delivery policy is deliver by start time, but optional start time is not set'));
    expect(bad({ deliver_policy: 'last_per_subject' })).toEqual(err(400, 10094, 'consumer delivery policy is deliver last per subject, but optional filter subject is not set'));
    expect(bad({ description: 'x'.repeat(4097) })).toEqual(err(400, 10107, 'consumer description is too long, maximum allowed is 4096'));
    expect(bad({ num_replicas: -1 })).toEqual(err(400, 10133, 'replicas count cannot be negative'));
    expect(bad({ metadata: { k: 'v'.repeat(128 * 1024) } })).toEqual(err(400, 10135, 'consumer metadata exceeds maximum size of 128KB'));
    expect(rig.call('CONSUMER.DURABLE.CREATE.S.a*b', { stream_name: 'S', config: { durable_name: 'a*b' } })).toEqual(err(400, 10103, "durable name can not contain '.', '*', '>'"));
    expect(rig.api.count('S')).toBe(0);
  });

  it('max_consumers of the stream is enforced', () => {
    const rig = makeRig();
    rig.stream.extraConfig = { max_consumers: 1 };
    rig.create({ durable_name: 'A' });
    expect(rig.call('CONSUMER.CREATE.S.B', { stream_name: 'S', config: { durable_name: 'B' } })).toEqual(err(400, 10026, 'maximum consumers limit reached'));
  });

  it('info, names, list (sorted, paged), delete', () => {
    const rig = makeRig();
    for (const n of ['c', 'a', 'b']) rig.create({ durable_name: n, ack_policy: 'explicit' });
    expect(rig.call('CONSUMER.INFO.S.b')).toMatchObject({ type: 'io.nats.jetstream.api.v1.consumer_info_response', name: 'b', stream_name: 'S' });
    expect(rig.call('CONSUMER.INFO.S.zz')).toEqual(err(404, 10014, 'consumer not found'));
    expect(rig.call('CONSUMER.INFO.S.b', { x: 1 })).toEqual(err(400, 10038, 'expected an empty request payload'));
    expect(rig.call('CONSUMER.NAMES.S')).toEqual({ type: 'io.nats.jetstream.api.v1.consumer_names_response', total: 3, offset: 0, limit: 1024, consumers: ['a', 'b', 'c'] });
    expect(rig.call('CONSUMER.NAMES.S', { offset: 2 })).toMatchObject({ total: 3, offset: 2, consumers: ['c'] });
    const list = rig.call('CONSUMER.LIST.S', { offset: 1 }) as Record<string, unknown>;
    expect(list).toMatchObject({ type: 'io.nats.jetstream.api.v1.consumer_list_response', total: 3, offset: 1, limit: 256 });
    expect((list['consumers'] as { name: string }[]).map((c) => c.name)).toEqual(['b', 'c']);
    expect(rig.call('CONSUMER.LIST.S', 'nope')).toEqual(err(400, 10025, 'invalid JSON'));
    expect(rig.call('CONSUMER.DELETE.S.a')).toEqual({ type: 'io.nats.jetstream.api.v1.consumer_delete_response', success: true });
    expect(rig.call('CONSUMER.DELETE.S.a')).toEqual(err(404, 10014, 'consumer not found'));
    expect(rig.api.count('S')).toBe(2);
    expect(rig.api.infos('S').map((i) => i['name'])).toEqual(['b', 'c']);
  });

  it('MSG.NEXT for a missing consumer looks like no responders', () => {
    const rig = makeRig();
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.next('nope', '_INBOX.a');
    expect(a.msgs.map((m) => m.status)).toEqual([503]);
  });

  it('streamDeleted stops and forgets every consumer', async () => {
    const rig = makeRig();
    rig.create({ durable_name: 'A', ack_policy: 'explicit' });
    const a = new Inbox(rig.bus, '_INBOX.a');
    rig.next('A', '_INBOX.a', { batch: 1, expires: SEC });
    await rig.api.streamDeleted('S');
    expect(rig.api.count('S')).toBe(0);
    expect(a.statuses.map((m) => m.description)).toEqual(['Consumer Deleted']);
    // No timers left behind.
    rig.sched.advance(60_000);
    expect(rig.sched.pendingTimers()).toBe(0);
  });
});

describe('consumer updates', () => {
  it('a filter change takes effect for what is not yet delivered', async () => {
    const rig = makeRig();
    for (const s of ['foo.a', 'foo.b', 'foo.a', 'foo.b']) await rig.stream.publish(s, s);
    rig.create({ durable_name: 'D', ack_policy: 'explicit', filter_subject: 'foo.a' });
    expect(rig.api.get('S', 'D')!.info()['num_pending']).toBe(2);
    const r = rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { durable_name: 'D', ack_policy: 'explicit', filter_subject: 'foo.b' } });
    expect(r).toMatchObject({ config: { filter_subject: 'foo.b' }, num_pending: 2 });
    const inbox = new Inbox(rig.bus, '_INBOX.u');
    rig.next('D', '_INBOX.u', { batch: 10, no_wait: true });
    expect(inbox.data.map((m) => m.subject)).toEqual(['foo.b', 'foo.b']);
  });

  it('a push durable may move to another deliver subject only while nobody listens on the old one', () => {
    const rig = makeRig();
    const cfg = { durable_name: 'P', ack_policy: 'explicit', deliver_subject: 'd.one' };
    rig.create(cfg);
    const listener = new Inbox(rig.bus, 'd.one');
    expect(rig.call('CONSUMER.CREATE.S.P', { stream_name: 'S', config: { ...cfg, deliver_subject: 'd.two' } })).toEqual(err(400, 10013, 'consumer name already in use'));
    listener.close();
    expect(rig.call('CONSUMER.CREATE.S.P', { stream_name: 'S', config: { ...cfg, deliver_subject: 'd.two' } })).toMatchObject({ config: { deliver_subject: 'd.two' } });
    expect(rig.call('CONSUMER.CREATE.S.P', { stream_name: 'S', config: { ...cfg, deliver_subject: undefined } })).toEqual(err(500, 10012, 'can not update push consumer to pull based'));
  });

  it('raising max_ack_pending releases a stalled consumer', async () => {
    const rig = makeRig();
    for (let i = 0; i < 4; i++) await rig.stream.publish('foo.a', String(i));
    const cfg = { durable_name: 'D', ack_policy: 'explicit', max_ack_pending: 1 };
    rig.create(cfg);
    const inbox = new Inbox(rig.bus, '_INBOX.m');
    rig.next('D', '_INBOX.m', { batch: 4, expires: 10 * SEC });
    expect(inbox.data.length).toBe(1);
    rig.call('CONSUMER.CREATE.S.D', { stream_name: 'S', config: { ...cfg, max_ack_pending: 10 } });
    expect(inbox.data.length).toBe(4);
  });
});
