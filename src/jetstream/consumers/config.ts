// Consumer configuration: the JSON nats-server accepts (`ConsumerConfig`), parsed strictly the way
// Go's encoding/json would (a wrong type or an unknown policy is "invalid JSON"), defaulted and
// validated with nats-server's rules and error codes, and written back in its field order.

import { isValidSubject, subjectIsLiteral, subjectsCollide, isSubsetMatch } from '../../routing/subjects.ts';
import type { ApiError, Retention } from '../seams.ts';
import { ConsumerErrors } from './errors.ts';
import { formatGoDurationNs as formatGoDuration } from '../../config/units.ts';

export type DeliverPolicy = 'all' | 'last' | 'new' | 'by_start_sequence' | 'by_start_time' | 'last_per_subject';
export type AckPolicy = 'none' | 'all' | 'explicit';
export type ReplayPolicy = 'instant' | 'original';
export type ConsumerAction = '' | 'create' | 'update';

const NS_PER_MS = 1_000_000;
/** nats-server JsAckWaitDefault: 30 s. */
export const DEFAULT_ACK_WAIT_NS = 30_000 * NS_PER_MS;
/** nats-server JsDeleteWaitTimeDefault: ephemerals vanish 5 s after they lose interest. */
export const DEFAULT_INACTIVE_THRESHOLD_NS = 5_000 * NS_PER_MS;
/** nats-server JsDefaultMaxAckPending. */
export const DEFAULT_MAX_ACK_PENDING = 1000;
/** nats-server JSWaitQueueDefaultMax: outstanding pull requests per consumer. */
export const DEFAULT_MAX_WAITING = 512;
/** nats-server JSMaxNameLen. */
export const MAX_NAME_LENGTH = 255;
/** nats-server JSMaxDescriptionLen, bytes. */
export const MAX_DESCRIPTION_LENGTH = 4 * 1024;
/** nats-server JSMaxMetadataLen, bytes of keys + values. */
export const MAX_METADATA_LENGTH = 128 * 1024;
/** Push heartbeats below this would flood the client (nats-server's floor). */
const MIN_PUSH_HEARTBEAT_NS = 100 * NS_PER_MS;
const MIN_MAX_EXPIRES_NS = NS_PER_MS;

export interface ConsumerConfig {
  durable: string;
  name: string;
  description: string;
  deliverPolicy: DeliverPolicy;
  optStartSeq: number;
  /** RFC 3339 text as given, and its value in ns since the epoch. */
  optStartTime: { text: string; ns: bigint } | null;
  ackPolicy: AckPolicy;
  ackWaitNs: number;
  maxDeliver: number;
  backoffNs: number[];
  filterSubject: string;
  filterSubjects: string[];
  replayPolicy: ReplayPolicy;
  rateLimitBps: number;
  sampleFreq: string;
  maxWaiting: number;
  maxAckPending: number;
  idleHeartbeatNs: number;
  flowControl: boolean;
  headersOnly: boolean;
  maxBatch: number;
  maxExpiresNs: number;
  maxBytes: number;
  deliverSubject: string;
  deliverGroup: string;
  inactiveThresholdNs: number;
  numReplicas: number;
  memStorage: boolean;
  direct: boolean;
  metadata: Record<string, string> | null;
}

export function isPullMode(c: ConsumerConfig): boolean {
  return c.deliverSubject === '';
}

export function isDurable(c: ConsumerConfig): boolean {
  return c.durable !== '';
}

/** The filters in effect (single or multi), empty for the whole stream. */
export function filtersOf(c: ConsumerConfig): string[] {
  if (c.filterSubjects.length > 0) return c.filterSubjects;
  return c.filterSubject !== '' ? [c.filterSubject] : [];
}

class BadJson extends Error {}

