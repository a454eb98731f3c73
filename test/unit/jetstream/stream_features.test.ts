import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ConsumerForStream, StreamChange } from '../../../src/jetstream/seams.ts';
import { Harness, errCode, harnessPerTest, settle, waitFor } from './js_harness.ts';

let h: Harness;
harnessPerTest((x) => (h = x));

type Obj = Record<string, unknown>;
const state = (r: Obj): Obj => r['state'] as Obj;

class FakeConsumer implements ConsumerForStream {
  readonly name: string;
  readonly filters: string[];
  readonly done = new Set<number>();

  constructor(name: string, filters: string[] = []) {
    this.name = name;
    this.filters = filters;
  }

  isDone(seq: number): boolean {
    return this.done.has(seq);
  }
}

describe('restart recovery', () => {
  it('brings streams, config, messages and sequences back', async () => {
    await h.createStream({ name: 'ORDERS', subjects: ['orders.*'], max_msgs_per_subject: 5, description: 'd' });
    await h.createStream({ name: 'MEM', storage: 'memory' });
    for (let i = 1; i <= 10; i++) expect(await h.publish(`orders.${i % 3}`, `m${i}`)).toEqual({ stream: 'ORDERS', seq: i });
    await h.publish('MEM', 'x');
    await h.api('STREAM.MSG.DELETE.ORDERS', { seq: 4 });
    const before = await h.api('STREAM.INFO.ORDERS');

    await h.restart();
    const after = await h.api('STREAM.INFO.ORDERS');
    expect(after['config']).toEqual(before['config']);
    expect(after['created']).toEqual(before['created']);
    expect(state(after)).toEqual(state(before));
    const m = (await h.api('STREAM.MSG.GET.ORDERS', { seq: 10 }))['message'] as Obj;
    expect(Buffer.from(m['data'] as string, 'base64').toString()).toBe('m10');
    expect(await h.publish('orders.1', 'next')).toEqual({ stream: 'ORDERS', seq: 11 });
    // Memory streams do not survive a restart (nats-server single-server behaviour).
    expect(errCode(await h.api('STREAM.INFO.MEM'))).toBe(10059);
  });

  it('keeps the dedup window across a restart', async () => {
    await h.createStream({ name: 'S' });
    await h.publish('S', 'a', { 'Nats-Msg-Id': 'x1' });
    await h.publish('S', 'b', { 'Nats-Msg-Id': 'x2' });
    await h.restart();
    expect(await h.publish('S', 'a', { 'Nats-Msg-Id': 'x1' })).toEqual({ stream: 'S', seq: 1, duplicate: true });
    expect(await h.publish('S', 'c', { 'Nats-Expected-Last-Msg-Id': 'x2' })).toEqual({ stream: 'S', seq: 3 });
  });

  it('reports a damaged record found at start-up in stream info and skips it', async () => {
    await h.createStream({ name: 'S' });
    for (let i = 0; i < 3; i++) await h.publish('S', `payload-${i}-${'z'.repeat(40)}`);
    await h.js.stop();
    const segDir = path.join(h.dir, '$G', 'streams', 'S', 'msgs');
    const seg = path.join(segDir, fs.readdirSync(segDir).find((f) => f.endsWith('.seg'))!);
    const buf = fs.readFileSync(seg);
    const at = buf.indexOf('payload-1');
    buf[at + 3] ^= 0xff;
    fs.writeFileSync(seg, buf);
    await h.start();
    const info = await h.api('STREAM.INFO.S');
    expect(state(info)['messages']).toBe(2);
    expect(info['corruption']).toBeDefined();
    expect((info['corruption'] as Obj[])[0]).toMatchObject({ action: 'skipped' });
    expect(state(info)['lost']).toMatchObject({ msgs: [2] });
    expect(errCode(await h.api('STREAM.MSG.GET.S', { seq: 2 }))).toBe(10037);
    const jsz = h.js.jsz({ streams: true });
    const detail = ((jsz['account_details'] as Obj[])[0]!['stream_detail'] as Obj[])[0]!;
    expect(detail['corruption']).toBeDefined();
  });

  it('logs how a file stream came back: from its index snapshot, or by a full scan and why', async () => {
    await h.createStream({ name: 'S' });
    for (let i = 0; i < 5; i++) await h.publish('S', `m${i}`);
    const lines: Obj[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Obj) });
    await h.restart({ logger });
    const restored = lines.find((l) => l['stream'] === 'S' && l['index'] !== undefined);
    expect(restored).toMatchObject({ level: 20, index: 'snapshot', after_snapshot_bytes: 0 });
    // A snapshot older than the last records (as after a kill): they are read again, and it says so.
    const snapshot = path.join(h.dir, '$G', 'streams', 'S', 'msgs', 'index.db');
    const older = fs.readFileSync(snapshot);
    await h.publish('S', 'm5');
    await h.js.stop();
    fs.writeFileSync(snapshot, older);
    lines.length = 0;
    await h.start({ logger });
    const replayed = lines.find((l) => l['stream'] === 'S' && l['index'] !== undefined);
    expect(replayed).toMatchObject({ level: 30, index: 'snapshot' });
    expect(replayed!['after_snapshot_bytes']).toBeGreaterThan(0);
    await h.js.stop();
    fs.rmSync(snapshot);
    lines.length = 0;
    await h.start({ logger });
    const scanned = lines.find((l) => l['stream'] === 'S' && l['index'] !== undefined);
    expect(scanned).toMatchObject({ level: 40, index: 'full-scan' });
    expect(scanned!['scanned_bytes']).toBeGreaterThan(0);
    expect(state(await h.api('STREAM.INFO.S'))['messages']).toBe(6);
  });

  it('first_seq starts the stream at that sequence', async () => {
    await h.createStream({ name: 'F', first_seq: 100 });
    expect(await h.publish('F', 'x')).toEqual({ stream: 'F', seq: 100 });
    await h.restart();
    expect(await h.publish('F', 'y')).toEqual({ stream: 'F', seq: 101 });
  });
});

