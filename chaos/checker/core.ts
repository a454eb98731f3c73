// The `core` checker: subscribers of one queue group, spread over the nodes, receive what
// publishers send while links flap. Core NATS is at-most-once, so a message may be lost, but the
// group must never receive one twice, nor receive what nobody published.
//
// History: `publish` invoke/ok/fail/info with the value; each delivery a `deliver` ok event from
// the subscriber's process, with the value (and `node`).
// Pass: no value delivered twice to the group, none unexpected.

import { countOutcomes, events, pairOps, sample, writeOutcomes } from './history.ts';
import type { Op, OutcomeCounts, Value } from './history.ts';

export interface CoreResult extends OutcomeCounts {
  checker: 'core';
  valid: boolean;
  delivered: number;
  /** Published and acknowledged by the client library, never delivered (allowed: at-most-once). */
  undelivered: number;
  duplicated: number;
  unexpected: number;
  samples: {
    duplicated: { value: Value; deliveries: { process: number | string; node?: string; index: number }[] }[];
    unexpected: Value[];
  };
}

export function checkCore(history: readonly Op[]): CoreResult {
  const fate = writeOutcomes(pairOps(history, ['publish']), 'publish', (v) => v as Value);
  const deliveries = new Map<Value, { process: number | string; node?: string; index: number }[]>();
  for (const { op, index } of events(history, 'deliver')) {
    const v = op.value as Value;
    const list = deliveries.get(v) ?? [];
    list.push({ process: op.process, node: op.node, index });
    deliveries.set(v, list);
  }
  const duplicated = [...deliveries].filter(([, d]) => d.length > 1).map(([value, d]) => ({ value, deliveries: d }));
  const unexpected = [...deliveries.keys()].filter((v) => !fate.has(v));
  const undelivered = [...fate].filter(([v, o]) => o === 'ok' && !deliveries.has(v)).length;
  return {
    checker: 'core',
    valid: duplicated.length === 0 && unexpected.length === 0,
    ...countOutcomes(fate),
    delivered: deliveries.size,
    undelivered,
    duplicated: duplicated.length,
    unexpected: unexpected.length,
    samples: { duplicated: sample(duplicated), unexpected: sample(unexpected) },
  };
}
