// The `kv` checker: each key of a NATS KV bucket must behave as a linearizable register with
// get, put and compare-and-set by revision (`kv.update(key, value, revision)`; `create` is a CAS
// against revision 0). Keys are checked independently (linearizability is compositional).
//
// Revisions are the bucket stream's sequence numbers, shared by all keys: a key's next revision is
// not known in advance, only that it is higher. So the register's state is its value and either its
// exact revision, or — after a write whose reply was lost — a lower bound. Every acknowledged write
// must also carry a revision no other acknowledged write has.
//
// History (per op, `value.key` names the key):
//   get  invoke {key}                        ok {key, value: V | null, revision}   (null: no such key)
//   put  invoke {key, value}                 ok {key, value, revision}
//   cas  invoke {key, value, expected}       ok {key, value, expected, revision}
// `fail` means the operation did not happen and is dropped (a CAS refused for a wrong revision is
// such a fail); `info` or no completion means it may or may not have happened.

import { checkLinearizable } from './linearizability.ts';
import type { Model, Operation, SearchResult } from './linearizability.ts';
import { combineValidity, outcomeOf, pairOps } from './history.ts';
import type { Op, Validity, Value } from './history.ts';

export interface KvInput {
  f: 'get' | 'put' | 'cas';
  value?: Value;
  expected?: number;
}

export interface KvOutput {
  value?: Value | null;
  revision: number;
}

export interface RegisterState {
  value: Value | null;
  revision: number;
  /** false: the revision is unknown but higher than `revision`. */
  exact: boolean;
}

/** True when the register's current revision can be `r`. */
function revisionCanBe(s: RegisterState, r: number): boolean {
  return s.exact ? s.revision === r : r > s.revision;
}

export const registerModel: Model<RegisterState, KvInput, KvOutput> = {
  init: () => [{ value: null, revision: 0, exact: true }],
  key: (s) => `${s.exact ? '=' : '>'}${s.revision}:${typeof s.value}:${String(s.value)}`,
  step(s, input, output) {
    switch (input.f) {
      case 'get': {
        if (!output) return [s];
        const v = output.value ?? null;
        if (v !== s.value) return [];
        if (v === null) return [s];
        return revisionCanBe(s, output.revision) ? [{ value: v, revision: output.revision, exact: true }] : [];
      }
      case 'put': {
        const value = input.value ?? null;
        if (!output) return [s, { value, revision: s.revision, exact: false }];
        return output.revision > s.revision ? [{ value, revision: output.revision, exact: true }] : [];
      }
      case 'cas': {
        const expected = input.expected ?? 0;
        const value = input.value ?? null;
        const matches = revisionCanBe(s, expected) && (expected !== 0 || s.value === null);
        if (!output) return matches ? [s, { value, revision: expected, exact: false }] : [s];
        if (!matches || output.revision <= expected) return [];
        return [{ value, revision: output.revision, exact: true }];
      }
    }
  },
};

export interface KvKeyResult {
  key: string;
  valid: Validity;
  ops: number;
  steps: number;
  reason?: string;
  /** When not linearizable: the operation no order could place. */
  stuck?: { process: number | string; f: string; input: KvInput; output: KvOutput | null; invokeIndex: number };
}

export interface KvResult {
  checker: 'kv';
  valid: Validity;
  /** Operations by outcome, over all keys. */
  ok: number;
  failed: number;
  unknown: number;
  keys: KvKeyResult[];
  /** Revisions two acknowledged writes both claimed. */
  duplicateRevisions: number[];
}

export interface KvOptions {
  /** Search steps per key before answering "unknown". */
  maxStepsPerKey?: number;
  /** Time for the whole check before answering "unknown", in ms. */
  timeBudgetMs?: number;
}

interface KvOpValue {
  key: string;
  value?: Value | null;
  expected?: number;
  revision?: number;
}

export function checkKv(history: readonly Op[], opts: KvOptions = {}): KvResult {
  const maxSteps = opts.maxStepsPerKey ?? 2_000_000;
  const deadline = Date.now() + (opts.timeBudgetMs ?? 30_000);
  const pairs = pairOps(history).filter((p) => ['get', 'put', 'cas'].includes(p.invoke.f));
  const byKey = new Map<string, { ops: Operation<KvInput, KvOutput>[]; source: typeof pairs }>();
  const revisions = new Map<number, number>();
  let ok = 0;
  let failed = 0;
  let unknown = 0;

  for (const p of pairs) {
    const outcome = outcomeOf(p);
    if (outcome === 'ok') ok++;
    else if (outcome === 'fail') failed++;
    else unknown++;
    const inv = p.invoke.value as KvOpValue;
    const f = p.invoke.f as KvInput['f'];
    // Did not happen, or a read that returned nothing to check.
    if (outcome === 'fail' || (outcome === 'unknown' && f === 'get')) continue;
    const done = outcome === 'ok' ? (p.completion!.value as KvOpValue) : null;
    if (done && f !== 'get' && done.revision !== undefined) revisions.set(done.revision, (revisions.get(done.revision) ?? 0) + 1);
    const slot = byKey.get(inv.key) ?? { ops: [], source: [] };
    byKey.set(inv.key, slot);
    slot.ops.push({
      call: p.invokeIndex,
      ret: p.completionIndex,
      input: { f, value: inv.value ?? undefined, expected: inv.expected },
      output: done ? { value: done.value ?? null, revision: done.revision ?? 0 } : undefined,
    });
    slot.source.push(p);
  }

  const keys: KvKeyResult[] = [];
  for (const key of [...byKey.keys()].sort()) {
    const { ops, source } = byKey.get(key)!;
    const r: SearchResult = checkLinearizable(ops, registerModel, { maxSteps, deadline });
    const result: KvKeyResult = { key, valid: r.valid, ops: ops.length, steps: r.steps, reason: r.reason };
    if (r.valid === false && r.stuck !== undefined && r.stuck >= 0) {
      const p = source[r.stuck]!;
      result.stuck = {
        process: p.invoke.process,
        f: p.invoke.f,
        input: ops[r.stuck]!.input,
        output: ops[r.stuck]!.output ?? null,
        invokeIndex: p.invokeIndex,
      };
    }
    keys.push(result);
  }
  const duplicateRevisions = [...revisions].filter(([, n]) => n > 1).map(([r]) => r);
  return {
    checker: 'kv',
    valid: combineValidity([...keys.map((k) => k.valid), duplicateRevisions.length === 0]),
    ok,
    failed,
    unknown,
    keys,
    duplicateRevisions,
  };
}
