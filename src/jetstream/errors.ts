// JetStream API errors as nats-server sends them (its errors.json): an HTTP-like `code`, a stable
// `err_code` and a description. The texts are part of the protocol: clients match on err_code and
// people grep for the descriptions, so both are kept exactly.

import type { ApiError } from './seams.ts';

function e(code: number, errCode: number, description: string): ApiError {
  return Object.freeze({ code, err_code: errCode, description });
}

export const JS_ERR = {
  ACCOUNT_RESOURCES_EXCEEDED: e(400, 10002, 'resource limits exceeded for account'),
  BAD_REQUEST: e(400, 10003, 'bad request'),
  NO_SUITABLE_PEERS: e(400, 10005, 'no suitable peers for placement'),
  CLUSTER_NOT_AVAILABLE: e(503, 10008, 'JetStream system temporarily unavailable'),
  CLUSTER_REQUIRED: e(503, 10010, 'JetStream clustering support required'),
  CONSUMER_NOT_FOUND: e(404, 10014, 'consumer not found'),
  INSUFFICIENT_RESOURCES: e(503, 10023, 'insufficient resources'),
  MAXIMUM_CONSUMERS_LIMIT: e(400, 10026, 'maximum consumers limit reached'),
  MAXIMUM_STREAMS_LIMIT: e(400, 10027, 'maximum number of streams reached'),
  MEMORY_RESOURCES_EXCEEDED: e(500, 10028, 'insufficient memory resources available'),
  MIRROR_MAX_MESSAGE_SIZE_TOO_BIG: e(400, 10030, 'stream mirror must have max message size >= source'),
  MIRROR_WITH_SOURCES: e(400, 10031, 'stream mirrors can not also contain other sources'),
  MIRROR_WITH_START_SEQ_AND_TIME: e(400, 10032, 'stream mirrors can not have both start seq and start time configured'),
  MIRROR_WITH_SUBJECT_FILTERS: e(400, 10033, 'stream mirrors can not contain filtered subjects'),
  MIRROR_WITH_SUBJECTS: e(400, 10034, 'stream mirrors can not contain subjects'),
  NO_MESSAGE_FOUND: e(404, 10037, 'no message found'),
  NOT_EMPTY_REQUEST: e(400, 10038, 'expected an empty request payload'),
  NOT_ENABLED_FOR_ACCOUNT: e(503, 10039, 'JetStream not enabled for account'),
  SOURCE_MAX_MESSAGE_SIZE_TOO_BIG: e(400, 10046, 'stream source must have max message size >= target'),
  STORAGE_RESOURCES_EXCEEDED: e(500, 10047, 'insufficient storage resources available'),
  MESSAGE_EXCEEDS_MAXIMUM: e(400, 10054, 'message size exceeds maximum allowed'),
  STREAM_MIRROR_NOT_UPDATABLE: e(400, 10055, 'stream mirror configuration can not be updated'),
  STREAM_MISMATCH: e(400, 10056, 'stream name in subject does not match request'),
  STREAM_NAME_IN_USE: e(400, 10058, 'stream name already in use with a different configuration'),
  STREAM_NOT_FOUND: e(404, 10059, 'stream not found'),
  STREAM_NOT_MATCH: e(400, 10060, 'expected stream does not match'),
  STREAM_REPLICAS_NOT_UPDATABLE: e(400, 10061, 'Replicas configuration can not be updated'),
  SUBJECTS_OVERLAP: e(400, 10065, 'subjects overlap with an existing stream'),
  STREAM_REPLICAS_NOT_SUPPORTED: e(500, 10074, 'replicas > 1 not supported in non-clustered mode'),
  NOT_ENABLED: e(503, 10076, 'JetStream not enabled'),
  PEER_REMAP: e(503, 10075, 'peer remap failed'),
  PEER_NOT_MEMBER: e(400, 10040, 'peer not a member'),
  SERVER_NOT_MEMBER: e(400, 10044, 'server is not a member of the cluster'),
  STREAM_HEADER_EXCEEDS_MAXIMUM: e(400, 10097, 'header size exceeds maximum allowed of 64k'),
  STREAM_SEALED: e(400, 10109, 'invalid operation on sealed stream'),
  STREAM_NAME_CONTAINS_PATH_SEPARATORS: e(400, 10128, 'Stream name can not contain path separators'),
  REPLICAS_COUNT_CANNOT_BE_NEGATIVE: e(400, 10133, 'replicas count cannot be negative'),
  SOURCE_DUPLICATE_DETECTED: e(400, 10140, 'duplicate source configuration detected'),
  SOURCE_INVALID_STREAM_NAME: e(400, 10141, 'sourced stream name is invalid'),
  MIRROR_INVALID_STREAM_NAME: e(400, 10142, 'mirrored stream name is invalid'),
  MIRROR_WITH_FIRST_SEQ: e(400, 10143, 'stream mirrors can not have first sequence configured'),
  STREAM_DUPLICATE_MESSAGE_CONFLICT: e(409, 10158, 'duplicate message id is in process'),
  STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID: e(400, 10193, 'missing sequence for expected last sequence per subject'),
} as const;

// Templated errors: nats-server fills `{err}`-style placeholders into the description.
export const invalidJson = (detail: string): ApiError => e(400, 10025, `invalid JSON: ${detail}`);
export const sequenceNotFound = (seq: number): ApiError => e(400, 10043, `sequence ${seq} not found`);
export const streamCreateFailed = (detail: string): ApiError => e(500, 10049, detail);
export const streamDeleteFailed = (detail: string): ApiError => e(500, 10050, detail);
export const streamGeneralError = (detail: string): ApiError => e(500, 10051, detail);
export const streamInvalidConfig = (detail: string): ApiError => e(500, 10052, detail);
export const streamLimitsError = (detail: string): ApiError => e(500, 10053, detail);
export const streamMsgDeleteFailed = (detail: string): ApiError => e(500, 10057, detail);
export const streamUpdateFailed = (detail: string): ApiError => e(500, 10069, detail);
export const streamWrongLastMsgId = (id: string): ApiError => e(400, 10070, `wrong last msg ID: ${id}`);
export const streamWrongLastSequence = (seq: number): ApiError => e(400, 10071, `wrong last sequence: ${seq}`);
export const streamRestoreFailed = (detail: string): ApiError => e(500, 10062, `restore failed: ${detail}`);
export const streamSnapshotFailed = (detail: string): ApiError => e(500, 10064, `snapshot failed: ${detail}`);
export const streamStoreFailed = (detail: string): ApiError => e(503, 10077, detail);
export const streamPurgeFailed = (detail: string): ApiError => e(500, 10110, detail);
export const streamRollupFailed = (detail: string): ApiError => e(500, 10111, detail);

export function isApiError(v: unknown): v is ApiError {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as ApiError).err_code === 'number' &&
    typeof (v as ApiError).code === 'number' &&
    typeof (v as ApiError).description === 'string'
  );
}

/** An ApiError carried through code that throws; handlers turn it back into a response. */
export class JsApiError extends Error {
  readonly apiError: ApiError;

  constructor(apiError: ApiError) {
    super(apiError.description);
    this.name = 'JsApiError';
    this.apiError = apiError;
  }
}
