// Stream configuration: decoding the request JSON the way Go's encoding/json fills nats-server's
// StreamConfig (missing fields are zero, wrong types are "invalid JSON", unknown fields ignored),
// nats-server's defaults and validation (checkStreamCfg, configUpdateCheck) with its error texts,
// and the JSON written back in STREAM.INFO, in nats-server's field order.

import { isValidSubject, subjectsCollide, isSubsetMatch } from '../routing/subjects.ts';
import type { ApiError, Retention } from './seams.ts';
import { JS_ERR, invalidJson, streamInvalidConfig } from './errors.ts';

export type Discard = 'old' | 'new';
export type Storage = 'file' | 'memory';
export type Compression = 'none' | 's2';

export interface SubjectTransformConfig {
  src: string;
  dest: string;
}

export interface ExternalStreamConfig {
  api: string;
  deliver?: string;
}

export interface StreamSourceConfig {
  name: string;
  opt_start_seq?: number;
  opt_start_time?: string;
  filter_subject?: string;
  subject_transforms?: SubjectTransformConfig[];
  external?: ExternalStreamConfig;
}

export interface RePublishConfig {
  src?: string;
  dest: string;
  headers_only?: boolean;
}

export interface PlacementConfig {
  cluster?: string;
  tags?: string[];
}

export interface ConsumerLimitsConfig {
  inactive_threshold?: number;
  max_ack_pending?: number;
}

/** A stream config with every default applied (what STREAM.INFO reports). Durations are ns. */
export interface StreamConfig {
  name: string;
  description?: string;
  subjects: string[];
  retention: Retention;
  max_consumers: number;
  max_msgs: number;
  max_bytes: number;
  max_age: number;
  max_msgs_per_subject: number;
  max_msg_size: number;
  discard: Discard;
  storage: Storage;
  num_replicas: number;
  no_ack: boolean;
  duplicate_window: number;
  placement?: PlacementConfig;
  mirror?: StreamSourceConfig;
  sources?: StreamSourceConfig[];
  compression: Compression;
  first_seq: number;
  subject_transform?: SubjectTransformConfig;
  republish?: RePublishConfig;
  allow_direct: boolean;
  mirror_direct: boolean;
  discard_new_per_subject: boolean;
  sealed: boolean;
  deny_delete: boolean;
  deny_purge: boolean;
  allow_rollup_hdrs: boolean;
  consumer_limits: ConsumerLimitsConfig;
  metadata?: Record<string, string>;
}

/** nats-server's JSMaxNameLen: a stream name becomes a directory name. */
export const MAX_NAME_LENGTH = 255;
export const MAX_DESCRIPTION_LENGTH = 4 * 1024;
export const MAX_METADATA_BYTES = 128 * 1024;
/** nats-server StreamMaxReplicas. */
export const MAX_REPLICAS = 5;
const NS_PER_MS = 1_000_000;
/** Default Nats-Msg-Id window (nats-server StreamDefaultDuplicatesWindow). */
export const DEFAULT_DUPLICATE_WINDOW_NS = 2 * 60 * 1000 * NS_PER_MS;
/** Neither max_age nor the duplicate window may be shorter than this. */
const MIN_WINDOW_NS = 100 * NS_PER_MS;
const INT32_MAX = 2 ** 31 - 1;

// ---- decoding ----

type Decoded = Record<string, unknown>;

class DecodeError extends Error {}

function goType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number') return `number ${v}`;
  return typeof v;
}

function fail(field: string, v: unknown, type: string): never {
  throw new DecodeError(`json: cannot unmarshal ${goType(v)} into Go struct field StreamConfigRequest.${field} of type ${type}`);
}

function str(o: Decoded, k: string, path: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(path + k, v, 'string');
  return v;
}

function int(o: Decoded, k: string, path: string, type = 'int64', min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path + k, v, type);
  return v;
}

function uint(o: Decoded, k: string, path: string): number | undefined {
  return int(o, k, path, 'uint64', 0);
}

function bool(o: Decoded, k: string, path: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') fail(path + k, v, 'bool');
  return v;
}

function obj(o: Decoded, k: string, path: string, type: string): Decoded | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) fail(path + k, v, type);
  return v as Decoded;
}

function strings(o: Decoded, k: string, path: string): string[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(path + k, v, '[]string');
  for (const s of v) if (typeof s !== 'string') fail(path + k, s, 'string');
  return [...(v as string[])];
}

