import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore, loadConsumerState } from '../../../../src/jetstream/store/index.ts';
import { ack, FakeScheduler, Inbox, makeRig, SEC, seqOf, type Rig } from './harness.ts';

describe('durable consumer state on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'petrel-cons-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function open(sched = new FakeScheduler()): Promise<Rig> {
    const store = await FileStore.open({ dir: path.join(dir, 'msgs') });
    const rig = makeRig({ store, consumerDir: path.join(dir, 'obs'), sched });
    await rig.api.recover(rig.stream);
    return rig;
  }

  async function close(rig: Rig): Promise<void> {
    await rig.api.stop();
    await rig.stream.store.close();
  }

  it('writes config and state files; delete removes them', async () => {
    const rig = await open();
    await rig.stream.publish('foo.a', 'm1');
    rig.create({ durable_name: 'D', ack_policy: 'explicit', description: 'd' });
    const inbox = new Inbox(rig.bus, '_INBOX.c');
    rig.next('D', '_INBOX.c');
    expect(inbox.data.length).toBe(1);
    await rig.api.flush();
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'obs', 'D', 'meta.json'), 'utf8'));
    expect(meta.config).toMatchObject({ durable_name: 'D', description: 'd', ack_policy: 'explicit' });
    expect(await loadConsumerState(path.join(dir, 'obs', 'D', 'state.dat'))).not.toBeNull();
    rig.call('CONSUMER.DELETE.S.D');
    // the answer does not wait for the files; flush() waits for removals in flight
    await rig.api.flush();
    expect(fs.existsSync(path.join(dir, 'obs', 'D'))).toBe(false);
    await close(rig);
  });

  it('ephemerals and mem_storage consumers leave no files', async () => {
    const rig = await open();
    rig.create({ ack_policy: 'explicit' });
    rig.create({ durable_name: 'M', ack_policy: 'explicit', mem_storage: true });
    await rig.api.flush();
    expect(fs.existsSync(path.join(dir, 'obs')) ? fs.readdirSync(path.join(dir, 'obs')) : []).toEqual([]);
    await close(rig);
  });

  it('a restart resumes exactly: acked stay acked, pending are redelivered, new ones follow', async () => {
    const sched = new FakeScheduler();
    let rig = await open(sched);
    for (let i = 1; i <= 6; i++) await rig.stream.publish('foo.a', `m${i}`);
    rig.create({ durable_name: 'D', ack_policy: 'explicit', ack_wait: 10 * SEC });
    let inbox = new Inbox(rig.bus, '_INBOX.c');
    rig.next('D', '_INBOX.c', { batch: 4 });
    const got = inbox.data;
    ack(rig.bus, got[0]!);
    ack(rig.bus, got[2]!);
    // m2 and m4 stay unacked; m2 was NAKed once so it has a redelivery count.
    ack(rig.bus, got[1]!, '-NAK');
    rig.next('D', '_INBOX.c', { batch: 1, expires: SEC });
    expect(seqOf(inbox.data.at(-1)!)).toMatchObject({ sseq: 2, dc: 2 });
    const before = rig.api.get('S', 'D')!.info();
    await close(rig);

    rig = await open(sched);
    const after = rig.api.get('S', 'D')!.info();
    const seqs = (v: unknown) => {
      const o = v as Record<string, unknown>;
      return [o['consumer_seq'], o['stream_seq']];
    };
    expect(seqs(after['delivered'])).toEqual(seqs(before['delivered']));
    expect(seqs(after['ack_floor'])).toEqual(seqs(before['ack_floor']));
    for (const k of ['num_ack_pending', 'num_redelivered', 'num_pending', 'config', 'created']) {
      expect(after[k], k).toEqual(before[k]);
    }
    expect(before).toMatchObject({ num_ack_pending: 2, num_redelivered: 1, num_pending: 2, ack_floor: { stream_seq: 1 } });
    inbox = new Inbox(rig.bus, '_INBOX.c');
    rig.next('D', '_INBOX.c', { batch: 10, expires: 100 * SEC });
    // New messages first (pending ones are not yet due), then the redeliveries once ack_wait passes.
    expect(inbox.data.map((m) => m.data)).toEqual(['m5', 'm6']);
    for (const m of inbox.data) ack(rig.bus, m);
    sched.advance(11_000);
    const re = inbox.data.slice(2).map((m) => [m.data, seqOf(m).dc]);
    expect(re).toEqual([
      ['m2', 3],
      ['m4', 2],
    ]);
    for (const m of inbox.data.slice(2)) ack(rig.bus, m);
    expect(rig.api.get('S', 'D')!.info()).toMatchObject({ num_ack_pending: 0, ack_floor: { stream_seq: 6 }, num_pending: 0 });
    await close(rig);
  });

  it('the config is on disk when create answers; a restart before any state save resumes at the start', async () => {
    let rig = await open();
    for (let i = 1; i <= 3; i++) await rig.stream.publish('foo.a', `old${i}`);
    rig.create({ durable_name: 'N', ack_policy: 'explicit', deliver_policy: 'new' });
    expect(fs.existsSync(path.join(dir, 'obs', 'N', 'meta.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'obs', 'N', 'state.dat'))).toBe(false);
    await close(rig);
    rig = await open();
    await rig.stream.publish('foo.a', 'new1');
    const inbox = new Inbox(rig.bus, '_INBOX.n');
    rig.next('N', '_INBOX.n', { batch: 10, no_wait: true });
    expect(inbox.data.map((m) => m.data)).toEqual(['new1']);
    await close(rig);
  });

  it('a consumer whose directory cannot be written is refused with a store error', async () => {
    const rig = await open();
    fs.writeFileSync(path.join(dir, 'obs'), 'not a directory');
    const r = rig.call('CONSUMER.DURABLE.CREATE.S.D', { stream_name: 'S', config: { durable_name: 'D', ack_policy: 'explicit' } });
    expect(r).toMatchObject({ code: 500, err_code: 10104 });
    expect(rig.api.count('S')).toBe(0);
    await close(rig);
  });

  it('double-ack is answered only after the state reached the disk', async () => {
    const rig = await open();
    await rig.stream.publish('foo.a', 'm1');
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.c');
    rig.next('D', '_INBOX.c', { batch: 1 });
    await rig.api.flush();
    const r = new Inbox(rig.bus, '_INBOX.ackack');
    ack(rig.bus, inbox.data[0]!, '+ACK', '_INBOX.ackack');
    expect(r.msgs.length).toBe(0);
    await rig.api.flush();
    expect(r.msgs.length).toBe(1);
    const saved = await loadConsumerState(path.join(dir, 'obs', 'D', 'state.dat'));
    expect(saved!.ackFloor).toEqual({ consumer: 1, stream: 1 });
    expect(saved!.pending.size).toBe(0);
    await close(rig);
  });

  it('many acks in one turn cost one save (group commit)', async () => {
    const rig = await open();
    for (let i = 0; i < 50; i++) await rig.stream.publish('foo.a', 'x');
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.c');
    rig.next('D', '_INBOX.c', { batch: 50 });
    await rig.api.flush();
    const file = path.join(dir, 'obs', 'D', 'state.dat');
    const persister = rig.api.persisterOf('S', 'D')!;
    const before = persister.saves;
    for (const m of inbox.data) ack(rig.bus, m);
    await rig.api.flush();
    // 50 acks in one turn: one save
    expect(persister.saves - before).toBe(1);
    expect((await loadConsumerState(file))!.ackFloor.stream).toBe(50);
    await close(rig);
  });

  it('a damaged state file is reported and the consumer starts over from its policy', async () => {
    let rig = await open();
    await rig.stream.publish('foo.a', 'm1');
    rig.create({ durable_name: 'D', ack_policy: 'explicit' });
    const inbox = new Inbox(rig.bus, '_INBOX.c');
    rig.next('D', '_INBOX.c');
    ack(rig.bus, inbox.data[0]!);
    await rig.api.flush();
    await close(rig);
    const file = path.join(dir, 'obs', 'D', 'state.dat');
    const buf = fs.readFileSync(file);
    buf[buf.length - 1]! ^= 0xff;
    fs.writeFileSync(file, buf);
    rig = await open();
    const c = rig.api.get('S', 'D');
    expect(c).toBeDefined();
    expect(c!.info()['num_pending']).toBe(1);
    await close(rig);
  });
});