function obj(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new BadJson('object expected');
  return v as Record<string, unknown>;
}
function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new BadJson('string expected');
  return v;
}
function int(v: unknown, unsigned = false): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new BadJson('integer expected');
  if (unsigned && v < 0) throw new BadJson('unsigned integer expected');
  return v;
}
function bool(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new BadJson('bool expected');
  return v;
}
function oneOf<T extends string>(v: unknown, allowed: readonly T[], dflt: T, aliases: Record<string, T> = {}): T {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') throw new BadJson('string expected');
  if ((allowed as readonly string[]).includes(v)) return v as T;
  const a = aliases[v];
  if (a !== undefined) return a;
  throw new BadJson(`can not unmarshal "${v}"`);
}

const DELIVER_POLICIES = ['all', 'last', 'new', 'by_start_sequence', 'by_start_time', 'last_per_subject'] as const;
const ACK_POLICIES = ['none', 'all', 'explicit'] as const;
const REPLAY_POLICIES = ['instant', 'original'] as const;

function parseTime(v: unknown): { text: string; ns: bigint } | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new BadJson('time expected');
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(v);
  if (!m) throw new BadJson('bad time');
  const ms = Date.parse(`${m[1]}${m[4]}`);
  if (Number.isNaN(ms)) throw new BadJson('bad time');
  const frac = (m[3] ?? '').padEnd(9, '0');
  return { text: v, ns: BigInt(ms) * 1_000_000n + BigInt(frac === '' ? 0 : Number(frac)) };
}

/** Parses a `config` object; throws ApiError-carrying errors for JSON nats-server would refuse to decode. */
export function parseConsumerConfig(raw: unknown): ConsumerConfig | ApiError {
  try {
    const o = obj(raw);
    const backoff = o['backoff'];
    if (backoff !== undefined && backoff !== null && !Array.isArray(backoff)) throw new BadJson('array expected');
    const fs = o['filter_subjects'];
    if (fs !== undefined && fs !== null && !Array.isArray(fs)) throw new BadJson('array expected');
    const md = o['metadata'];
    let metadata: Record<string, string> | null = null;
    if (md !== undefined && md !== null) {
      const m = obj(md);
      metadata = {};
      for (const [k, val] of Object.entries(m)) metadata[k] = str(val);
    }
    return {
      durable: str(o['durable_name']),
      name: str(o['name']),
      description: str(o['description']),
      deliverPolicy: oneOf(o['deliver_policy'], DELIVER_POLICIES, 'all', { undefined: 'all' }),
      optStartSeq: int(o['opt_start_seq'], true),
      optStartTime: parseTime(o['opt_start_time']),
      ackPolicy: oneOf(o['ack_policy'], ACK_POLICIES, 'none'),
      ackWaitNs: int(o['ack_wait']),
      maxDeliver: int(o['max_deliver']),
      backoffNs: ((backoff as unknown[] | null | undefined) ?? []).map((b) => int(b)),
      filterSubject: str(o['filter_subject']),
      filterSubjects: ((fs as unknown[] | null | undefined) ?? []).map((s) => str(s)),
      replayPolicy: oneOf(o['replay_policy'], REPLAY_POLICIES, 'instant'),
      rateLimitBps: int(o['rate_limit_bps'], true),
      sampleFreq: str(o['sample_freq']),
      maxWaiting: int(o['max_waiting']),
      maxAckPending: int(o['max_ack_pending']),
      idleHeartbeatNs: int(o['idle_heartbeat']),
      flowControl: bool(o['flow_control']),
      headersOnly: bool(o['headers_only']),
      maxBatch: int(o['max_batch']),
      maxExpiresNs: int(o['max_expires']),
      maxBytes: int(o['max_bytes']),
      deliverSubject: str(o['deliver_subject']),
      deliverGroup: str(o['deliver_group']),
      inactiveThresholdNs: int(o['inactive_threshold']),
      numReplicas: int(o['num_replicas']),
      memStorage: bool(o['mem_storage']),
      direct: bool(o['direct']),
      metadata,
    };
  } catch (e) {
    if (e instanceof BadJson) return ConsumerErrors.invalidJson();
    throw e;
  }
}

export interface StreamLimitsForConsumers {
  retention: Retention;
  subjects: readonly string[];
  /** Stream `consumer_limits` (0 = none). */
  maxAckPendingLimit: number;
  inactiveThresholdLimitNs: number;
  maxConsumers: number;
  replicas: number;
}

