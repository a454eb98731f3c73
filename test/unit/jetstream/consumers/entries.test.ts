// The consumer's log entries: every kind survives encoding, unreadable ones are refused, and
// applying the same entries gives the same state whatever the clock says.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { applyDefaults, parseConsumerConfig, type ConsumerConfig } from '../../../../src/jetstream/consumers/config.ts';
import {
  CONSUMER_ENTRY_VERSION,
  ConsumerEntryError,
  decodeEntry,
  encodeEntry,
  EntryKind,
  type ConsumerEntry,
} from '../../../../src/jetstream/consumers/entries.ts';
import { isApiError } from '../../../../src/jetstream/consumers/errors.ts';
import { LocalReplicator } from '../../../../src/jetstream/consumers/replicator.ts';
import { ConsumerStateMachine } from '../../../../src/jetstream/consumers/state_machine.ts';

const T = 1_700_000_000_000;

function config(json: Record<string, unknown>): ConsumerConfig {
  const c = parseConsumerConfig(json);
  if (isApiError(c)) throw new Error(c.description);
  return applyDefaults(c, { retention: 'limits', subjects: ['>'], maxAckPendingLimit: 0, inactiveThresholdLimitNs: 0, maxConsumers: 0, replicas: 3 });
}

const CFG = { durable_name: 'D', ack_policy: 'explicit', ack_wait: 30_000_000_000, backoff: [1_000_000_000, 5_000_000_000] };

const ALL: ConsumerEntry[] = [
  {
    kind: EntryKind.State,
    sseq: 11,
    dseq: 7,
    deliveredStream: 10,
    ackFloorConsumer: 3,
    ackFloorStream: 4,
    pending: [5, 4, T, 9, 6, T + 1.5],
    redelivered: [5, 3],
    skipList: { seqs: [2, 8], index: 1, resume: 10 },
    lastDeliveredMs: T,
    lastAckMs: T - 5,
    config: { durable_name: 'D', ack_policy: 'explicit' },
    requests: ['_INBOX.a', '_INBOX.b'],
  },
  { kind: EntryKind.State, sseq: 0, dseq: 1, deliveredStream: 0, ackFloorConsumer: 0, ackFloorStream: 0, pending: [], redelivered: [], skipList: null, lastDeliveredMs: 0, lastAckMs: 0, config: null, requests: [] },
  { kind: EntryKind.Delivered, ts: T, items: [1, 1, 1, 2, 2, 1, 1, 3, 2] },
  { kind: EntryKind.Ack, ts: T, items: [1, 1, 2, 2] },
  { kind: EntryKind.Term, ts: T, items: [3, 4] },
  { kind: EntryKind.Nak, ts: T, sseq: 3, dseq: 4, delayNs: 2_500_000_000 },
  { kind: EntryKind.Progress, ts: T, sseq: 3 },
  { kind: EntryKind.MaxDeliveries, sseq: 3, deliveries: 5 },
  { kind: EntryKind.Gone, seqs: [3, 9] },
  { kind: EntryKind.Purged, firstSeq: 12 },
  { kind: EntryKind.Floor },
  { kind: EntryKind.Config, config: { durable_name: 'D', ack_policy: 'all', description: 'é' } },
  { kind: EntryKind.Requests, added: ['_INBOX.x'], removed: ['_INBOX.y'] },
];

