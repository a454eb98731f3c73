import { beforeEach, describe, expect, it } from 'vitest';
import { Harness, errCode, harnessPerTest } from './js_harness.ts';

let h: Harness;
harnessPerTest((x) => (h = x));

type Obj = Record<string, unknown>;
const state = (r: Obj): Obj => r['state'] as Obj;
const config = (r: Obj): Obj => r['config'] as Obj;

describe('STREAM.CREATE', () => {
  it('creates a file stream with nats-server defaults', async () => {
    const r = await h.createStream({ name: 'ORDERS', subjects: ['orders.*'] });
    expect(r['type']).toBe('io.nats.jetstream.api.v1.stream_create_response');
    expect(r['error']).toBeUndefined();
    expect(r['did_create']).toBe(true);
    expect(config(r)).toEqual({
      name: 'ORDERS',
      subjects: ['orders.*'],
      retention: 'limits',
      max_consumers: -1,
      max_msgs: -1,
      max_bytes: -1,
      max_age: 0,
      max_msgs_per_subject: -1,
      max_msg_size: -1,
      discard: 'old',
      storage: 'file',
      num_replicas: 1,
      duplicate_window: 120_000_000_000,
      compression: 'none',
      allow_direct: false,
      mirror_direct: false,
      sealed: false,
      deny_delete: false,
      deny_purge: false,
      allow_rollup_hdrs: false,
      consumer_limits: {},
    });
    expect(state(r)).toMatchObject({ messages: 0, bytes: 0, first_seq: 0, last_seq: 0, first_ts: '0001-01-01T00:00:00Z', consumer_count: 0 });
    expect(r['cluster']).toEqual({ leader: 'test-server' });
    expect(typeof r['created']).toBe('string');
  });

  it('defaults subjects to the stream name and is idempotent for the same config', async () => {
    const a = await h.createStream({ name: 'S' });
    expect(config(a)['subjects']).toEqual(['S']);
    const b = await h.createStream({ name: 'S' });
    expect(b['error']).toBeUndefined();
    const c = await h.createStream({ name: 'S', max_msgs: 10 });
    expect(c['error']).toEqual({ code: 400, err_code: 10058, description: 'stream name already in use with a different configuration' });
  });

  it('refuses overlapping subjects', async () => {
    await h.createStream({ name: 'A', subjects: ['foo.>'] });
    const r = await h.createStream({ name: 'B', subjects: ['foo.bar'] });
    expect(r['error']).toEqual({ code: 400, err_code: 10065, description: 'subjects overlap with an existing stream' });
  });

  it('refuses replicas > 1 on a single server', async () => {
    const r = await h.createStream({ name: 'R', num_replicas: 3 });
    expect(r['error']).toEqual({ code: 500, err_code: 10074, description: 'replicas > 1 not supported in non-clustered mode' });
    const names = await h.api('STREAM.NAMES');
    expect(names['streams']).toEqual([]);
  });

  it('answers bad input with nats-server errors and stores nothing', async () => {
    const bad = await h.api('STREAM.CREATE.X', '{"name": "X", ');
    expect(errCode(bad)).toBe(10025);
    expect((bad['error'] as Obj)['description']).toMatch(/^invalid JSON: /);

    const wrongType = await h.api('STREAM.CREATE.X', { name: 'X', max_msgs: 'lots' });
    expect(errCode(wrongType)).toBe(10025);

    const badRetention = await h.api('STREAM.CREATE.X', { name: 'X', retention: 'forever' });
    expect(errCode(badRetention)).toBe(10025);

    const mismatch = await h.api('STREAM.CREATE.X', { name: 'Y' });
    expect(mismatch['error']).toEqual({ code: 400, err_code: 10056, description: 'stream name in subject does not match request' });

    // A dotted name is not one subject token: nothing answers, as in nats-server.
    expect(await h.request('$JS.API.STREAM.CREATE.a.b', { name: 'a.b' }, null, 50)).toBeNull();
    for (const name of ['a.b', 'a*', 'a>', 'a b', '']) {
      const r = await h.api('STREAM.UPDATE.X', { name });
      expect(errCode(r), name).toBe(10052);
      expect((r['error'] as Obj)['description']).toBe("stream name is required and can not contain '.', '*', '>', '\\', '/'");
    }
    const slash = await h.api('STREAM.CREATE.a/b', { name: 'a/b' });
    expect(slash['error']).toEqual({ code: 400, err_code: 10128, description: 'Stream name can not contain path separators' });

    const age = await h.createStream({ name: 'X', max_age: 1000 });
    expect(age['error']).toEqual({ code: 500, err_code: 10052, description: 'max age needs to be >= 100ms' });
    const neg = await h.createStream({ name: 'X', max_age: -5 });
    expect((neg['error'] as Obj)['description']).toBe('max age can not be negative');
    const dupWin = await h.createStream({ name: 'X', max_age: 1e9, duplicate_window: 2e9 });
    expect((dupWin['error'] as Obj)['description']).toBe('duplicates window can not be larger then max age');
    const sealed = await h.createStream({ name: 'X', sealed: true });
    expect((sealed['error'] as Obj)['description']).toBe('stream configuration for create can not be sealed');
    const rollupPurge = await h.createStream({ name: 'X', deny_purge: true, allow_rollup_hdrs: true });
    expect((rollupPurge['error'] as Obj)['description']).toBe('roll-ups require the purge permission');
    const badSubj = await h.createStream({ name: 'X', subjects: ['a..b'] });
    expect((badSubj['error'] as Obj)['description']).toBe('invalid subject');
    const apiOverlap = await h.createStream({ name: 'X', subjects: ['$JS.API.>'] });
    expect((apiOverlap['error'] as Obj)['description']).toBe('subjects that overlap with jetstream api require no-ack to be true');
    const selfOverlap = await h.createStream({ name: 'X', subjects: ['a.*', 'a.b'] });
    expect((selfOverlap['error'] as Obj)['description']).toBe('subject "a.*" overlaps with "a.b"');
    const dpns = await h.createStream({ name: 'X', discard_new_per_subject: true });
    expect((dpns['error'] as Obj)['description']).toBe('discard new per subject requires discard new policy to be set');

    const names = await h.api('STREAM.NAMES');
    expect(names['streams']).toEqual([]);
    const info = await h.api('INFO');
    expect((info['api'] as Obj)['errors']).toBeGreaterThanOrEqual(15);
  });
});