/** nats-server setConsumerConfigDefaults. Mutates and returns `c`. */
export function applyDefaults(c: ConsumerConfig, s: StreamLimitsForConsumers): ConsumerConfig {
  if (c.deliverSubject === '' && c.maxWaiting === 0) c.maxWaiting = DEFAULT_MAX_WAITING;
  if (c.ackWaitNs === 0 && (c.ackPolicy === 'explicit' || c.ackPolicy === 'all')) c.ackWaitNs = DEFAULT_ACK_WAIT_NS;
  if (c.maxDeliver === 0) c.maxDeliver = -1;
  if (c.backoffNs.length > 0) c.ackWaitNs = c.backoffNs[0]!;
  if (c.maxAckPending === 0) c.maxAckPending = s.maxAckPendingLimit;
  if (c.inactiveThresholdNs === 0) c.inactiveThresholdNs = s.inactiveThresholdLimitNs;
  if ((c.ackPolicy === 'explicit' || c.ackPolicy === 'all') && c.maxAckPending === 0) c.maxAckPending = DEFAULT_MAX_ACK_PENDING;
  // Ephemerals always get an inactivity threshold (stamped without nats-server's jitter).
  if (c.durable === '' && c.inactiveThresholdNs <= 0) c.inactiveThresholdNs = DEFAULT_INACTIVE_THRESHOLD_NS;
  // Petrel names every consumer: a durable's name is its durable name.
  if (c.name === '' && c.durable !== '') c.name = c.durable;
  return c;
}

