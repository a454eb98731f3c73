// Public surface of JetStream consumers: the API half the dispatcher calls, and the pieces the
// rest of the engine may name.
export { createConsumerApi, ConsumerManager, ConsumerResponseType, DEFAULT_CONSUMER_OPTIONS, NAMES_PAGE_LIMIT, LIST_PAGE_LIMIT, type ReplicaOptions } from './api.ts';
export { Consumer, type ConsumerOptions, type DeliverAsBus } from './consumer.ts';
export { parseNextRequest, type NextRequest } from './next_request.ts';
export { type ConsumerConfig, configToJson, parseConsumerConfig } from './config.ts';
export { ConsumerErrors } from './errors.ts';
export { parseAckReply, Status } from './wire.ts';
export { LocalReplicator, type ConsumerReplicator, type ReplicatedConsumer } from './replicator.ts';
export { RaftConsumerReplicator, raftStateMachine } from './raft_replicator.ts';
export { ConsumerEntryError } from './entries.ts';