describe('publish and acks', () => {
  it('acks after the store write with stream and seq', async () => {
    await h.createStream({ name: 'S', subjects: ['s.>'] });
    expect(await h.publish('s.a', 'one')).toEqual({ stream: 'S', seq: 1 });
    expect(await h.publish('s.b', 'two')).toEqual({ stream: 'S', seq: 2 });
    const info = await h.api('STREAM.INFO.S');
    expect(state(info)).toMatchObject({ messages: 2, first_seq: 1, last_seq: 2, num_subjects: 2 });
  });

  it('carries the domain in acks when configured', async () => {
    await h.js.stop();
    await h.start({ domain: 'hub' });
    await h.createStream({ name: 'S' });
    expect(await h.publish('S', 'x')).toEqual({ stream: 'S', domain: 'hub', seq: 1 });
    // The domain-prefixed API works too.
    const r = await h.request('$JS.hub.API.STREAM.INFO.S');
    expect(r?.json()['type']).toBe('io.nats.jetstream.api.v1.stream_info_response');
  });

  it('deduplicates Nats-Msg-Id within the window and answers with the original sequence', async () => {
    await h.createStream({ name: 'S', duplicate_window: 1e9 });
    expect(await h.publish('S', 'a', { 'Nats-Msg-Id': 'm1' })).toEqual({ stream: 'S', seq: 1 });
    expect(await h.publish('S', 'b', { 'Nats-Msg-Id': 'm2' })).toEqual({ stream: 'S', seq: 2 });
    expect(await h.publish('S', 'a', { 'Nats-Msg-Id': 'm1' })).toEqual({ stream: 'S', seq: 1, duplicate: true });
    h.sched.advance(1500);
    expect(await h.publish('S', 'a', { 'Nats-Msg-Id': 'm1' })).toEqual({ stream: 'S', seq: 3 });
  });

  it('checks the expected-* headers', async () => {
    await h.createStream({ name: 'S', subjects: ['s.*'] });
    await h.publish('s.a', '1', { 'Nats-Msg-Id': 'id-1' });
    await h.publish('s.b', '2');
    await h.publish('s.a', '3', { 'Nats-Msg-Id': 'id-3' });

    const wrongStream = await h.publish('s.a', 'x', { 'Nats-Expected-Stream': 'OTHER' });
    expect(wrongStream['error']).toEqual({ code: 400, err_code: 10060, description: 'expected stream does not match' });
    expect(await h.publish('s.a', 'x', { 'Nats-Expected-Stream': 'S' })).toEqual({ stream: 'S', seq: 4 });

    const wrongLast = await h.publish('s.a', 'x', { 'Nats-Expected-Last-Sequence': '2' });
    expect(wrongLast['error']).toEqual({ code: 400, err_code: 10071, description: 'wrong last sequence: 4' });
    expect(await h.publish('s.a', 'x', { 'Nats-Expected-Last-Sequence': '4' })).toEqual({ stream: 'S', seq: 5 });

    const wrongSubj = await h.publish('s.b', 'x', { 'Nats-Expected-Last-Subject-Sequence': '1' });
    expect(wrongSubj['error']).toEqual({ code: 400, err_code: 10071, description: 'wrong last sequence: 2' });
    expect(await h.publish('s.b', 'x', { 'Nats-Expected-Last-Subject-Sequence': '2' })).toEqual({ stream: 'S', seq: 6 });
    expect(await h.publish('s.new', 'x', { 'Nats-Expected-Last-Subject-Sequence': '0' })).toEqual({ stream: 'S', seq: 7 });

    const wrongId = await h.publish('s.a', 'x', { 'Nats-Expected-Last-Msg-Id': 'id-1' });
    expect(wrongId['error']).toEqual({ code: 400, err_code: 10070, description: 'wrong last msg ID: ' });
    await h.publish('s.a', 'x', { 'Nats-Msg-Id': 'id-8' });
    expect(await h.publish('s.a', 'x', { 'Nats-Expected-Last-Msg-Id': 'id-8' })).toEqual({ stream: 'S', seq: 9 });
    const info = await h.api('STREAM.INFO.S');
    expect(state(info)['messages']).toBe(9);
  });

  it('refuses oversized messages and applies discard new limits', async () => {
    await h.createStream({ name: 'S', max_msg_size: 4, max_msgs: 2, discard: 'new' });
    const big = await h.publish('S', '12345');
    expect(big['error']).toEqual({ code: 400, err_code: 10054, description: 'message size exceeds maximum allowed' });
    await h.publish('S', 'a');
    await h.publish('S', 'b');
    const full = await h.publish('S', 'c');
    expect(full['error']).toEqual({ code: 503, err_code: 10077, description: 'maximum messages exceeded' });
    // The refusal leaves the sequence alone.
    await h.api('STREAM.PURGE.S');
    expect(await h.publish('S', 'd')).toEqual({ stream: 'S', seq: 3 });
  });

  it('discard new per subject and max bytes', async () => {
    await h.createStream({ name: 'K', subjects: ['k.*'], discard: 'new', max_msgs_per_subject: 1, discard_new_per_subject: true });
    await h.publish('k.a', '1');
    const again = await h.publish('k.a', '2');
    expect(again['error']).toEqual({ code: 503, err_code: 10077, description: 'maximum messages per subject exceeded' });
    expect(await h.publish('k.b', '1')).toEqual({ stream: 'K', seq: 2 });

    await h.createStream({ name: 'B', discard: 'new', max_bytes: 100 });
    await h.publish('B', 'x'.repeat(50));
    const over = await h.publish('B', 'x'.repeat(50));
    expect(over['error']).toEqual({ code: 503, err_code: 10077, description: 'maximum bytes exceeded' });
  });

  it('discard new at max_msgs still takes a message that replaces its subject\'s oldest (a KV update)', async () => {
    await h.createStream({ name: 'KV', subjects: ['kv.*'], discard: 'new', max_msgs: 2, max_msgs_per_subject: 1 });
    await h.publish('kv.a', '1');
    await h.publish('kv.b', '1');
    expect(await h.publish('kv.a', '2')).toEqual({ stream: 'KV', seq: 3 });
    const fresh = await h.publish('kv.c', '1');
    expect(fresh['error']).toEqual({ code: 503, err_code: 10077, description: 'maximum messages exceeded' });
    expect(state(await h.api('STREAM.INFO.KV'))['messages']).toBe(2);
  });

  it('discard old keeps the newest within max_msgs and max_msgs_per_subject', async () => {
    await h.createStream({ name: 'S', subjects: ['s.*'], max_msgs: 3, max_msgs_per_subject: 2 });
    for (const s of ['s.a', 's.a', 's.a', 's.b', 's.b']) await h.publish(s, 'x');
    const info = await h.api('STREAM.INFO.S', { subjects_filter: '>' });
    expect(state(info)).toMatchObject({ messages: 3, first_seq: 3, last_seq: 5, subjects: { 's.a': 1, 's.b': 2 } });
  });

  it('does not answer no_ack streams and sealed streams refuse', async () => {
    await h.createStream({ name: 'N', no_ack: true });
    expect(await h.request('N', 'x', null, 50)).toBeNull();
    const info = await h.api('STREAM.INFO.N');
    expect(state(info)['messages']).toBe(1);

    await h.createStream({ name: 'Z' });
    await h.publish('Z', 'x');
    const upd = await h.api('STREAM.UPDATE.Z', { name: 'Z', sealed: true });
    expect(config(upd)).toMatchObject({ sealed: true, deny_delete: true, deny_purge: true, discard: 'new' });
    const refused = await h.publish('Z', 'y');
    expect(refused['error']).toEqual({ code: 400, err_code: 10109, description: 'invalid operation on sealed stream' });
    const purge = await h.api('STREAM.PURGE.Z');
    expect(purge['error']).toEqual({ code: 400, err_code: 10109, description: 'invalid operation on sealed stream' });
  });
});