describe('max_age', () => {
  it('expires messages on the scheduler', async () => {
    await h.createStream({ name: 'S', max_age: 1_000_000_000 });
    await h.publish('S', 'a');
    h.sched.advance(500);
    await h.publish('S', 'b');
    h.sched.advance(600);
    expect(state(await h.api('STREAM.INFO.S'))).toMatchObject({ messages: 1, first_seq: 2 });
    h.sched.advance(600);
    expect(state(await h.api('STREAM.INFO.S'))).toMatchObject({ messages: 0, first_seq: 3 });
  });
});

describe('direct get', () => {
  beforeEach(async () => {
    await h.createStream({ name: 'KV_b', subjects: ['$KV.b.>'], allow_direct: true, max_msgs_per_subject: 3 });
    await h.publish('$KV.b.k1', 'v1', { 'X-A': '1' });
    await h.publish('$KV.b.k2', 'v2');
    await h.publish('$KV.b.k1', 'v3');
  });

  it('answers by sequence with the message and Nats-* headers', async () => {
    const r = (await h.request('$JS.API.DIRECT.GET.KV_b', { seq: 1 }))!;
    expect(r.data.toString()).toBe('v1');
    expect(r.header('Nats-Stream')).toBe('KV_b');
    expect(r.header('Nats-Sequence')).toBe('1');
    expect(r.header('Nats-Subject')).toBe('$KV.b.k1');
    expect(r.header('Nats-Time-Stamp')).toBe('2026-01-02T03:04:05Z');
    expect(r.header('X-A')).toBe('1');
  });

  it('answers last by subject in the request subject and in the body', async () => {
    const r = (await h.request('$JS.API.DIRECT.GET.KV_b.$KV.b.k1'))!;
    expect(r.data.toString()).toBe('v3');
    expect(r.header('Nats-Sequence')).toBe('3');
    const b = (await h.request('$JS.API.DIRECT.GET.KV_b', { last_by_subj: '$KV.b.k2' }))!;
    expect(b.data.toString()).toBe('v2');
    const n = (await h.request('$JS.API.DIRECT.GET.KV_b', { next_by_subj: '$KV.b.k1', seq: 2 }))!;
    expect(n.header('Nats-Sequence')).toBe('3');
  });

  it('answers 404 when missing and 408 for bad requests', async () => {
    const miss = (await h.request('$JS.API.DIRECT.GET.KV_b.$KV.b.nope'))!;
    expect(miss.status()).toBe(404);
    expect(Buffer.from(miss.hdr!).toString()).toBe('NATS/1.0 404 Message Not Found\r\n\r\n');
    expect((await h.request('$JS.API.DIRECT.GET.KV_b'))!.status()).toBe(408);
    expect((await h.request('$JS.API.DIRECT.GET.KV_b', '{bad'))!.status()).toBe(408);
    expect((await h.request('$JS.API.DIRECT.GET.KV_b', { seq: 1, last_by_subj: 'x' }))!.status()).toBe(408);
  });

  it('batches with pending counts and an EOB', async () => {
    const got = h.collect('_INBOX.batch');
    h.bus.publish('$JS.API.DIRECT.GET.KV_b', '_INBOX.batch', null, Buffer.from(JSON.stringify({ seq: 1, batch: 5 })));
    await settle();
    got.stop();
    expect(got.msgs.map((m) => m.header('Nats-Sequence'))).toEqual(['1', '2', '3', undefined]);
    expect(got.msgs.map((m) => m.header('Nats-Num-Pending'))).toEqual(['2', '1', '0', '0']);
    expect(got.msgs[3]!.status()).toBe(204);
  });

  it('is not served without allow_direct', async () => {
    await h.createStream({ name: 'P' });
    await h.publish('P', 'x');
    expect((await h.request('$JS.API.DIRECT.GET.P', { seq: 1 }))!.status()).toBe(503);
  });
});