function enumValue<T extends string>(o: Decoded, k: string, path: string, allowed: readonly T[], type: string): T | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(path + k, v, type);
  const lower = v.toLowerCase() as T;
  if (!allowed.includes(lower)) throw new DecodeError(`can not unmarshal "${v}"`);
  return lower;
}

function transform(o: Decoded | undefined): SubjectTransformConfig | undefined {
  if (o === undefined) return undefined;
  return { src: str(o, 'src', 'subject_transform.') ?? '', dest: str(o, 'dest', 'subject_transform.') ?? '' };
}

function source(o: Decoded, path: string): StreamSourceConfig {
  const out: StreamSourceConfig = { name: str(o, 'name', path) ?? '' };
  const seq = uint(o, 'opt_start_seq', path);
  if (seq) out.opt_start_seq = seq;
  const t = str(o, 'opt_start_time', path);
  if (t !== undefined) out.opt_start_time = t;
  const f = str(o, 'filter_subject', path);
  if (f) out.filter_subject = f;
  const trs = o['subject_transforms'];
  if (trs !== undefined && trs !== null) {
    if (!Array.isArray(trs)) fail(`${path}subject_transforms`, trs, '[]SubjectTransformConfig');
    if (trs.length > 0) out.subject_transforms = trs.map((tr) => transform(tr as Decoded)!);
  }
  const ext = obj(o, 'external', path, 'ExternalStream');
  if (ext !== undefined) {
    out.external = { api: str(ext, 'api', `${path}external.`) ?? '' };
    const d = str(ext, 'deliver', `${path}external.`);
    if (d) out.external.deliver = d;
  }
  return out;
}

export interface StreamConfigRequest {
  cfg: StreamConfig;
  pedantic: boolean;
}

/**
 * Decodes a STREAM.CREATE/UPDATE body into a config with Go zero values for missing fields
 * (defaults come from checkStreamConfig). Errors are nats-server's "invalid JSON" API error.
 */
export function decodeStreamConfig(body: Uint8Array): StreamConfigRequest | ApiError {
  let parsed: unknown = {};
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.trim().length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return invalidJson((err as Error).message);
    }
  }
  if (parsed === null) parsed = {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    return invalidJson(`json: cannot unmarshal ${goType(parsed)} into Go value of type server.StreamConfigRequest`);
  }
  try {
    return { cfg: decodeFields(parsed as Decoded), pedantic: bool(parsed as Decoded, 'pedantic', '') ?? false };
  } catch (err) {
    if (err instanceof DecodeError) return invalidJson(err.message);
    throw err;
  }
}

