// Public surface of the JetStream stream store.
export type { StreamStore, StoredMessage, StoreLimits, StreamState, StateOptions, SubjectState, PurgeOptions, StoreOptions, CorruptionReport } from './types.ts';
export { UNLIMITED, storedMsgSize } from './types.ts';
export { StoreError, StoreErrorCode } from './errors.ts';
export { MemoryStore } from './memory_store.ts';
export { FileStore, DEFAULT_SEGMENT_BYTES, type FileStoreOptions, type RecoveryReport } from './file_store.ts';
export * from './consumer_state.ts';
export { storeCache, DEFAULT_CACHE_BYTES, type StoreCacheStats } from './store_cache.ts';
