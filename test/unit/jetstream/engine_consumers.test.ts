// The stream engine with the real consumer engine plugged in through the seams: create a durable
// pull consumer, fetch, ack, and check workqueue retention and restart recovery end to end.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsumerManager } from '../../../src/jetstream/consumers/index.ts';
import { Harness, waitFor } from './js_harness.ts';

let h: Harness;
const consumers = (ctx: ConstructorParameters<typeof ConsumerManager>[0]) => new ConsumerManager(ctx);

beforeEach(async () => {
  h = new Harness();
  await h.start({ consumers });
});

afterEach(async () => {
  await h.close();
});

type Obj = Record<string, unknown>;

describe('streams with the consumer engine', () => {
  it('a durable pull consumer on a workqueue stream drains it as messages are acked', async () => {
    await h.createStream({ name: 'WQ', subjects: ['jobs.*'], retention: 'workqueue' });
    for (let i = 1; i <= 3; i++) await h.publish(`jobs.${i}`, `job-${i}`);
    const created = await h.api('CONSUMER.DURABLE.CREATE.WQ.worker', { stream_name: 'WQ', config: { durable_name: 'worker', ack_policy: 'explicit' } });
    expect(created['type']).toBe('io.nats.jetstream.api.v1.consumer_create_response');
    expect(created['error']).toBeUndefined();

    const got: Array<{ reply: string | null; data: string }> = [];
    const sub = h.bus.subscribe('_INBOX.pull', null, (_s, r, _h, d) => got.push({ reply: r, data: Buffer.from(d).toString() }));
    h.bus.publish('$JS.API.CONSUMER.MSG.NEXT.WQ.worker', '_INBOX.pull', null, Buffer.from(JSON.stringify({ batch: 3, expires: 1_000_000_000 })));
    await waitFor(() => got.length >= 3);
    sub.unsubscribe();
    expect(got.map((m) => m.data)).toEqual(['job-1', 'job-2', 'job-3']);
    for (const m of got) expect(m.reply).toMatch(/^\$JS\.ACK\.WQ\.worker\./);

    // Each ack removes its message from the workqueue stream.
    h.bus.publish(got[1]!.reply!, null, null, Buffer.from('+ACK'));
    await waitFor(() => h.js.stream('WQ')!.store.state().msgs === 2);
    expect(h.js.stream('WQ')!.store.load(2)).toBeNull();
    h.bus.publish(got[0]!.reply!, null, null, Buffer.from('+ACK'));
    await waitFor(() => h.js.stream('WQ')!.store.state().msgs === 1);
    const info = await h.api('STREAM.INFO.WQ');
    expect((info['state'] as Obj)['consumer_count']).toBe(1);
    const acct = await h.api('INFO');
    expect(acct['consumers']).toBe(1);
  });

  it('durable consumers come back after a restart and stream delete removes them', async () => {
    await h.createStream({ name: 'S' });
    await h.api('CONSUMER.DURABLE.CREATE.S.d', { stream_name: 'S', config: { durable_name: 'd', ack_policy: 'explicit' } });
    await h.restart({ consumers });
    const info = await h.api('CONSUMER.INFO.S.d');
    expect(info['type']).toBe('io.nats.jetstream.api.v1.consumer_info_response');
    expect(info['name']).toBe('d');
    await h.api('STREAM.DELETE.S');
    await h.createStream({ name: 'S' });
    const gone = await h.api('CONSUMER.INFO.S.d');
    expect((gone['error'] as Obj)['err_code']).toBe(10014);
    const noStream = await h.api('CONSUMER.INFO.NOPE.d');
    expect(noStream['error']).toEqual({ code: 404, err_code: 10059, description: 'stream not found' });
    expect(noStream['type']).toBe('io.nats.jetstream.api.v1.consumer_info_response');
  });
});
