// The JetStream API errors the consumer half answers with: nats-server's `errors.json` codes and
// texts (v2.10), which clients match on, so they are part of the protocol.

import type { ApiError } from '../seams.ts';

function err(code: number, errCode: number, description: string): ApiError {
  return { code, err_code: errCode, description };
}

export const ConsumerErrors = {
  invalidJson: () => err(400, 10025, 'invalid JSON'),
  notEmptyRequest: () => err(400, 10038, 'expected an empty request payload'),
  streamMismatch: () => err(400, 10056, 'stream name in subject does not match request'),
  streamNotFound: () => err(404, 10059, 'stream not found'),
  notFound: () => err(404, 10014, 'consumer not found'),
  /** Wraps a plain failure (e.g. "ack policy can not be updated"), as NewJSConsumerCreateError does. */
  create: (text: string) => err(500, 10012, text),
  nameExist: () => err(400, 10013, 'consumer name already in use'),
  durableNameNotInSubject: () => err(400, 10016, 'consumer expected to be durable but no durable name set in subject'),
  durableNameNotMatchSubject: () => err(400, 10017, 'consumer name in subject does not match durable name in request'),
  durableNameNotSet: () => err(400, 10018, 'consumer expected to be durable but a durable name was not set'),
  ephemeralWithDurableName: () => err(400, 10020, 'consumer expected to be ephemeral but a durable name was set in request'),
  maximumConsumers: () => err(400, 10026, 'maximum consumers limit reached'),
  streamGeneral: (text: string) => err(500, 10051, text),
  streamInvalidConfig: (text: string) => err(500, 10052, text),
  replicasNotSupported: () => err(500, 10074, 'replicas > 1 not supported in non-clustered mode'),
  configRequired: () => err(400, 10078, 'consumer config required'),
  deliverToWildcards: () => err(400, 10079, 'consumer deliver subject has wildcards'),
  pushMaxWaiting: () => err(400, 10080, 'consumer in push mode can not set max waiting'),
  deliverCycle: () => err(400, 10081, 'consumer deliver subject forms a cycle'),
  maxPendingAckPolicyRequired: () => err(400, 10082, 'consumer requires ack policy for max ack pending'),
  smallHeartbeat: () => err(400, 10083, 'consumer idle heartbeat needs to be >= 100ms'),
  pullRequiresAck: () => err(400, 10084, 'consumer in pull mode requires ack policy'),
  pullWithRateLimit: () => err(400, 10086, 'consumer in pull mode can not have rate limit set'),
  maxWaitingNegative: () => err(400, 10087, 'consumer max waiting needs to be positive'),
  hbRequiresPush: () => err(400, 10088, 'consumer idle heartbeat requires a push based consumer'),
  fcRequiresPush: () => err(400, 10089, 'consumer flow control requires a push based consumer'),
  directRequiresPush: () => err(400, 10090, 'consumer direct requires a push based consumer'),
  directRequiresEphemeral: () => err(400, 10091, 'consumer direct requires an ephemeral consumer'),
  invalidPolicy: (text: string) => err(400, 10094, text),
  invalidSampling: (text: string) => err(400, 10095, `failed to parse consumer sampling configuration: ${text}`),
  wqRequiresExplicitAck: () => err(400, 10098, 'workqueue stream requires explicit ack'),
  wqMultipleUnfiltered: () => err(400, 10099, 'multiple non-filtered consumers not allowed on workqueue stream'),
  wqConsumerNotUnique: () => err(400, 10100, 'filtered consumer not unique on workqueue stream'),
  wqConsumerNotDeliverAll: () => err(400, 10101, 'consumer must be deliver all on workqueue stream'),
  nameTooLong: (max: number) => err(400, 10102, `consumer name is too long, maximum allowed is ${max}`),
  badDurableName: () => err(400, 10103, "durable name can not contain '.', '*', '>'"),
  storeFailed: (text: string) => err(500, 10104, `error creating store for consumer: ${text}`),
  descriptionTooLong: (max: number) => err(400, 10107, `consumer description is too long, maximum allowed is ${max}`),
  flowControlNeedsHeartbeats: () => err(400, 10108, 'consumer with flow control also needs heartbeats'),
  invalidDeliverSubject: () => err(400, 10112, 'invalid push consumer deliver subject'),
  maxRequestBatchNegative: () => err(400, 10114, 'consumer max request batch needs to be > 0'),
  maxRequestExpiresTooSmall: () => err(400, 10115, 'consumer max request expires needs to be >= 1ms'),
  maxDeliverBackoff: () => err(400, 10116, 'max deliver is required to be > length of backoff values'),
  replicasExceedsStream: () => err(400, 10126, 'consumer config replica count exceeds parent stream'),
  nameContainsPathSeparators: () => err(400, 10127, 'Consumer name can not contain path separators'),
  createFilterSubjectMismatch: () => err(400, 10131, 'Consumer create request did not match filtered subject from create subject'),
  durableAndNameMismatch: () => err(400, 10132, 'Consumer Durable and Name have to be equal if both are provided'),
  replicasNegative: () => err(400, 10133, 'replicas count cannot be negative'),
  replicasShouldMatchStream: () => err(400, 10134, "consumer config replicas must match interest retention stream's replicas"),
  metadataLength: (limit: string) => err(400, 10135, `consumer metadata exceeds maximum size of ${limit}`),
  duplicateFilterSubjects: () => err(400, 10136, 'consumer cannot have both FilterSubject and FilterSubjects specified'),
  multipleFiltersNotAllowed: () => err(400, 10137, 'consumer with multiple subject filters cannot use subject based API'),
  overlappingSubjectFilters: () => err(400, 10138, 'consumer subject filters cannot overlap'),
  emptyFilter: () => err(400, 10139, 'consumer filter in FilterSubjects cannot be empty'),
  alreadyExists: () => err(400, 10148, 'consumer already exists'),
  doesNotExist: () => err(400, 10149, 'consumer does not exist'),
} as const;

export function isApiError(v: unknown): v is ApiError {
  return typeof v === 'object' && v !== null && typeof (v as ApiError).err_code === 'number' && typeof (v as ApiError).description === 'string';
}

/** Thrown inside parsing/validation so deep helpers can bail out with an API error. */
export class ConsumerApiError extends Error {
  readonly apiError: ApiError;
  constructor(apiError: ApiError) {
    super(apiError.description);
    this.apiError = apiError;
  }
}