describe('consumer entries', () => {
  it('every kind decodes to what was encoded', () => {
    for (const e of ALL) expect(decodeEntry(encodeEntry(e))).toEqual(e);
  });

  it('refuses an unknown version, an unknown kind, wrong shapes and garbage', () => {
    const packr = new Packr({ useRecords: false, moreTypes: false });
    const cases: [unknown, RegExp][] = [
      [[CONSUMER_ENTRY_VERSION + 1, EntryKind.Floor], /unsupported version 2/],
      [[CONSUMER_ENTRY_VERSION, 99], /unknown kind 99/],
      [[CONSUMER_ENTRY_VERSION, EntryKind.Delivered, T, [1, 2]], /3-tuples/],
      [[CONSUMER_ENTRY_VERSION, EntryKind.Ack, 'now', [1, 2]], /ts is not a number/],
      [[CONSUMER_ENTRY_VERSION, EntryKind.Config, [1]], /config is not an object/],
      [[CONSUMER_ENTRY_VERSION, EntryKind.Gone], /GONE has 2 fields/],
      [{ v: 1 }, /not a consumer entry/],
    ];
    for (const [value, why] of cases) expect(() => decodeEntry(packr.pack(value))).toThrow(why);
    expect(() => decodeEntry(new Uint8Array([0xc1]))).toThrow(ConsumerEntryError);
  });

  it('applying the same entries gives byte-identical states, and time comes only from the entries', () => {
    const run = (): Uint8Array => {
      const sm = new ConsumerStateMachine(config(CFG), { done: () => {}, changed: () => {} });
      const start = ALL[1]! as Extract<ConsumerEntry, { kind: 1 }>;
      sm.apply({ ...start, sseq: 1 });
      const log: ConsumerEntry[] = [
        { kind: EntryKind.Delivered, ts: T, items: [1, 1, 1, 2, 2, 1, 3, 3, 1, 4, 4, 1] },
        { kind: EntryKind.Ack, ts: T + 10, items: [1, 1] },
        { kind: EntryKind.Nak, ts: T + 20, sseq: 2, dseq: 2, delayNs: 0 },
        { kind: EntryKind.Delivered, ts: T + 30, items: [2, 5, 2] },
        { kind: EntryKind.Progress, ts: T + 40, sseq: 3 },
        { kind: EntryKind.Term, ts: T + 50, items: [4, 4] },
        { kind: EntryKind.Nak, ts: T + 60, sseq: 3, dseq: 3, delayNs: 500_000_000 },
      ];
      for (const e of log) sm.apply(decodeEntry(encodeEntry(e)));
      return encodeEntry(sm.toEntry(true));
    };
    const a = run();
    const b = run();
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const s = decodeEntry(a) as Extract<ConsumerEntry, { kind: 1 }>;
    expect(s).toMatchObject({ sseq: 5, dseq: 6, deliveredStream: 4, ackFloorConsumer: 1, ackFloorStream: 1, redelivered: [2, 2] });
    // 2 redelivered at T+30; 3 nak'd at T+60 with 0.5 s: due at T+560, i.e. "delivered" ack_wait(1 s backoff) before
    expect(s.pending).toEqual([2, 2, T + 30, 3, 3, T + 60 - 1_000 + 500]);
  });

  it('a redelivery or a max-deliveries decision that meets the ack first in the log changes nothing', () => {
    const done: number[] = [];
    const sm = new ConsumerStateMachine(config(CFG), { done: (s) => done.push(s), changed: () => {} });
    sm.load({ ...(ALL[1] as Extract<ConsumerEntry, { kind: 1 }>), sseq: 1 });
    sm.apply({ kind: EntryKind.Delivered, ts: T, items: [1, 1, 1, 2, 2, 1] });
    sm.apply({ kind: EntryKind.Ack, ts: T, items: [1, 1] });
    sm.apply({ kind: EntryKind.Delivered, ts: T, items: [1, 3, 2] });
    sm.apply({ kind: EntryKind.MaxDeliveries, sseq: 1, deliveries: 2 });
    expect([...sm.pending.keys()]).toEqual([2]);
    expect(sm.redelivered.size).toBe(0);
    expect(sm.dseq).toBe(4);
    expect(sm.isDone(1)).toBe(true);
    expect(done).toEqual([1]);
  });

  it('LocalReplicator applies at once and resolves once the state is durable', async () => {
    const applied: number[] = [];
    let flush: (() => void) | null = null;
    const local = new LocalReplicator();
    local.bind({
      consumer: { applyEntry: (d) => applied.push(decodeEntry(d).kind), snapshot: () => new Uint8Array(0), restore: () => {} },
      afterDurable: (fn) => (flush = fn),
    });
    expect(local.isLeader).toBe(true);
    let resolved = false;
    const p = local.propose(encodeEntry({ kind: EntryKind.Floor })).then(() => (resolved = true));
    expect(applied).toEqual([EntryKind.Floor]);
    await Promise.resolve();
    expect(resolved).toBe(false);
    flush!();
    await p;
    expect(resolved).toBe(true);
  });
});
