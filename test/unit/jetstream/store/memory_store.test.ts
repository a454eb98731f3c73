import { MemoryStore } from '../../../../src/jetstream/store/memory_store.ts';
import { runStoreSuite } from './store_suite.ts';

runStoreSuite('memory', () => ({
  open: async (limits) => new MemoryStore(limits),
  cleanup: async () => {},
}));