describe('rollups, KV and object store conventions', () => {
  it('Nats-Rollup sub and all purge before the new message', async () => {
    await h.createStream({ name: 'R', subjects: ['r.*'], allow_rollup_hdrs: true });
    for (const s of ['r.a', 'r.a', 'r.b']) await h.publish(s, 'x');
    expect(await h.publish('r.a', 'roll', { 'Nats-Rollup': 'sub' })).toEqual({ stream: 'R', seq: 4 });
    expect(state(await h.api('STREAM.INFO.R', { subjects_filter: '>' }))).toMatchObject({ messages: 2, subjects: { 'r.a': 1, 'r.b': 1 } });
    expect(await h.publish('r.c', 'all', { 'Nats-Rollup': 'all' })).toEqual({ stream: 'R', seq: 5 });
    expect(state(await h.api('STREAM.INFO.R'))).toMatchObject({ messages: 1, first_seq: 5 });
    const bad = await h.publish('r.c', 'x', { 'Nats-Rollup': 'everything' });
    expect(bad['error']).toEqual({ code: 500, err_code: 10111, description: 'rollup value invalid: "everything"' });
  });

  it('refuses rollups when not allowed', async () => {
    await h.createStream({ name: 'N' });
    const r = await h.publish('N', 'x', { 'Nats-Rollup': 'sub' });
    expect(r['error']).toEqual({ code: 500, err_code: 10111, description: 'rollup not permitted' });
  });

  it('serves a KV bucket the way the clients use it', async () => {
    const created = await h.createStream({
      name: 'KV_cfg',
      subjects: ['$KV.cfg.>'],
      max_msgs_per_subject: 2,
      discard: 'new',
      allow_rollup_hdrs: true,
      deny_delete: true,
      allow_direct: true,
      max_age: 0,
      duplicate_window: 120_000_000_000,
    });
    expect(created['error']).toBeUndefined();
    // create = expect no previous revision
    expect(await h.publish('$KV.cfg.a', '1', { 'Nats-Expected-Last-Subject-Sequence': '0' })).toEqual({ stream: 'KV_cfg', seq: 1 });
    const again = await h.publish('$KV.cfg.a', '1', { 'Nats-Expected-Last-Subject-Sequence': '0' });
    expect(errCode(again)).toBe(10071);
    // update with CAS on the revision
    expect(await h.publish('$KV.cfg.a', '2', { 'Nats-Expected-Last-Subject-Sequence': '1' })).toEqual({ stream: 'KV_cfg', seq: 2 });
    // history is max_msgs_per_subject, discard new does not apply at the subject limit
    expect(await h.publish('$KV.cfg.a', '3')).toEqual({ stream: 'KV_cfg', seq: 3 });
    // delete marker
    expect(await h.publish('$KV.cfg.a', '', { 'KV-Operation': 'DEL' })).toEqual({ stream: 'KV_cfg', seq: 4 });
    const last = (await h.request('$JS.API.DIRECT.GET.KV_cfg.$KV.cfg.a'))!;
    expect(last.header('KV-Operation')).toBe('DEL');
    // purge = marker with rollup of the subject
    expect(await h.publish('$KV.cfg.a', '', { 'KV-Operation': 'PURGE', 'Nats-Rollup': 'sub' })).toEqual({ stream: 'KV_cfg', seq: 5 });
    expect(state(await h.api('STREAM.INFO.KV_cfg'))).toMatchObject({ messages: 1 });
    // purge deletes (what kv.purgeDeletes does) keeps markers with keep
    expect((await h.api('STREAM.PURGE.KV_cfg', { filter: '$KV.cfg.a', keep: 1 }))['purged']).toBe(0);
    // deny_delete refuses message deletes
    expect(errCode(await h.api('STREAM.MSG.DELETE.KV_cfg', { seq: 5 }))).toBe(10057);
  });

  it('serves an object store bucket: chunks, meta rollup, purge of chunks by subject', async () => {
    await h.createStream({
      name: 'OBJ_files',
      subjects: ['$O.files.C.>', '$O.files.M.>'],
      allow_rollup_hdrs: true,
      allow_direct: true,
      discard: 'new',
    });
    const nuid = 'NUID1';
    for (let i = 0; i < 3; i++) await h.publish(`$O.files.C.${nuid}`, Buffer.alloc(100, i));
    const meta = { name: 'a.txt', bucket: 'files', nuid, size: 300, chunks: 3 };
    expect(await h.publish('$O.files.M.YS50eHQ', JSON.stringify(meta), { 'Nats-Rollup': 'sub' })).toEqual({ stream: 'OBJ_files', seq: 4 });
    const info = (await h.request('$JS.API.DIRECT.GET.OBJ_files.$O.files.M.YS50eHQ'))!;
    expect(JSON.parse(info.data.toString())).toMatchObject({ name: 'a.txt', chunks: 3 });
    // Replacing the object: new chunks, new meta (rollup), then the old chunks are purged by subject.
    await h.publish('$O.files.C.NUID2', Buffer.alloc(10, 9));
    await h.publish('$O.files.M.YS50eHQ', JSON.stringify({ ...meta, nuid: 'NUID2', chunks: 1 }), { 'Nats-Rollup': 'sub' });
    expect((await h.api('STREAM.PURGE.OBJ_files', { filter: `$O.files.C.${nuid}` }))['purged']).toBe(3);
    const st = state(await h.api('STREAM.INFO.OBJ_files', { subjects_filter: '$O.files.>' }));
    expect(st).toMatchObject({ messages: 2, subjects: { '$O.files.C.NUID2': 1, '$O.files.M.YS50eHQ': 1 } });
    // Reading chunks in order with next_by_subj, as the get path does through a consumer.
    const first = (await h.api('STREAM.MSG.GET.OBJ_files', { next_by_subj: '$O.files.C.NUID2' }))['message'] as Obj;
    expect(first['subject']).toBe('$O.files.C.NUID2');
  });
});