describe('STREAM.INFO / NAMES / LIST / DELETE', () => {
  it('lists streams sorted, filters by subject, deletes', async () => {
    await h.createStream({ name: 'B', subjects: ['b.>'] });
    await h.createStream({ name: 'A', subjects: ['a.>'], storage: 'memory' });
    const names = await h.api('STREAM.NAMES');
    expect(names).toMatchObject({ type: 'io.nats.jetstream.api.v1.stream_names_response', total: 2, offset: 0, limit: 1024, streams: ['A', 'B'] });
    const filtered = await h.api('STREAM.NAMES', { subject: 'b.x' });
    expect(filtered['streams']).toEqual(['B']);
    const list = await h.api('STREAM.LIST');
    expect(list['total']).toBe(2);
    expect((list['streams'] as Obj[]).map((s) => config(s)['name'])).toEqual(['A', 'B']);

    const notEmpty = await h.api('STREAM.DELETE.A', { x: 1 });
    expect(notEmpty['error']).toEqual({ code: 400, err_code: 10038, description: 'expected an empty request payload' });
    const del = await h.api('STREAM.DELETE.A');
    expect(del).toEqual({ type: 'io.nats.jetstream.api.v1.stream_delete_response', success: true });
    const gone = await h.api('STREAM.INFO.A');
    expect(gone['error']).toEqual({ code: 404, err_code: 10059, description: 'stream not found' });
    expect(errCode(await h.api('STREAM.DELETE.A'))).toBe(10059);
    // The subjects are free again.
    expect((await h.createStream({ name: 'C', subjects: ['a.>'] }))['error']).toBeUndefined();
  });

  it('reports subjects with subjects_filter and deleted details', async () => {
    await h.createStream({ name: 'S', subjects: ['s.*'] });
    for (const s of ['s.a', 's.b', 's.a', 's.c']) await h.publish(s, 'x');
    await h.api('STREAM.MSG.DELETE.S', { seq: 2 });
    const info = await h.api('STREAM.INFO.S', { subjects_filter: 's.a', deleted_details: true });
    expect(info).toMatchObject({ total: 1, offset: 0, limit: 100000 });
    expect(state(info)).toMatchObject({ messages: 3, num_deleted: 1, deleted: [2], subjects: { 's.a': 2 } });
    const plain = await h.api('STREAM.INFO.S');
    expect(state(plain)['subjects']).toBeUndefined();
    expect(state(plain)['deleted']).toBeUndefined();
  });
});

