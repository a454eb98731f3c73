// The `queue` checker: clients publish unique values to a replicated stream (retrying with the same
// Nats-Msg-Id), and at the end every node's copy of the stream is read back on its own.
//
// Per value: acked (some try was ok), failed (every try failed), unknown (otherwise). Then, as
// Jepsen's total-queue checker, over the union of the copies:
//   lost        acked, and in no copy
//   unexpected  in a copy, never attempted
//   recovered   not acked (unknown or failed), yet in a copy
//   duplicated  more than once in one copy (the Msg-Id dedupe failed)
// and, between copies: divergent values (a value some copies hold and others do not, or hold a
// different number of times) and reordered copies (same values, different order than the first).
// Pass: nothing lost, unexpected, duplicated or divergent.
//
// History: `publish` invoke/ok/fail/info with the value; one `read` ok per node with `node` set and
// the copy's values in stream order as its value (the last read of a node counts). A node whose
// read never succeeded is an error: a replica that cannot be read back after healing cannot be
// shown to hold what was acknowledged.

import { countOutcomes, pairOps, sample, writeOutcomes } from './history.ts';
import type { Op, OutcomeCounts, Value } from './history.ts';

export interface QueueResult extends OutcomeCounts {
  checker: 'queue';
  valid: boolean;
  nodes: string[];
  lost: number;
  unexpected: number;
  recovered: number;
  /** Of the recovered: those whose every try had failed (a definite failure that took effect). */
  failedPresent: number;
  duplicated: number;
  divergent: number;
  reordered: number;
  samples: {
    lost: Value[];
    unexpected: Value[];
    recovered: Value[];
    duplicated: { value: Value; node: string; count: number }[];
    divergent: { value: Value; counts: Record<string, number> }[];
    reordered: { node: string; index: number; expected: Value; found: Value }[];
  };
  errors: string[];
}

export function checkQueue(history: readonly Op[]): QueueResult {
  const pairs = pairOps(history);
  const fate = writeOutcomes(pairs, 'publish', (v) => v as Value);
  const copies = new Map<string, Value[]>();
  const unread = new Map<string, string>();
  for (const p of pairs) {
    if (p.invoke.f !== 'read') continue;
    const node = p.completion?.node ?? p.invoke.node ?? String(p.invoke.process);
    if (p.completion?.type === 'ok') copies.set(node, p.completion.value as Value[]);
    else unread.set(node, p.completion?.error ?? 'no answer');
  }
  const errors: string[] = [];
  if (copies.size === 0) errors.push('no node was read back');
  for (const [node, why] of unread) if (!copies.has(node)) errors.push(`${node} could not be read back: ${why}`);

  const nodes = [...copies.keys()].sort();
  const counts = new Map<Value, Map<string, number>>();
  const duplicated: QueueResult['samples']['duplicated'] = [];
  for (const node of nodes) {
    const perNode = new Map<Value, number>();
    for (const v of copies.get(node)!) perNode.set(v, (perNode.get(v) ?? 0) + 1);
    for (const [v, n] of perNode) {
      if (!counts.has(v)) counts.set(v, new Map());
      counts.get(v)!.set(node, n);
      if (n > 1) duplicated.push({ value: v, node, count: n });
    }
  }

  const lost: Value[] = [];
  const recovered: Value[] = [];
  let failedPresent = 0;
  for (const [v, o] of fate) {
    const present = counts.has(v);
    if (o === 'ok' && !present) lost.push(v);
    if (o !== 'ok' && present) {
      recovered.push(v);
      if (o === 'fail') failedPresent++;
    }
  }
  const unexpected = [...counts.keys()].filter((v) => !fate.has(v));

  const divergent: QueueResult['samples']['divergent'] = [];
  for (const [v, perNode] of counts) {
    const ns = nodes.map((n) => perNode.get(n) ?? 0);
    if (ns.some((n) => n !== ns[0])) divergent.push({ value: v, counts: Object.fromEntries(nodes.map((n, i) => [n, ns[i]!])) });
  }

  // Order: compare each copy with the first, over the values every copy holds once.
  const common = (v: Value): boolean => nodes.every((n) => counts.get(v)?.get(n) === 1);
  const reordered: QueueResult['samples']['reordered'] = [];
  const reference = nodes.length > 0 ? copies.get(nodes[0]!)!.filter(common) : [];
  for (const node of nodes.slice(1)) {
    const seq = copies.get(node)!.filter(common);
    const i = seq.findIndex((v, k) => v !== reference[k]);
    if (i >= 0) reordered.push({ node, index: i, expected: reference[i]!, found: seq[i]! });
  }

  return {
    checker: 'queue',
    valid:
      errors.length === 0 &&
      lost.length === 0 &&
      unexpected.length === 0 &&
      duplicated.length === 0 &&
      divergent.length === 0 &&
      reordered.length === 0,
    ...countOutcomes(fate),
    nodes,
    lost: lost.length,
    unexpected: unexpected.length,
    recovered: recovered.length,
    failedPresent,
    duplicated: duplicated.length,
    divergent: divergent.length,
    reordered: reordered.length,
    samples: {
      lost: sample(lost),
      unexpected: sample(unexpected),
      recovered: sample(recovered),
      duplicated: sample(duplicated),
      divergent: sample(divergent),
      reordered: sample(reordered),
    },
    errors,
  };
}
