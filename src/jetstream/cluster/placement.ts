// Choosing the peers of a new stream or consumer group (nats-server selectPeerGroup): online
// JetStream nodes of the target cluster, not excluded (`!jetstream` tag), carrying every tag the
// placement asks for, at most one per value of the unique tag (`jetstream.unique_tag`), and
// never a peer the group once removed. Among those, the least loaded (fewest assets) first.
// The error text accumulates every reason a node was passed over, as nats-server's does.

import type { NodeId } from '../../raft/types.ts';
import { JS_ERR } from '../errors.ts';
import type { ApiError } from '../seams.ts';

/** nats-server's jsExcludePlacement tag. */
export const EXCLUDE_PLACEMENT_TAG = '!jetstream';

export interface Candidate {
  id: NodeId;
  name: string;
  cluster: string;
  tags: readonly string[];
  online: boolean;
  /** Streams and consumers already placed on it. */
  assets: number;
}

export interface PlacementRequest {
  replicas: number;
  cluster: string;
  tags: readonly string[];
  uniqueTag: string;
  /** Peers the group keeps (an update that changes the replica count). */
  existing: readonly NodeId[];
  /** Never chosen: peers the group removed before. */
  ignore: readonly NodeId[];
}

interface Reasons {
  offline: boolean;
  excludeTag: boolean;
  uniqueTag: boolean;
  noJsCluster: boolean;
  missingTags: Set<string>;
}

function placementError(r: Reasons): ApiError {
  let text = 'no suitable peers for placement';
  if (r.offline) text += ', peer offline';
  if (r.excludeTag) text += ', exclude tag set';
  if (r.uniqueTag) text += ', server tag not unique';
  if (r.noJsCluster) text += ', jetstream not enabled in cluster';
  if (r.missingTags.size > 0) text += `, tags not matched [${[...r.missingTags].map((t) => `'${t}'`).join(', ')}]`;
  return { ...JS_ERR.NO_SUITABLE_PEERS, description: text };
}

function hasTag(tags: readonly string[], t: string): boolean {
  const want = t.toLowerCase();
  return tags.some((x) => x.toLowerCase() === want);
}

/** Picks `replicas` peers (existing ones first), or explains why it cannot. */
export function selectPeers(all: readonly Candidate[], req: PlacementRequest, tieBreak: (id: NodeId) => number = () => Math.random()): NodeId[] | ApiError {
  if (req.existing.length >= req.replicas) return req.existing.slice(0, req.replicas);
  let uniquePrefix = req.uniqueTag;
  if (uniquePrefix !== '' && req.tags.some((t) => t.startsWith(uniquePrefix))) uniquePrefix = '';
  const usedUnique = new Set<string>();
  const uniqueValue = (c: Candidate): string | null => c.tags.find((t) => t.startsWith(uniquePrefix)) ?? null;
  const byId = new Map(all.map((c) => [c.id, c]));
  if (uniquePrefix !== '') {
    for (const id of req.existing) {
      const v = byId.get(id) ? uniqueValue(byId.get(id)!) : null;
      if (v !== null) usedUnique.add(v);
    }
  }
  const reasons: Reasons = { offline: false, excludeTag: false, uniqueTag: false, noJsCluster: all.length === 0, missingTags: new Set() };
  const pool: Candidate[] = [];
  for (const c of all) {
    if (c.cluster !== req.cluster) continue;
    if (req.existing.includes(c.id) || req.ignore.includes(c.id)) continue;
    if (!c.online) {
      reasons.offline = true;
      continue;
    }
    if (hasTag(c.tags, EXCLUDE_PLACEMENT_TAG)) {
      reasons.excludeTag = true;
      continue;
    }
    const missing = req.tags.find((t) => !hasTag(c.tags, t));
    if (missing !== undefined) {
      reasons.missingTags.add(missing);
      continue;
    }
    pool.push(c);
  }
  const ranked = pool.map((c) => ({ c, r: tieBreak(c.id) })).sort((a, b) => a.c.assets - b.c.assets || a.r - b.r);
  const chosen: NodeId[] = [...req.existing];
  for (const { c } of ranked) {
    if (chosen.length >= req.replicas) break;
    if (uniquePrefix !== '') {
      const v = uniqueValue(c);
      if (v === null || usedUnique.has(v)) {
        reasons.uniqueTag = true;
        continue;
      }
      usedUnique.add(v);
    }
    chosen.push(c.id);
  }
  if (chosen.length < req.replicas) return placementError(reasons);
  return chosen;
}