describe('retention', () => {
  it('interest: skips messages nobody wants, removes them once every interested consumer is done', async () => {
    await h.createStream({ name: 'I', subjects: ['i.*'], retention: 'interest' });
    expect(await h.publish('i.a', 'nobody')).toEqual({ stream: 'I', seq: 1 });
    expect(state(await h.api('STREAM.INFO.I'))).toMatchObject({ messages: 0, last_seq: 1 });

    const stream = h.js.stream('I')!;
    const all = new FakeConsumer('all');
    const onlyB = new FakeConsumer('b', ['i.b']);
    stream.registerConsumer(all);
    stream.registerConsumer(onlyB);
    await h.publish('i.a', 'x'); // 2: only `all` wants it
    await h.publish('i.b', 'y'); // 3: both want it

    all.done.add(2);
    stream.consumerDone('all', 2);
    expect(state(await h.api('STREAM.INFO.I'))['messages']).toBe(1);

    all.done.add(3);
    stream.consumerDone('all', 3);
    expect(state(await h.api('STREAM.INFO.I'))['messages']).toBe(1);
    onlyB.done.add(3);
    stream.consumerDone('b', 3);
    expect(state(await h.api('STREAM.INFO.I'))['messages']).toBe(0);

    await h.publish('i.b', 'z'); // 4
    stream.unregisterConsumer('b');
    expect(state(await h.api('STREAM.INFO.I'))['messages']).toBe(1); // `all` still needs it
    stream.unregisterConsumer('all');
    expect(state(await h.api('STREAM.INFO.I'))['messages']).toBe(0);
  });

  it('workqueue: removes a message once one consumer is done', async () => {
    await h.createStream({ name: 'W', retention: 'workqueue' });
    const stream = h.js.stream('W')!;
    const changes: StreamChange[] = [];
    stream.onChange((ev) => changes.push(ev));
    stream.registerConsumer(new FakeConsumer('c'));
    await h.publish('W', '1');
    await h.publish('W', '2');
    stream.consumerDone('c', 1);
    expect(state(await h.api('STREAM.INFO.W'))).toMatchObject({ messages: 1, first_seq: 2 });
    expect(changes).toEqual([
      { kind: 'append', seq: 1, subject: 'W' },
      { kind: 'append', seq: 2, subject: 'W' },
      { kind: 'remove', seq: 1 },
    ]);
  });

  it('limits: consumerDone changes nothing', async () => {
    await h.createStream({ name: 'L' });
    await h.publish('L', '1');
    h.js.stream('L')!.consumerDone('x', 1);
    expect(state(await h.api('STREAM.INFO.L'))['messages']).toBe(1);
  });
});