function decodeFields(o: Decoded): StreamConfig {
  const cfg: StreamConfig = {
    name: str(o, 'name', '') ?? '',
    subjects: strings(o, 'subjects', '') ?? [],
    retention: enumValue(o, 'retention', '', ['limits', 'interest', 'workqueue'] as const, 'RetentionPolicy') ?? 'limits',
    max_consumers: int(o, 'max_consumers', '', 'int') ?? 0,
    max_msgs: int(o, 'max_msgs', '') ?? 0,
    max_bytes: int(o, 'max_bytes', '') ?? 0,
    max_age: int(o, 'max_age', '', 'time.Duration') ?? 0,
    max_msgs_per_subject: int(o, 'max_msgs_per_subject', '') ?? 0,
    max_msg_size: int(o, 'max_msg_size', '', 'int32', -(2 ** 31), INT32_MAX) ?? 0,
    discard: enumValue(o, 'discard', '', ['old', 'new'] as const, 'DiscardPolicy') ?? 'old',
    storage: enumValue(o, 'storage', '', ['file', 'memory'] as const, 'StorageType') ?? 'file',
    num_replicas: int(o, 'num_replicas', '', 'int') ?? 0,
    no_ack: bool(o, 'no_ack', '') ?? false,
    duplicate_window: int(o, 'duplicate_window', '', 'time.Duration') ?? 0,
    compression: enumValue(o, 'compression', '', ['none', 's2'] as const, 'StoreCompression') ?? 'none',
    first_seq: uint(o, 'first_seq', '') ?? 0,
    allow_direct: bool(o, 'allow_direct', '') ?? false,
    mirror_direct: bool(o, 'mirror_direct', '') ?? false,
    discard_new_per_subject: bool(o, 'discard_new_per_subject', '') ?? false,
    sealed: bool(o, 'sealed', '') ?? false,
    deny_delete: bool(o, 'deny_delete', '') ?? false,
    deny_purge: bool(o, 'deny_purge', '') ?? false,
    allow_rollup_hdrs: bool(o, 'allow_rollup_hdrs', '') ?? false,
    consumer_limits: {},
  };
  // Go accepts "" for the compression enum as none.
  const description = str(o, 'description', '');
  if (description) cfg.description = description;
  const placement = obj(o, 'placement', '', 'Placement');
  if (placement !== undefined) {
    const p: PlacementConfig = {};
    const cluster = str(placement, 'cluster', 'placement.');
    if (cluster) p.cluster = cluster;
    const tags = strings(placement, 'tags', 'placement.');
    if (tags && tags.length > 0) p.tags = tags;
    if (p.cluster !== undefined || p.tags !== undefined) cfg.placement = p;
  }
  const mirror = obj(o, 'mirror', '', 'StreamSource');
  if (mirror !== undefined) cfg.mirror = source(mirror, 'mirror.');
  const sources = o['sources'];
  if (sources !== undefined && sources !== null) {
    if (!Array.isArray(sources)) fail('sources', sources, '[]*StreamSource');
    if (sources.length > 0) {
      cfg.sources = sources.map((s, i) => {
        if (s === null || typeof s !== 'object' || Array.isArray(s)) fail(`sources[${i}]`, s, 'StreamSource');
        return source(s as Decoded, 'sources.');
      });
    }
  }
  const st = transform(obj(o, 'subject_transform', '', 'SubjectTransformConfig'));
  if (st !== undefined) cfg.subject_transform = st;
  const rp = obj(o, 'republish', '', 'RePublish');
  if (rp !== undefined) {
    cfg.republish = { dest: str(rp, 'dest', 'republish.') ?? '' };
    const src = str(rp, 'src', 'republish.');
    if (src) cfg.republish.src = src;
    if (bool(rp, 'headers_only', 'republish.')) cfg.republish.headers_only = true;
  }
  const cl = obj(o, 'consumer_limits', '', 'StreamConsumerLimits');
  if (cl !== undefined) {
    const it = int(cl, 'inactive_threshold', 'consumer_limits.', 'time.Duration');
    if (it) cfg.consumer_limits.inactive_threshold = it;
    const map = int(cl, 'max_ack_pending', 'consumer_limits.', 'int');
    if (map) cfg.consumer_limits.max_ack_pending = map;
  }
  const md = obj(o, 'metadata', '', 'map[string]string');
  if (md !== undefined) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(md)) {
      if (typeof v !== 'string') fail('metadata', v, 'string');
      out[k] = v;
    }
    if (Object.keys(out).length > 0) cfg.metadata = out;
  }
  return cfg;
}

// ---- validation ----

/** nats-server isValidAssetName: no separators, wildcards, whitespace or path separators. */
export function isValidAssetName(name: string): boolean {
  return name.length > 0 && !/[ \t\r\n\f.*>\\/]/.test(name);
}

export interface ConfigEnvironment {
  /** Another stream's current config (for mirror/source checks), if it exists. */
  lookup(name: string): StreamConfig | undefined;
}

/**
 * nats-server's checkStreamCfg: applies defaults and validates. Returns the completed config or
 * the API error nats-server answers with.
 */
