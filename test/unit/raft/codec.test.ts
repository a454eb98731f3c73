import { describe, expect, it } from 'vitest';
import {
  CODEC_VERSION,
  StructKind,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeHardState,
  encodeMessage,
  encodeRaw,
  encodeSnapshot,
} from '../../../src/raft/codec.ts';
import { RaftError, RaftErrorCode } from '../../../src/raft/errors.ts';
import { KvStateMachine, decodeKvCommand, encodeKvCommand } from '../../../src/raft/kv.ts';
import { MemoryTransport } from '../../../src/raft/transport.ts';
import { EntryType, MessageType, makeMessage, decodeConfChange, encodeConfChange, ConfChangeType } from '../../../src/raft/types.ts';

describe('raft codec', () => {
  it('round-trips messages with entries and snapshots', () => {
    const m = makeMessage({
      type: MessageType.App,
      from: 'a',
      to: 'b',
      term: 7,
      logTerm: 6,
      index: 41,
      commit: 40,
      context: 'ctx',
      entries: [{ term: 7, index: 42, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) }],
      snapshot: { meta: { index: 3, term: 2, conf: { voters: ['a', 'b'], removed: ['c'] } }, data: new Uint8Array([9]) },
    });
    const back = decodeMessage(encodeMessage(m));
    expect(back).toEqual({ ...m, entries: [{ ...m.entries[0], data: expect.any(Uint8Array) }], snapshot: expect.anything() });
    expect([...back.entries[0]!.data]).toEqual([1, 2, 3]);
    expect(back.snapshot!.meta).toEqual(m.snapshot!.meta);
    expect(decodeHardState(encodeHardState({ term: 3, vote: 'x', commit: 9 }))).toEqual({ term: 3, vote: 'x', commit: 9 });
    expect(decodeSnapshot(encodeSnapshot(m.snapshot!)).meta.index).toBe(3);
  });

  it('rejects an unknown version with a clear error', () => {
    const bytes = encodeRaw([CODEC_VERSION + 1, StructKind.Message, 3]);
    try {
      decodeMessage(bytes);
      expect.unreachable();
    } catch (e) {
      expect((e as RaftError).code).toBe(RaftErrorCode.UnknownVersion);
      expect((e as Error).message).toBe(`raft codec: unsupported version ${CODEC_VERSION + 1} (this node speaks version ${CODEC_VERSION})`);
    }
  });

  it('rejects garbage and wrong kinds as corrupt', () => {
    const kind = (fn: () => unknown): string => {
      try {
        fn();
        return 'ok';
      } catch (e) {
        return (e as RaftError).code;
      }
    };
    expect(kind(() => decodeMessage(new Uint8Array([0xc1])))).toBe(RaftErrorCode.Corrupt);
    expect(kind(() => decodeMessage(encodeHardState({ term: 1, vote: '', commit: 0 })))).toBe(RaftErrorCode.Corrupt);
    expect(kind(() => decodeMessage(encodeRaw([CODEC_VERSION, StructKind.Message, 999])))).toBe(RaftErrorCode.Corrupt);
  });

  it('conf changes round-trip', () => {
    expect(decodeConfChange(encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 'srv-ü' }))).toEqual({
      type: ConfChangeType.RemoveNode,
      nodeId: 'srv-ü',
    });
  });
});

describe('kv state machine', () => {
  it('applies puts and deletes, snapshots and restores with the same digest', () => {
    const kv = new KvStateMachine();
    const put = (i: number, key: string, value: string) =>
      kv.apply({ term: 1, index: i, type: EntryType.Normal, data: encodeKvCommand({ op: 'put', key, value, id: `${i}` }) });
    put(1, 'a', '1');
    put(2, 'b', '2');
    kv.apply({ term: 1, index: 3, type: EntryType.Normal, data: encodeKvCommand({ op: 'del', key: 'a', value: '', id: '3' }) });
    expect(kv.get('a')).toBeUndefined();
    const copy = new KvStateMachine();
    copy.restore({ meta: { index: 3, term: 1, conf: { voters: [], removed: [] } }, data: kv.snapshot() });
    expect(copy.get('b')).toBe('2');
    expect(copy.digest).toBe(kv.digest);
    expect(() => put(5, 'x', 'y')).toThrow(/applying 5 after 3/);
  });

  it('rejects unknown command versions', () => {
    expect(() => decodeKvCommand(encodeRaw([99, 0, 'k', 'v', 'id']))).toThrow(/unsupported command version 99/);
  });
});

describe('in-memory transport', () => {
  it('delivers encoded messages and honours partitions', () => {
    const t = new MemoryTransport();
    const got: string[] = [];
    t.listen('b', (m) => got.push(`${m.from}:${m.type}:${m.term}`));
    t.send(makeMessage({ type: MessageType.Heartbeat, from: 'a', to: 'b', term: 4 }));
    expect(t.deliverAll()).toBe(1);
    t.partition('a', 'b');
    t.send(makeMessage({ type: MessageType.Heartbeat, from: 'a', to: 'b', term: 5 }));
    expect(t.deliverAll()).toBe(0);
    t.heal();
    t.send(makeMessage({ type: MessageType.Heartbeat, from: 'a', to: 'b', term: 6 }));
    t.deliverAll();
    expect(got).toEqual([`a:${MessageType.Heartbeat}:4`, `a:${MessageType.Heartbeat}:6`]);
  });
});