/** nats-server checkConsumerCfg: null when valid. */
export function checkConsumerConfig(c: ConsumerConfig, s: StreamLimitsForConsumers): ApiError | null {
  if (c.numReplicas > 0 && c.numReplicas > s.replicas) return ConsumerErrors.replicasExceedsStream();
  if (c.numReplicas < 0) return ConsumerErrors.replicasNegative();
  if ((s.retention === 'interest' || s.retention === 'workqueue') && c.numReplicas !== 0 && c.numReplicas !== s.replicas) {
    return ConsumerErrors.replicasShouldMatchStream();
  }
  if (c.backoffNs.length > 0 && c.maxDeliver !== -1 && c.backoffNs.length > c.maxDeliver) return ConsumerErrors.maxDeliverBackoff();
  if (Buffer.byteLength(c.description) > MAX_DESCRIPTION_LENGTH) return ConsumerErrors.descriptionTooLong(MAX_DESCRIPTION_LENGTH);

  if (c.deliverSubject !== '') {
    if (!subjectIsLiteral(c.deliverSubject)) return ConsumerErrors.deliverToWildcards();
    if (!isValidSubject(c.deliverSubject)) return ConsumerErrors.invalidDeliverSubject();
    if (s.subjects.some((subj) => isSubsetMatch(c.deliverSubject, subj))) return ConsumerErrors.deliverCycle();
    if (c.maxWaiting !== 0) return ConsumerErrors.pushMaxWaiting();
    if (c.maxAckPending > 0 && c.ackPolicy === 'none') return ConsumerErrors.maxPendingAckPolicyRequired();
    if (c.idleHeartbeatNs > 0 && c.idleHeartbeatNs < MIN_PUSH_HEARTBEAT_NS) return ConsumerErrors.smallHeartbeat();
  } else {
    if (c.ackPolicy === 'none' && s.retention === 'workqueue') return ConsumerErrors.pullRequiresAck();
    if (c.rateLimitBps > 0) return ConsumerErrors.pullWithRateLimit();
    if (c.maxWaiting < 0) return ConsumerErrors.maxWaitingNegative();
    if (c.idleHeartbeatNs > 0) return ConsumerErrors.hbRequiresPush();
    if (c.flowControl) return ConsumerErrors.fcRequiresPush();
    if (c.maxBatch < 0) return ConsumerErrors.maxRequestBatchNegative();
    if (c.maxExpiresNs !== 0 && c.maxExpiresNs < MIN_MAX_EXPIRES_NS) return ConsumerErrors.maxRequestExpiresTooSmall();
  }
  if (s.maxAckPendingLimit > 0 && c.maxAckPending > s.maxAckPendingLimit) {
    return { code: 400, err_code: 10121, description: `consumer max ack pending exceeds system limit of ${s.maxAckPendingLimit}` };
  }
  if (s.inactiveThresholdLimitNs > 0 && c.inactiveThresholdNs > s.inactiveThresholdLimitNs) {
    return { code: 400, err_code: 10153, description: `consumer inactive threshold exceeds system limit of ${formatGoDuration(s.inactiveThresholdLimitNs)}` };
  }
  if (c.direct) {
    if (c.deliverSubject === '') return ConsumerErrors.directRequiresPush();
    if (c.durable !== '') return ConsumerErrors.directRequiresEphemeral();
  }
  if (c.filterSubject !== '' && c.filterSubjects.length > 0) return ConsumerErrors.duplicateFilterSubjects();
  if (c.filterSubject !== '' && !isValidSubject(c.filterSubject)) return ConsumerErrors.streamInvalidConfig('invalid subject');
  if (c.filterSubjects.some((f) => f === '')) return ConsumerErrors.emptyFilter();
  const filters = filtersOf(c);
  for (let i = 0; i < filters.length; i++) {
    if (!isValidSubject(filters[i]!)) return ConsumerErrors.streamInvalidConfig('invalid subject');
    for (let j = 0; j < filters.length; j++) {
      if (i !== j && subjectsCollide(filters[i]!, filters[j]!)) return ConsumerErrors.overlappingSubjectFilters();
    }
  }

  const badStart = (dp: string, start: string) => ConsumerErrors.invalidPolicy(`consumer delivery policy is deliver ${dp}, but optional start ${start} is also set`);
  const notSet = (dp: string, what: string) => ConsumerErrors.invalidPolicy(`consumer delivery policy is deliver ${dp}, but optional ${what} is not set`);
  switch (c.deliverPolicy) {
    case 'all':
    case 'last':
    case 'new':
    case 'last_per_subject': {
      const dp = c.deliverPolicy === 'last_per_subject' ? 'last per subject' : c.deliverPolicy;
      if (c.optStartSeq > 0) return badStart(dp, 'sequence');
      if (c.optStartTime !== null) return badStart(dp, 'time');
      if (c.deliverPolicy === 'last_per_subject' && filters.length === 0) return notSet(dp, 'filter subject');
      break;
    }
    case 'by_start_sequence':
      if (c.optStartSeq === 0) return notSet('by start sequence', 'start sequence');
      if (c.optStartTime !== null) return badStart('by start sequence', 'time');
      break;
    case 'by_start_time':
      if (c.optStartTime === null) return notSet('by start time', 'start time');
      if (c.optStartSeq !== 0) return badStart('by start time', 'start sequence');
      break;
  }

  if (c.sampleFreq !== '') {
    const t = c.sampleFreq.endsWith('%') ? c.sampleFreq.slice(0, -1) : c.sampleFreq;
    if (!/^[+-]?\d+$/.test(t)) return ConsumerErrors.invalidSampling(`strconv.Atoi: parsing "${t}": invalid syntax`);
    if (Number(t) < 0) return ConsumerErrors.invalidSampling('<nil>');
  }
  if (c.flowControl && c.idleHeartbeatNs === 0) return ConsumerErrors.flowControlNeedsHeartbeats();
  if (c.durable !== '' && c.name !== '' && c.name !== c.durable) return ConsumerErrors.durableAndNameMismatch();
  let mdLen = 0;
  for (const [k, v] of Object.entries(c.metadata ?? {})) mdLen += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (mdLen > MAX_METADATA_LENGTH) return ConsumerErrors.metadataLength(`${MAX_METADATA_LENGTH / 1024}KB`);
  return null;
}

