import { describe, expect, it } from 'vitest';
import { checkStreamConfig, decodeStreamConfig, streamConfigFromJson, streamConfigJson, type StreamConfig } from '../../../src/jetstream/stream_config.ts';
import { SubjectTransform } from '../../../src/jetstream/subject_transform.ts';
import { rfc3339Nano, parseRfc3339 } from '../../../src/jetstream/json_time.ts';
import { isApiError } from '../../../src/jetstream/errors.ts';

const none = { lookup: () => undefined };

function checked(json: object): StreamConfig {
  const d = decodeStreamConfig(Buffer.from(JSON.stringify(json)));
  if (isApiError(d)) throw new Error(d.description);
  const c = checkStreamConfig(d.cfg, none);
  if (isApiError(c)) throw new Error(c.description);
  return c;
}

describe('stream config', () => {
  it('round-trips through its JSON (the meta file)', () => {
    const cfg = checked({
      name: 'S',
      subjects: ['a.>'],
      max_age: 5e9,
      republish: { dest: 'b.>', src: 'a.>', headers_only: true },
      sources: [{ name: 'X', filter_subject: 'x.*', opt_start_seq: 4 }],
      metadata: { owner: 'me' },
      compression: 's2',
    });
    // nats-server gives streams with sources no default duplicate window.
    expect(cfg.duplicate_window).toBe(0);
    expect(checked({ name: 'T', max_age: 5e9 }).duplicate_window).toBe(5e9); // max_age when shorter than 2m
    const back = streamConfigFromJson(streamConfigJson(cfg));
    expect(back).toEqual(cfg);
  });

  it('treats 0 and values below -1 as unlimited', () => {
    const cfg = checked({ name: 'S', max_msgs: -7, max_bytes: 0, max_msg_size: -2 });
    expect([cfg.max_msgs, cfg.max_bytes, cfg.max_msg_size, cfg.max_consumers]).toEqual([-1, -1, -1, -1]);
  });

  it('rejects wrong JSON types as invalid JSON', () => {
    for (const bad of [{ name: 5 }, { name: 'S', subjects: 'a' }, { name: 'S', max_msg_size: 2 ** 40 }, { name: 'S', sealed: 'yes' }, [1]]) {
      const d = decodeStreamConfig(Buffer.from(JSON.stringify(bad)));
      expect(isApiError(d) && d.err_code, JSON.stringify(bad)).toBe(10025);
    }
  });

  it('mirror checks', () => {
    const d = decodeStreamConfig(Buffer.from(JSON.stringify({ name: 'M', mirror: { name: 'O' }, first_seq: 3 })));
    if (isApiError(d)) throw new Error('decode');
    expect(checkStreamConfig(d.cfg, none)).toMatchObject({ err_code: 10143 });
    const cyc = decodeStreamConfig(Buffer.from(JSON.stringify({ name: 'A', sources: [{ name: 'B' }] })));
    if (isApiError(cyc)) throw new Error('decode');
    const b = checked({ name: 'B', sources: [{ name: 'A' }] });
    expect(checkStreamConfig(cyc.cfg, { lookup: (n) => (n === 'B' ? b : undefined) })).toMatchObject({ err_code: 10052, description: 'detected cycle' });
  });
});

describe('subject transform', () => {
  it('maps wildcards by position and by index', () => {
    expect(SubjectTransform.create('a.*.>', 'b.*.>')!.apply('a.x.y.z')).toBe('b.x.y.z');
    expect(SubjectTransform.create('a.*.*', 'b.{{wildcard(2)}}.$1')!.apply('a.x.y')).toBe('b.y.x');
    expect(SubjectTransform.create('>', 'out.>')!.apply('q.r')).toBe('out.q.r');
    expect(SubjectTransform.create('a.*', 'fixed')!.apply('a.x')).toBe('fixed');
    expect(SubjectTransform.create('a.*', 'b.*')!.apply('c.x')).toBeNull();
    expect(SubjectTransform.create('a.*', 'b.$2')).toBeNull();
    expect(SubjectTransform.create('a.*', 'b.>')).toBeNull();
  });
});

describe('json time', () => {
  it('formats like Go RFC3339Nano and parses back', () => {
    expect(rfc3339Nano(0n)).toBe('0001-01-01T00:00:00Z');
    expect(rfc3339Nano(1_700_000_000_123_450_000n)).toBe('2023-11-14T22:13:20.12345Z');
    expect(rfc3339Nano(1_700_000_000_000_000_000n)).toBe('2023-11-14T22:13:20Z');
    expect(parseRfc3339('2023-11-14T22:13:20.12345Z')).toBe(1_700_000_000_123_450_000n);
    expect(parseRfc3339('2023-11-14T23:13:20+01:00')).toBe(1_700_000_000_000_000_000n);
    expect(parseRfc3339('yesterday')).toBeNull();
  });

  it('formats each time by its own second when consecutive times change second (the formatter keeps the last one)', () => {
    const times = [1_700_000_000_5n, 1_700_000_000_9n, 1_700_000_001_0n, 1_700_000_000_1n, 0n, -1n, 5n].map((t) => t * 100_000_000n);
    expect(times.map(rfc3339Nano)).toEqual([
      '2023-11-14T22:13:20.5Z',
      '2023-11-14T22:13:20.9Z',
      '2023-11-14T22:13:21Z',
      '2023-11-14T22:13:20.1Z',
      '0001-01-01T00:00:00Z',
      '1969-12-31T23:59:59.9Z',
      '1970-01-01T00:00:00.5Z',
    ]);
  });
});