describe('STREAM.UPDATE', () => {
  it('updates limits, refuses forbidden changes', async () => {
    await h.createStream({ name: 'S', subjects: ['s.*'] });
    for (let i = 0; i < 5; i++) await h.publish('s.a', String(i));
    const r = await h.api('STREAM.UPDATE.S', { name: 'S', subjects: ['s.*', 't.*'], max_msgs: 2 });
    expect(r['type']).toBe('io.nats.jetstream.api.v1.stream_update_response');
    expect(state(r)['messages']).toBe(2);
    expect(await h.publish('t.x', 'y')).toEqual({ stream: 'S', seq: 6 });

    expect((await h.api('STREAM.UPDATE.S', { name: 'S', storage: 'memory' }))['error']).toEqual({
      code: 500,
      err_code: 10052,
      description: 'stream configuration update can not change storage type',
    });
    expect(errCode(await h.api('STREAM.UPDATE.S', { name: 'T' }))).toBe(10056);
    expect(errCode(await h.api('STREAM.UPDATE.NOPE', { name: 'NOPE' }))).toBe(10059);
    expect(errCode(await h.api('STREAM.UPDATE.S', { name: 'S', num_replicas: 3 }))).toBe(10074);
    await h.createStream({ name: 'O', subjects: ['o.*'] });
    expect(errCode(await h.api('STREAM.UPDATE.S', { name: 'S', subjects: ['o.x'] }))).toBe(10065);
    expect((await h.api('STREAM.UPDATE.S', { name: 'S', retention: 'workqueue' }))['error']).toMatchObject({
      description: 'stream configuration update can not change retention policy to/from workqueue',
    });
  });
});

