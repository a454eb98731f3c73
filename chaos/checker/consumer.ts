// The `consumer` checker: workers fetch from a durable pull consumer on a work-queue stream and ack
// each message with a confirmed (double) ack.
//
//   redelivered after ack  a fetch invoked after a message's ack was confirmed returned it again.
//                          (A fetch already running when the ack was confirmed may legitimately carry
//                          a redelivery that was sent before the ack landed; a pull consumer sends
//                          nothing without a pull request, so a later fetch cannot.)
//   unprocessed            an acknowledged publish that no fetch ever returned
//   unexpected             a fetched message no one ever published
// Pass: none of the three. Also counted: redeliveries before an ack (allowed: at-least-once) and
// messages delivered but never confirmed acked.
//
// History: `publish` invoke/ok/fail/info with the value; `fetch` invoke, ok with the fetched values
// (in arrival order) as its value; `ack` invoke/ok/fail/info with the value.

import { countOutcomes, pairOps, sample, writeOutcomes } from './history.ts';
import type { Op, OutcomeCounts, Value } from './history.ts';

export interface ConsumerResult extends OutcomeCounts {
  checker: 'consumer';
  valid: boolean;
  delivered: number;
  deliveries: number;
  redeliveries: number;
  ackConfirmed: number;
  neverAcked: number;
  redeliveredAfterAck: number;
  unprocessed: number;
  unexpected: number;
  samples: {
    redeliveredAfterAck: { value: Value; ackedAt: number; fetchedAt: number; process: number | string }[];
    unprocessed: Value[];
    unexpected: Value[];
  };
}

export function checkConsumer(history: readonly Op[]): ConsumerResult {
  const pairs = pairOps(history);
  const fate = writeOutcomes(pairs, 'publish', (v) => v as Value);

  // First confirmed ack of each value: the history index of its `ok`.
  const ackedAt = new Map<Value, number>();
  for (const p of pairs) {
    if (p.invoke.f !== 'ack' || p.completion?.type !== 'ok') continue;
    const v = p.invoke.value as Value;
    ackedAt.set(v, Math.min(ackedAt.get(v) ?? Infinity, p.completionIndex));
  }

  const timesDelivered = new Map<Value, number>();
  const after: ConsumerResult['samples']['redeliveredAfterAck'] = [];
  let deliveries = 0;
  for (const p of pairs) {
    if (p.invoke.f !== 'fetch' || p.completion?.type !== 'ok') continue;
    for (const v of p.completion.value as Value[]) {
      deliveries++;
      timesDelivered.set(v, (timesDelivered.get(v) ?? 0) + 1);
      const acked = ackedAt.get(v);
      if (acked !== undefined && p.invokeIndex > acked) {
        after.push({ value: v, ackedAt: acked, fetchedAt: p.invokeIndex, process: p.invoke.process });
      }
    }
  }

  const unprocessed = [...fate].filter(([v, o]) => o === 'ok' && !timesDelivered.has(v)).map(([v]) => v);
  const unexpected = [...timesDelivered.keys()].filter((v) => !fate.has(v));
  let redeliveries = 0;
  for (const n of timesDelivered.values()) redeliveries += n - 1;
  const neverAcked = [...timesDelivered.keys()].filter((v) => !ackedAt.has(v)).length;

  return {
    checker: 'consumer',
    valid: after.length === 0 && unprocessed.length === 0 && unexpected.length === 0,
    ...countOutcomes(fate),
    delivered: timesDelivered.size,
    deliveries,
    redeliveries,
    ackConfirmed: ackedAt.size,
    neverAcked,
    redeliveredAfterAck: after.length,
    unprocessed: unprocessed.length,
    unexpected: unexpected.length,
    samples: { redeliveredAfterAck: sample(after), unprocessed: sample(unprocessed), unexpected: sample(unexpected) },
  };
}