export function checkStreamConfig(input: StreamConfig, env: ConfigEnvironment): StreamConfig | ApiError {
  const bad = (text: string): ApiError => streamInvalidConfig(text);
  if (!isValidAssetName(input.name)) return bad("stream name is required and can not contain '.', '*', '>', '\\', '/'");
  if (input.name.length > MAX_NAME_LENGTH) return bad(`stream name is too long, maximum allowed is ${MAX_NAME_LENGTH}`);
  if ((input.description?.length ?? 0) > MAX_DESCRIPTION_LENGTH) {
    return bad(`stream description is too long, maximum allowed is ${MAX_DESCRIPTION_LENGTH}`);
  }
  let metadataBytes = 0;
  for (const [k, v] of Object.entries(input.metadata ?? {})) metadataBytes += k.length + v.length;
  if (metadataBytes > MAX_METADATA_BYTES) return bad(`stream metadata exceeds maximum size of ${MAX_METADATA_BYTES} bytes`);

  const cfg: StreamConfig = structuredClone(input);
  if (cfg.num_replicas === 0) cfg.num_replicas = 1;
  if (cfg.num_replicas > MAX_REPLICAS) return bad(`maximum replicas is ${MAX_REPLICAS}`);
  if (cfg.num_replicas < 0) return JS_ERR.REPLICAS_COUNT_CANNOT_BE_NEGATIVE;
  // Zero or below -1 means "unlimited", written as -1.
  if (cfg.max_msgs === 0 || cfg.max_msgs < -1) cfg.max_msgs = -1;
  if (cfg.max_msgs_per_subject === 0 || cfg.max_msgs_per_subject < -1) cfg.max_msgs_per_subject = -1;
  if (cfg.max_bytes === 0 || cfg.max_bytes < -1) cfg.max_bytes = -1;
  if (cfg.max_msg_size === 0 || cfg.max_msg_size < -1) cfg.max_msg_size = -1;
  if (cfg.max_consumers === 0 || cfg.max_consumers < -1) cfg.max_consumers = -1;
  if (cfg.max_age < 0) return bad('max age can not be negative');
  if (cfg.max_age !== 0 && cfg.max_age < MIN_WINDOW_NS) return bad('max age needs to be >= 100ms');

  if (cfg.duplicate_window === 0 && cfg.mirror === undefined && (cfg.sources?.length ?? 0) === 0) {
    cfg.duplicate_window = cfg.max_age !== 0 && cfg.max_age < DEFAULT_DUPLICATE_WINDOW_NS ? cfg.max_age : DEFAULT_DUPLICATE_WINDOW_NS;
  }
  if (cfg.duplicate_window < 0) return bad('duplicates window can not be negative');
  if (cfg.max_age !== 0 && cfg.duplicate_window > cfg.max_age) return bad('duplicates window can not be larger then max age');
  if (cfg.duplicate_window > 0 && cfg.duplicate_window < MIN_WINDOW_NS) return bad('duplicates window needs to be >= 100ms');
  if (cfg.deny_purge && cfg.allow_rollup_hdrs) return bad('roll-ups require the purge permission');
  if (cfg.discard_new_per_subject) {
    if (cfg.discard !== 'new') return bad('discard new per subject requires discard new policy to be set');
    if (cfg.max_msgs_per_subject <= 0) return bad('discard new per subject requires max msgs per subject > 0');
  }

  const originSubjects: string[] = [];
  if (cfg.mirror !== undefined) {
    const m = cfg.mirror;
    if (cfg.first_seq > 0) return JS_ERR.MIRROR_WITH_FIRST_SEQ;
    if (cfg.subjects.length > 0) return JS_ERR.MIRROR_WITH_SUBJECTS;
    if ((cfg.sources?.length ?? 0) > 0) return JS_ERR.MIRROR_WITH_SOURCES;
    if (m.opt_start_seq && m.opt_start_time) return JS_ERR.MIRROR_WITH_START_SEQ_AND_TIME;
    if (m.filter_subject && m.subject_transforms) return streamInvalidConfig('mirror with multiple subject transforms cannot also have a single subject filter');
    if (m.external === undefined) {
      if (!isValidAssetName(m.name)) return JS_ERR.MIRROR_INVALID_STREAM_NAME;
      const origin = env.lookup(m.name);
      if (origin !== undefined) {
        originSubjects.push(...origin.subjects);
        if (cfg.max_msg_size > 0 && origin.max_msg_size > 0 && cfg.max_msg_size < origin.max_msg_size) {
          return JS_ERR.MIRROR_MAX_MESSAGE_SIZE_TOO_BIG;
        }
        cfg.mirror_direct = origin.allow_direct;
      }
    }
    if (m.filter_subject !== undefined && !isValidSubject(m.filter_subject)) {
      return streamInvalidConfig(`subject filter '${m.filter_subject}' for the mirror invalid subject`);
    }
  }
  const seen = new Set<string>();
  for (const src of cfg.sources ?? []) {
    if (!isValidAssetName(src.name)) return JS_ERR.SOURCE_INVALID_STREAM_NAME;
    const key = `${src.name} ${src.filter_subject ?? ''} ${src.external?.api ?? ''}`;
    if (seen.has(key)) return JS_ERR.SOURCE_DUPLICATE_DETECTED;
    seen.add(key);
    if (src.filter_subject && src.subject_transforms) {
      return streamInvalidConfig('source with multiple subject transforms cannot also have a single subject filter');
    }
    if (src.filter_subject !== undefined && !isValidSubject(src.filter_subject)) {
      return streamInvalidConfig(`subject filter '${src.filter_subject}' for the source: invalid subject`);
    }
    if (src.external === undefined) {
      const origin = env.lookup(src.name);
      if (origin !== undefined) {
        originSubjects.push(...origin.subjects);
        if (cfg.max_msg_size > 0 && origin.max_msg_size > 0 && cfg.max_msg_size < origin.max_msg_size) {
          return JS_ERR.SOURCE_MAX_MESSAGE_SIZE_TOO_BIG;
        }
      }
    }
  }
  if (detectsCycle(cfg, env)) return bad('detected cycle');

  if (cfg.subjects.length === 0) {
    if (cfg.mirror === undefined && (cfg.sources?.length ?? 0) === 0) cfg.subjects = [cfg.name];
  } else {
    if (cfg.mirror !== undefined) return JS_ERR.MIRROR_WITH_SUBJECTS;
    const dups = new Set<string>();
    for (let i = 0; i < cfg.subjects.length; i++) {
      const subj = cfg.subjects[i]!;
      if (!isValidSubject(subj)) return bad('invalid subject');
      if (dups.has(subj)) return bad('duplicate subjects detected');
      if (subj === '>') {
        if (!cfg.no_ack) return bad('capturing all subjects requires no-ack to be true');
        if (cfg.num_replicas !== 1) return bad('capturing all subjects requires replicas of 1');
      }
      if (!cfg.no_ack) {
        for (const ns of ['$JS.>', '$JSC.>', '$NRG.>']) {
          if (subjectsCollide(subj, ns) && !isSubsetMatch(subj, '$JS.EVENT.>')) {
            return bad('subjects that overlap with jetstream api require no-ack to be true');
          }
        }
        if (subjectsCollide(subj, '$SYS.>') && !isSubsetMatch(subj, '$SYS.ACCOUNT.>')) {
          return bad('subjects that overlap with system api require no-ack to be true');
        }
      }
      for (const other of cfg.subjects.slice(i + 1)) {
        if (subjectsCollide(other, subj)) return bad(`subject "${subj}" overlaps with "${other}"`);
      }
      dups.add(subj);
    }
  }
  if (cfg.subjects.length === 0 && (cfg.sources?.length ?? 0) === 0 && cfg.mirror === undefined) {
    return bad('stream needs at least one configured subject or be a source/mirror');
  }

  if (cfg.subject_transform !== undefined) {
    const t = cfg.subject_transform;
    if (t.src !== '' && !isValidSubject(t.src)) return streamInvalidConfig(`stream transform source: invalid subject ${t.src}`);
    if (t.dest === '' || !isValidSubject(t.dest)) return { code: 400, err_code: 10156, description: `stream transform: invalid subject ${t.dest}` };
  }
  if (cfg.republish !== undefined) {
    const rp = cfg.republish;
    if (rp.src === undefined || rp.src === '') rp.src = '>';
    if (cfg.subjects.some((s) => subjectsCollide(rp.dest, s))) return bad('stream configuration for republish destination forms a cycle');
    if (!isValidSubject(rp.src) || !isValidSubject(rp.dest) || !originCovers(cfg.subjects, rp.src)) {
      return bad(`stream configuration for republish with transform from '${rp.src}' to '${rp.dest}' not valid`);
    }
  }
  return cfg;
}