describe('STREAM.PURGE', () => {
  async function fill(): Promise<void> {
    await h.createStream({ name: 'S', subjects: ['s.*'] });
    for (const s of ['s.a', 's.b', 's.a', 's.b', 's.a', 's.c']) await h.publish(s, 'x');
  }

  it('purges everything', async () => {
    await fill();
    expect(await h.api('STREAM.PURGE.S')).toEqual({ type: 'io.nats.jetstream.api.v1.stream_purge_response', success: true, purged: 6 });
    const info = await h.api('STREAM.INFO.S');
    expect(state(info)).toMatchObject({ messages: 0, first_seq: 7, last_seq: 6 });
  });

  it('purges by filter, by sequence and with keep', async () => {
    await fill();
    expect((await h.api('STREAM.PURGE.S', { filter: 's.a', keep: 1 }))['purged']).toBe(2);
    expect((await h.api('STREAM.PURGE.S', { seq: 4 }))['purged']).toBe(1);
    const info = await h.api('STREAM.INFO.S', { subjects_filter: '>' });
    expect(state(info)).toMatchObject({ messages: 3, first_seq: 4, subjects: { 's.a': 1, 's.b': 1, 's.c': 1 } });
    expect((await h.api('STREAM.PURGE.S', { keep: 1 }))['purged']).toBe(2);
  });

  it('refuses seq with keep, deny_purge, unknown streams', async () => {
    await fill();
    expect((await h.api('STREAM.PURGE.S', { seq: 2, keep: 1 }))['error']).toEqual({ code: 400, err_code: 10003, description: 'bad request' });
    await h.createStream({ name: 'D', deny_purge: true });
    expect((await h.api('STREAM.PURGE.D'))['error']).toEqual({ code: 500, err_code: 10110, description: 'stream purge not permitted' });
    expect(errCode(await h.api('STREAM.PURGE.NOPE'))).toBe(10059);
  });
});

describe('STREAM.MSG.GET / MSG.DELETE', () => {
  beforeEach(async () => {
    await h.createStream({ name: 'S', subjects: ['s.*'] });
    await h.publish('s.a', 'one', { 'X-Test': 'yes' });
    await h.publish('s.b', 'two');
    await h.publish('s.a', 'three');
  });

  it('gets by sequence, last_by_subj and next_by_subj', async () => {
    const bySeq = await h.api('STREAM.MSG.GET.S', { seq: 1 });
    expect(bySeq['type']).toBe('io.nats.jetstream.api.v1.stream_msg_get_response');
    const m = bySeq['message'] as Obj;
    expect(m).toMatchObject({ subject: 's.a', seq: 1, data: Buffer.from('one').toString('base64') });
    expect(Buffer.from(m['hdrs'] as string, 'base64').toString()).toContain('X-Test: yes');
    expect(m['time']).toBe('2026-01-02T03:04:05Z');

    const last = (await h.api('STREAM.MSG.GET.S', { last_by_subj: 's.a' }))['message'] as Obj;
    expect(last['seq']).toBe(3);
    const next = (await h.api('STREAM.MSG.GET.S', { next_by_subj: 's.b', seq: 1 }))['message'] as Obj;
    expect(next['seq']).toBe(2);
    const wild = (await h.api('STREAM.MSG.GET.S', { last_by_subj: 's.*' }))['message'] as Obj;
    expect(wild['seq']).toBe(3);
  });

  it('answers missing messages and bad requests', async () => {
    expect((await h.api('STREAM.MSG.GET.S', { seq: 99 }))['error']).toEqual({ code: 404, err_code: 10037, description: 'no message found' });
    expect(errCode(await h.api('STREAM.MSG.GET.S', { last_by_subj: 's.zzz' }))).toBe(10037);
    expect(errCode(await h.api('STREAM.MSG.GET.S'))).toBe(10003);
    expect(errCode(await h.api('STREAM.MSG.GET.S', { seq: 1, last_by_subj: 's.a' }))).toBe(10003);
    expect(errCode(await h.api('STREAM.MSG.GET.S', { seq: 'one' }))).toBe(10025);
    expect(errCode(await h.api('STREAM.MSG.GET.NOPE', { seq: 1 }))).toBe(10059);
  });

  it('deletes messages (erase and no_erase), respects deny_delete', async () => {
    expect(await h.api('STREAM.MSG.DELETE.S', { seq: 2 })).toEqual({ type: 'io.nats.jetstream.api.v1.stream_msg_delete_response', success: true });
    expect(await h.api('STREAM.MSG.DELETE.S', { seq: 1, no_erase: true })).toMatchObject({ success: true });
    expect((await h.api('STREAM.MSG.DELETE.S', { seq: 2 }))['error']).toEqual({ code: 400, err_code: 10043, description: 'sequence 2 not found' });
    expect(errCode(await h.api('STREAM.MSG.GET.S', { seq: 2 }))).toBe(10037);
    expect(errCode(await h.api('STREAM.MSG.DELETE.S'))).toBe(10003);

    await h.createStream({ name: 'D', deny_delete: true });
    await h.publish('D', 'x');
    expect((await h.api('STREAM.MSG.DELETE.D', { seq: 1 }))['error']).toEqual({ code: 500, err_code: 10057, description: 'message delete not permitted' });
  });
});