describe('mirrors and sources', () => {
  it('a mirror copies the origin with its sequences, also what was there before', async () => {
    await h.createStream({ name: 'O', subjects: ['o.*'], allow_direct: true });
    await h.publish('o.a', '1');
    await h.publish('o.b', '2');
    await h.api('STREAM.MSG.DELETE.O', { seq: 1 });
    const m = await h.createStream({ name: 'M', mirror: { name: 'O' } });
    expect(m['error']).toBeUndefined();
    expect((m['config'] as Obj)['mirror_direct']).toBe(true);
    await h.publish('o.c', '3');
    await waitFor(() => (h.js.stream('M')!.info()['mirror'] as Obj)['lag'] === 0 && h.js.stream('M')!.lastSequence() === 3);
    const info = await h.api('STREAM.INFO.M');
    expect(state(info)).toMatchObject({ messages: 2, first_seq: 2, last_seq: 3 });
    expect(info['mirror']).toMatchObject({ name: 'O', lag: 0 });
    const got = (await h.api('STREAM.MSG.GET.M', { seq: 3 }))['message'] as Obj;
    expect(got['subject']).toBe('o.c');
    // A mirror has no subjects of its own.
    expect(errCode(await h.createStream({ name: 'M2', mirror: { name: 'O' }, subjects: ['x'] }))).toBe(10034);
  });

  it('sources merge filtered origins and resume after a restart', async () => {
    await h.createStream({ name: 'A', subjects: ['a.*'] });
    await h.createStream({ name: 'B', subjects: ['b.*'] });
    await h.publish('a.1', 'a1');
    await h.publish('b.1', 'b1');
    await h.publish('b.2', 'b2');
    const s = await h.createStream({ name: 'ALL', sources: [{ name: 'A' }, { name: 'B', filter_subject: 'b.2' }] });
    expect(s['error']).toBeUndefined();
    await waitFor(() => h.js.stream('ALL')!.store.state().msgs === 2);
    let info = await h.api('STREAM.INFO.ALL', { subjects_filter: '>' });
    expect(state(info)).toMatchObject({ messages: 2, subjects: { 'a.1': 1, 'b.2': 1 } });
    const msg = (await h.api('STREAM.MSG.GET.ALL', { last_by_subj: 'b.2' }))['message'] as Obj;
    expect(Buffer.from(msg['hdrs'] as string, 'base64').toString()).toContain('Nats-Stream-Source: B 2 b.2 > b.2');

    await h.restart();
    await h.publish('a.2', 'a2');
    await waitFor(() => h.js.stream('ALL')!.store.state().msgs === 3);
    info = await h.api('STREAM.INFO.ALL', { subjects_filter: '>' });
    expect(state(info)).toMatchObject({ messages: 3, subjects: { 'a.1': 1, 'a.2': 1, 'b.2': 1 } });
  });

  it('a source created before its origin starts copying when the origin appears', async () => {
    await h.createStream({ name: 'AGG', sources: [{ name: 'LATE' }] });
    await h.createStream({ name: 'LATE', subjects: ['late'] });
    await h.publish('late', 'x');
    await waitFor(() => h.js.stream('AGG')!.store.state().msgs === 1);
    expect(state(await h.api('STREAM.INFO.AGG'))['messages']).toBe(1);
  });
});

