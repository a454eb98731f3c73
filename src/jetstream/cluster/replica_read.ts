// The node-local read of a stream (monitoring `/replicaz`): one node's own copy, read from its
// store with no Raft round and no leader involved, so a checker can compare the replicas of a
// stream message by message after a fault run (the chaos suite does). Works on a single server
// too (its streams are their only copy).

import type { JetStream } from '../jetstream.ts';
import type { JetStreamCluster } from './cluster.ts';
import { rfc3339Nano } from '../json_time.ts';

/** Messages in one answer at most (page with `seq`). */
export const REPLICA_READ_MAX = 10_000;
const REPLICA_READ_DEFAULT = 1_000;

export function serveReplica(engines: readonly JetStream[], cluster: JetStreamCluster | null, q: Record<string, string>): Record<string, unknown> {
  const account = q['account'] || engines[0]?.account || '$G';
  const engine = engines.find((e) => e.account === account);
  const name = q['stream'] ?? '';
  const stream = engine?.stream(name);
  if (engine === undefined || stream === undefined) return { account, stream: name, error: 'no replica of this stream on this node' };
  const from = Math.max(1, Number(q['seq'] ?? 1) || 1);
  const limit = Math.min(REPLICA_READ_MAX, Math.max(1, Number(q['limit'] ?? REPLICA_READ_DEFAULT) || REPLICA_READ_DEFAULT));
  const messages: Record<string, unknown>[] = [];
  let next = 0;
  for (let m = stream.store.loadNext('>', from); m !== null; m = stream.store.loadNext('>', m.seq + 1)) {
    if (messages.length >= limit) {
      next = m.seq;
      break;
    }
    const o: Record<string, unknown> = { seq: m.seq, subject: m.subject };
    if (m.hdr !== null && m.hdr.length > 0) o['hdrs'] = Buffer.from(m.hdr).toString('base64');
    o['data'] = Buffer.from(m.data).toString('base64');
    o['time'] = rfc3339Nano(m.time);
    messages.push(o);
  }
  const replica = cluster?.replicaOf(account, name);
  const out: Record<string, unknown> = {
    account,
    stream: name,
    leader: replica ? replica.group.isLeader : true,
    current: replica ? replica.group.current : true,
    state: stream.stateJson(),
    messages,
  };
  if (replica) out['raft'] = { applied: replica.group.status().applied, commit: replica.group.status().commit };
  if (next > 0) out['next_seq'] = next;
  return out;
}