/** nats-server checkNewConsumerConfig: what an update may not change. Null when allowed. */
export function checkUpdate(cur: ConsumerConfig, next: ConsumerConfig, deliverSubjectHasInterest: boolean): ApiError | null {
  if (configsEqual(cur, next)) return null;
  const fail = (t: string) => ConsumerErrors.create(t);
  if (cur.deliverPolicy !== next.deliverPolicy) return fail('deliver policy can not be updated');
  if (cur.optStartSeq !== next.optStartSeq) return fail('start sequence can not be updated');
  if ((cur.optStartTime?.ns ?? null) !== (next.optStartTime?.ns ?? null)) return fail('start time can not be updated');
  if (cur.ackPolicy !== next.ackPolicy) return fail('ack policy can not be updated');
  if (cur.replayPolicy !== next.replayPolicy) return fail('replay policy can not be updated');
  if (cur.idleHeartbeatNs !== next.idleHeartbeatNs) return fail('heart beats can not be updated');
  if (cur.flowControl !== next.flowControl) return fail('flow control can not be updated');
  if (cur.deliverSubject !== next.deliverSubject) {
    if (cur.deliverSubject === '') return fail('can not update pull consumer to push based');
    if (next.deliverSubject === '') return fail('can not update push consumer to pull based');
    if (deliverSubjectHasInterest) return ConsumerErrors.nameExist();
  }
  if (cur.maxWaiting !== next.maxWaiting) return fail('max waiting can not be updated');
  if (next.backoffNs.length > 0 && next.maxDeliver !== -1 && next.backoffNs.length > next.maxDeliver) return ConsumerErrors.maxDeliverBackoff();
  return null;
}

export function configsEqual(a: ConsumerConfig, b: ConsumerConfig): boolean {
  return JSON.stringify(configToJson(a)) === JSON.stringify(configToJson(b));
}

/** The config as nats-server marshals it (field order and omitempty as its struct tags). */
export function configToJson(c: ConsumerConfig): Record<string, unknown> {
  const j: Record<string, unknown> = {};
  if (c.durable) j['durable_name'] = c.durable;
  if (c.name) j['name'] = c.name;
  if (c.description) j['description'] = c.description;
  j['deliver_policy'] = c.deliverPolicy;
  if (c.optStartSeq) j['opt_start_seq'] = c.optStartSeq;
  if (c.optStartTime) j['opt_start_time'] = c.optStartTime.text;
  j['ack_policy'] = c.ackPolicy;
  if (c.ackWaitNs) j['ack_wait'] = c.ackWaitNs;
  if (c.maxDeliver) j['max_deliver'] = c.maxDeliver;
  if (c.backoffNs.length) j['backoff'] = [...c.backoffNs];
  if (c.filterSubject) j['filter_subject'] = c.filterSubject;
  if (c.filterSubjects.length) j['filter_subjects'] = [...c.filterSubjects];
  j['replay_policy'] = c.replayPolicy;
  if (c.rateLimitBps) j['rate_limit_bps'] = c.rateLimitBps;
  if (c.sampleFreq) j['sample_freq'] = c.sampleFreq;
  if (c.maxWaiting) j['max_waiting'] = c.maxWaiting;
  if (c.maxAckPending) j['max_ack_pending'] = c.maxAckPending;
  if (c.idleHeartbeatNs) j['idle_heartbeat'] = c.idleHeartbeatNs;
  if (c.flowControl) j['flow_control'] = true;
  if (c.headersOnly) j['headers_only'] = true;
  if (c.maxBatch) j['max_batch'] = c.maxBatch;
  if (c.maxExpiresNs) j['max_expires'] = c.maxExpiresNs;
  if (c.maxBytes) j['max_bytes'] = c.maxBytes;
  if (c.deliverSubject) j['deliver_subject'] = c.deliverSubject;
  if (c.deliverGroup) j['deliver_group'] = c.deliverGroup;
  if (c.inactiveThresholdNs) j['inactive_threshold'] = c.inactiveThresholdNs;
  j['num_replicas'] = c.numReplicas;
  if (c.memStorage) j['mem_storage'] = true;
  if (c.direct) j['direct'] = true;
  if (c.metadata && Object.keys(c.metadata).length > 0) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(c.metadata).sort()) sorted[k] = c.metadata[k]!;
    j['metadata'] = sorted;
  }
  return j;
}

/** Go's time.Duration String() of nanoseconds: status texts carry it. */
export { formatGoDuration };