describe('republish and advisories', () => {
  it('republishes stored messages with the Nats-* headers', async () => {
    await h.createStream({ name: 'RP', subjects: ['in.>'], republish: { src: 'in.>', dest: 'out.>' } });
    const out = h.collect('out.>');
    await h.publish('in.x', 'hello');
    await h.publish('in.x', 'again');
    out.stop();
    expect(out.msgs.map((m) => [m.subject, m.data.toString(), m.header('Nats-Sequence'), m.header('Nats-Last-Sequence')])).toEqual([
      ['out.x', 'hello', '1', '0'],
      ['out.x', 'again', '2', '1'],
    ]);
    expect(out.msgs[0]!.header('Nats-Stream')).toBe('RP');
    const cycle = await h.createStream({ name: 'CY', subjects: ['cy.>'], republish: { src: '>', dest: 'cy.x' } });
    expect((cycle['error'] as Obj)['description']).toBe('stream configuration for republish destination forms a cycle');
  });

  it('publishes stream created/updated/deleted advisories', async () => {
    const adv = h.collect('$JS.EVENT.ADVISORY.>');
    await h.createStream({ name: 'S' });
    await h.api('STREAM.UPDATE.S', { name: 'S', max_msgs: 5 });
    await h.api('STREAM.DELETE.S');
    adv.stop();
    expect(adv.msgs.map((m) => m.subject)).toEqual([
      '$JS.EVENT.ADVISORY.STREAM.CREATED.S',
      '$JS.EVENT.ADVISORY.STREAM.UPDATED.S',
      '$JS.EVENT.ADVISORY.STREAM.DELETED.S',
    ]);
    expect(adv.msgs[0]!.json()).toMatchObject({ type: 'io.nats.jetstream.advisory.v1.stream_action', stream: 'S', action: 'create' });
    expect(typeof adv.msgs[0]!.json()['id']).toBe('string');
    expect(adv.msgs[2]!.json()['action']).toBe('delete');
  });
});

describe('jsz', () => {
  it('reports totals, config and stream details', async () => {
    await h.createStream({ name: 'S' });
    await h.publish('S', 'abc');
    const j = h.js.jsz({ accounts: true, streams: true, config: true });
    expect(j).toMatchObject({ server_id: 'NTESTSERVER', streams: 1, consumers: 0, messages: 1, accounts: 1, total: 1 });
    expect(j['config']).toMatchObject({ max_memory: 1 << 30, max_storage: 1 << 30, store_dir: h.dir });
    const detail = (j['account_details'] as Obj[])[0]!;
    expect(detail).toMatchObject({ name: '$G', id: '$G' });
    const sd = (detail['stream_detail'] as Obj[])[0]!;
    expect(sd).toMatchObject({ name: 'S', state: { messages: 1 } });
    expect((sd['config'] as Obj)['name']).toBe('S');
    expect(h.js.jsz()['account_details']).toBeUndefined();
  });
});