/** The republish source must lie within the stream's subjects (or be '>'). */
function originCovers(subjects: string[], src: string): boolean {
  if (src === '>') return true;
  return subjects.length === 0 || subjects.some((s) => subjectsCollide(s, src));
}

function detectsCycle(cfg: StreamConfig, env: ConfigEnvironment): boolean {
  const visited = new Set<string>();
  const toVisit: StreamConfig[] = [cfg];
  while (toVisit.length > 0) {
    const c = toVisit.shift()!;
    visited.add(c.name);
    for (const src of c.sources ?? []) {
      if (src.external !== undefined) continue;
      if (visited.has(src.name)) {
        const filter = src.filter_subject ?? '';
        if (filter === '' || c.subjects.some((s) => subjectsCollide(s, filter))) return true;
      } else {
        const o = env.lookup(src.name);
        if (o !== undefined) toVisit.push(o);
      }
    }
    if (c.mirror !== undefined && c.mirror.external === undefined) {
      if (visited.has(c.mirror.name)) return true;
      const o = env.lookup(c.mirror.name);
      if (o !== undefined) toVisit.push(o);
    }
  }
  return false;
}

/**
 * nats-server configUpdateCheck: what an update may not change. `next` is already checked. A
 * clustered server may change the replica count (2.10 behaviour).
 */