describe('$JS.API.INFO', () => {
  it('reports usage, limits and api counters', async () => {
    await h.createStream({ name: 'F', max_bytes: 1000 });
    await h.createStream({ name: 'M', storage: 'memory' });
    await h.publish('F', 'hello');
    await h.publish('M', 'hi');
    await h.api('STREAM.INFO.NOPE');
    const r = await h.api('INFO');
    expect(r['type']).toBe('io.nats.jetstream.api.v1.account_info_response');
    expect(r).toMatchObject({ streams: 2, consumers: 0, reserved_storage: 1000, reserved_memory: 0 });
    expect(r['storage']).toBeGreaterThan(5);
    expect(r['memory']).toBeGreaterThan(2);
    expect(r['limits']).toMatchObject({ max_memory: -1, max_storage: -1, max_streams: -1, max_consumers: -1 });
    expect(r['api']).toEqual({ total: 4, errors: 1 });
  });

  it('refuses publishes once the server storage limit is used up', async () => {
    await h.js.stop();
    await h.start({ maxStore: 200 });
    await h.createStream({ name: 'S' });
    expect(await h.publish('S', 'x'.repeat(150))).toEqual({ stream: 'S', seq: 1 });
    expect(await h.publish('S', 'x'.repeat(150))).toEqual({ stream: 'S', seq: 2 });
    h.sched.advance(100);
    const r = await h.publish('S', 'x');
    expect(r['error']).toEqual({ code: 503, err_code: 10023, description: 'insufficient resources' });
  });

  it('refuses a stream whose max_bytes does not fit the server limits', async () => {
    await h.js.stop();
    await h.start({ maxStore: 1000 });
    expect((await h.createStream({ name: 'BIG', max_bytes: 2000 }))['error']).toEqual({
      code: 500,
      err_code: 10047,
      description: 'insufficient storage resources available',
    });
  });
});

describe('operations a single server does not offer', () => {
  it('answers leader step-downs with "clustering required"', async () => {
    await h.createStream({ name: 'S' });
    const r = await h.api('STREAM.LEADER.STEPDOWN.S');
    expect(r).toEqual({
      type: 'io.nats.jetstream.api.v1.stream_leader_stepdown_response',
      error: { code: 503, err_code: 10010, description: 'JetStream clustering support required' },
    });
    expect(errCode(await h.api('META.LEADER.STEPDOWN'))).toBe(10010);
    expect(errCode(await h.api('CONSUMER.LEADER.STEPDOWN.S.c'))).toBe(10010);
    expect(errCode(await h.api('STREAM.SNAPSHOT.S', { deliver_subject: 'x' }))).toBe(10064);
  });

  it('ignores unknown API subjects, as nats-server does', async () => {
    expect(await h.request('$JS.API.STREAM.FROB.S', '', null, 50)).toBeNull();
  });
});
