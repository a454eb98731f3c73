// A single server's publish acknowledgement: sent only once the group commit holding the message
// is durable, in publish order, never for a write that failed, and the message bytes a publisher's
// buffer held are what is stored and republished even if the buffer is reused at once.

import { afterEach, describe, expect, it } from 'vitest';
import { Harness, settle, waitFor } from './js_harness.ts';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

/** An fsync the test releases or fails; passes straight through while `holding` is false. */
class GatedSync {
  holding = false;
  readonly held: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  readonly sync = (): Promise<void> => {
    if (!this.holding) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.held.push({ resolve, reject }));
  };

  releaseAll(): void {
    for (const p of this.held.splice(0)) p.resolve();
  }

  failAll(): void {
    for (const p of this.held.splice(0)) p.reject(new Error('EIO: injected'));
  }
}

/** A file stream ORDERS whose fsyncs are held from now on, and the acks sent to ack.>. */
async function ordersWithGatedSync(): Promise<{ bus: Harness['bus']; gate: GatedSync; acks: ReturnType<Harness['collect']> }> {
  const gate = new GatedSync();
  const harness = (h = new Harness());
  await harness.start({ storeSync: gate.sync });
  await harness.createStream({ name: 'ORDERS', subjects: ['orders.>'], storage: 'file' });
  const acks = harness.collect('ack.>');
  gate.holding = true;
  return { bus: harness.bus, gate, acks };
}

const ackSeqs = (msgs: Array<{ subject: string; json(): Record<string, unknown> }>): Array<[string, unknown]> =>
  msgs.map((m) => [m.subject, m.json()['seq']]);

describe('single-server publish acknowledgements', () => {
  it('acknowledges a turn of publishes in order, and only once their fsync is done', async () => {
    const { bus, gate, acks } = await ordersWithGatedSync();
    for (let i = 1; i <= 3; i++) bus.publish(`orders.${i}`, `ack.${i}`, null, Buffer.from(`o${i}`));
    await waitFor(() => gate.held.length > 0);
    await settle(10);
    expect(acks.msgs).toHaveLength(0);

    gate.holding = false;
    gate.releaseAll();
    await waitFor(() => acks.msgs.length === 3);
    expect(ackSeqs(acks.msgs)).toEqual([
      ['ack.1', 1],
      ['ack.2', 2],
      ['ack.3', 3],
    ]);
  });

  it('does not acknowledge messages whose write failed', async () => {
    const { bus, gate, acks } = await ordersWithGatedSync();
    bus.publish('orders.1', 'ack.1', null, Buffer.from('o1'));
    bus.publish('orders.2', 'ack.2', null, Buffer.from('o2'));
    await waitFor(() => gate.held.length > 0);
    gate.failAll();
    await settle(20);
    // The store stays failed: a later publish is not acknowledged either.
    bus.publish('orders.3', 'ack.3', null, Buffer.from('o3'));
    await settle(20);
    expect(acks.msgs).toHaveLength(0);
  });

  it('acknowledges publishes of later turns when commits resolve at once (memory, lazy fsync)', async () => {
    for (const [storage, syncIntervalMs] of [
      ['memory', 0],
      ['file', 60_000],
    ] as const) {
      h = new Harness();
      await h.start({ syncIntervalMs });
      await h.createStream({ name: 'S', subjects: ['s.>'], storage });
      for (let i = 1; i <= 3; i++) expect((await h.publish(`s.${i}`, `m${i}`))['seq']).toBe(i);
      await h.close();
      h = null;
    }
  });

  it('answers a message the store refuses with an error, one sent without a reply with nothing, and the sequence stays free', async () => {
    h = new Harness();
    await h.start();
    await h.createStream({ name: 'S', subjects: ['s.>'], storage: 'file' });
    // A subject longer than a stored record can hold: refused by the store, after the stream's checks.
    const tooLong = `s.${'x'.repeat(70_000)}`;
    h.bus.publish(tooLong, null, null, Buffer.from('no reply wanted'));
    await settle(10);
    const refused = await h.publish(tooLong, 'with a reply');
    expect(refused['error']).toMatchObject({ code: 503, err_code: 10077 });
    // Refused messages consume no sequence (nats-server).
    expect((await h.publish('s.ok', 'fine'))['seq']).toBe(1);
    expect((await h.publish('s.ok', 'again'))['seq']).toBe(2);
  });

  it('keeps the last message id of the last stored message when the store refuses one with an id', async () => {
    h = new Harness();
    await h.start();
    await h.createStream({ name: 'S', subjects: ['s.>'], storage: 'file' });
    expect((await h.publish('s.a', 'first', { 'Nats-Msg-Id': 'a' }))['seq']).toBe(1);
    const refused = await h.publish(`s.${'x'.repeat(70_000)}`, 'too long', { 'Nats-Msg-Id': 'refused' });
    expect(refused['error']).toMatchObject({ code: 503, err_code: 10077 });
    expect((await h.publish('s.b', 'second', { 'Nats-Expected-Last-Msg-Id': 'a' }))['seq']).toBe(2);
    // The refused id was never stored, so it is no duplicate either.
    expect((await h.publish('s.c', 'third', { 'Nats-Msg-Id': 'refused' }))['seq']).toBe(3);
  });

  it('stores and republishes the bytes published, though the publisher reuses its buffer at once', async () => {
    h = new Harness();
    await h.start();
    await h.createStream({ name: 'R', subjects: ['r.>'], storage: 'file', republish: { src: 'r.>', dest: 'out.>' } });
    const out = h.collect('out.>');
    const acks = h.collect('ack.>');
    const buf = Buffer.from('first');
    h.bus.publish('r.1', 'ack.1', null, buf);
    buf.write('XXXXX');
    h.bus.publish('r.2', 'ack.2', null, buf);
    await waitFor(() => acks.msgs.length === 2 && out.msgs.length === 2);
    expect(out.msgs.map((m) => m.data.toString())).toEqual(['first', 'XXXXX']);
    const first = await h.api('STREAM.MSG.GET.R', { seq: 1 });
    expect(Buffer.from(String((first['message'] as Record<string, unknown>)['data']), 'base64').toString()).toBe('first');
  });
});