export function checkStreamUpdate(old: StreamConfig, next: StreamConfig, clustered = false): StreamConfig | ApiError {
  const bad = (text: string): ApiError => streamInvalidConfig(text);
  if (next.name !== old.name) return bad('stream configuration name must match original');
  if (next.num_replicas > 1 && !clustered) return JS_ERR.STREAM_REPLICAS_NOT_SUPPORTED;
  if (next.storage !== old.storage) return bad('stream configuration update can not change storage type');
  if (next.retention !== old.retention && (old.retention === 'workqueue' || next.retention === 'workqueue')) {
    return bad('stream configuration update can not change retention policy to/from workqueue');
  }
  if (!next.sealed && old.sealed) return bad('stream configuration update can not unseal a sealed stream');
  if (!next.deny_delete && old.deny_delete) return bad('stream configuration update can not cancel deny message deletes');
  if (!next.deny_purge && old.deny_purge) return bad('stream configuration update can not cancel deny purge');
  if (next.mirror !== undefined && JSON.stringify(next.mirror) !== JSON.stringify(old.mirror)) return JS_ERR.STREAM_MIRROR_NOT_UPDATABLE;
  const out = structuredClone(next);
  if (out.sealed) {
    out.max_age = 0;
    out.discard = 'new';
    out.deny_delete = true;
    out.deny_purge = true;
    out.allow_rollup_hdrs = false;
  }
  return out;
}

// ---- JSON out ----

/** The config as nats-server writes it (field order and omitempty as its StreamConfig). */
export function streamConfigJson(cfg: StreamConfig): Record<string, unknown> {
  const o: Record<string, unknown> = { name: cfg.name };
  if (cfg.description) o['description'] = cfg.description;
  if (cfg.subjects.length > 0) o['subjects'] = [...cfg.subjects];
  o['retention'] = cfg.retention;
  o['max_consumers'] = cfg.max_consumers;
  o['max_msgs'] = cfg.max_msgs;
  o['max_bytes'] = cfg.max_bytes;
  o['max_age'] = cfg.max_age;
  o['max_msgs_per_subject'] = cfg.max_msgs_per_subject;
  if (cfg.max_msg_size !== 0) o['max_msg_size'] = cfg.max_msg_size;
  o['discard'] = cfg.discard;
  o['storage'] = cfg.storage;
  o['num_replicas'] = cfg.num_replicas;
  if (cfg.no_ack) o['no_ack'] = true;
  if (cfg.duplicate_window !== 0) o['duplicate_window'] = cfg.duplicate_window;
  if (cfg.placement !== undefined) o['placement'] = structuredClone(cfg.placement);
  if (cfg.mirror !== undefined) o['mirror'] = structuredClone(cfg.mirror);
  if (cfg.sources !== undefined) o['sources'] = structuredClone(cfg.sources);
  o['compression'] = cfg.compression;
  if (cfg.first_seq !== 0) o['first_seq'] = cfg.first_seq;
  if (cfg.subject_transform !== undefined) o['subject_transform'] = { ...cfg.subject_transform };
  if (cfg.republish !== undefined) o['republish'] = { ...cfg.republish };
  o['allow_direct'] = cfg.allow_direct;
  o['mirror_direct'] = cfg.mirror_direct;
  if (cfg.discard_new_per_subject) o['discard_new_per_subject'] = true;
  o['sealed'] = cfg.sealed;
  o['deny_delete'] = cfg.deny_delete;
  o['deny_purge'] = cfg.deny_purge;
  o['allow_rollup_hdrs'] = cfg.allow_rollup_hdrs;
  o['consumer_limits'] = { ...cfg.consumer_limits };
  if (cfg.metadata !== undefined) o['metadata'] = { ...cfg.metadata };
  return o;
}

/** Reads back a config this module wrote (the stream's meta file). */
export function streamConfigFromJson(json: unknown): StreamConfig | ApiError {
  const r = decodeStreamConfig(Buffer.from(JSON.stringify(json)));
  if ('err_code' in r) return r;
  return r.cfg;
}

/** Whether two completed configs are the same (create is idempotent for an identical config). */
export function sameStreamConfig(a: StreamConfig, b: StreamConfig): boolean {
  return JSON.stringify(streamConfigJson(a)) === JSON.stringify(streamConfigJson(b));
}
