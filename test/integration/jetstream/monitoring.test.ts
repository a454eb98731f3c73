// /jsz and $JS.API.INFO (account info) reflect the streams, consumers, messages and API use a
// client created, with nats-server's JSON names. Each case has its own server: the counts are
// server-wide.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy, StorageType } from '@nats-io/jetstream';
import { monitor, startServer, tempDir } from '../../support/server.ts';
import type { RunningServer } from '../../support/server.ts';
import { jsMatrix } from './js_clients.ts';
import { JsConnectionPool, rejection } from './js_util.ts';

for (const { gen, workers } of jsMatrix()) {
  describe(`jsz and account info — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = new JsConnectionPool(gen);
    beforeAll(async () => {
      const dir = tempDir('petrel-js-');
      // A budget other than the default, to see the config key reach the store.
      srv = await startServer({ workers, dir, config: `jetstream { store_dir: "${dir}/js", store_cache: 64MB }` });
    });
    afterEach(() => pool.closeAll());
    afterAll(() => srv.stop());

    it('counts streams, consumers, messages and API calls', async () => {
      const nc = await pool.connect({ servers: srv.url });
      const js = gen.js(nc);
      const jsm = await gen.jsm(nc);
      const empty = await jsm.getAccountInfo();
      expect(empty).toMatchObject({ streams: 0, consumers: 0, storage: 0, memory: 0 });

      await jsm.streams.add({ name: 'FILED', subjects: ['filed.>'] });
      await jsm.streams.add({ name: 'MEM', subjects: ['mem.>'], storage: StorageType.Memory });
      for (let i = 0; i < 5; i++) await js.publish(`filed.${i}`, 'payload');
      for (let i = 0; i < 3; i++) await js.publish('mem.x', 'payload');
      await jsm.consumers.add('FILED', { durable_name: 'one', ack_policy: AckPolicy.Explicit });
      await jsm.consumers.add('FILED', { durable_name: 'two', ack_policy: AckPolicy.Explicit, filter_subject: 'filed.1' });
      await jsm.consumers.add('MEM', { durable_name: 'three', ack_policy: AckPolicy.Explicit });

      const before = await jsm.getAccountInfo();
      expect(before.streams).toBe(2);
      expect(before.consumers).toBe(3);
      expect(before.storage).toBeGreaterThan(0);
      expect(before.memory).toBeGreaterThan(0);
      expect(before.limits).toBeDefined();
      expect(before.api.total).toBeGreaterThan(empty.api.total);
      const failed = await rejection(() => jsm.streams.info('NOPE'));
      expect(gen.errCode(failed)).toBe(10059);
      const after = await jsm.getAccountInfo();
      expect(after.api.errors).toBe(before.api.errors + 1);

      const jsz = await monitor(srv, '/jsz?streams=1&consumers=1');
      expect(jsz).toMatchObject({ streams: 2, consumers: 3, messages: 8 });
      expect(jsz.memory).toBeGreaterThan(0);
      expect(jsz.storage).toBeGreaterThan(0);
      expect(jsz.config.store_dir).toContain(srv.dir);
      // The file stores' offset tables: the one of FILED's active segment, within the budget.
      expect(jsz.store_cache).toMatchObject({ tables: 1, budget_bytes: 64 * 1024 * 1024 });
      expect(jsz.store_cache.table_bytes).toBeGreaterThan(0);
      const metrics: string = await monitor(srv, '/metrics');
      expect(metrics).toMatch(/petrel_jetstream_store_cache_tables\{server_id="[^"]+"\} 1\n/);
      expect(metrics).toMatch(/petrel_jetstream_store_cache_budget_bytes\{server_id="[^"]+"\} 67108864\n/);
      const account = jsz.account_details.find((a: { name: string }) => a.name === '$G');
      const byName = new Map<string, any>(account.stream_detail.map((s: any) => [s.name, s]));
      expect([...byName.keys()].sort()).toEqual(['FILED', 'MEM']);
      expect(byName.get('FILED').state).toMatchObject({ messages: 5, first_seq: 1, last_seq: 5, consumer_count: 2 });
      expect(byName.get('MEM').state).toMatchObject({ messages: 3, consumer_count: 1 });
      const consumers = new Map<string, any>(byName.get('FILED').consumer_detail.map((c: any) => [c.name, c]));
      expect([...consumers.keys()].sort()).toEqual(['one', 'two']);
      expect(consumers.get('one').num_pending).toBe(5);
      expect(consumers.get('two').num_pending).toBe(1);

      // Without the detail options the summary stays, the per-stream detail does not.
      const summary = await monitor(srv, '/jsz');
      expect(summary).toMatchObject({ streams: 2, consumers: 3, messages: 8 });
      expect(summary.account_details?.[0]?.stream_detail).toBeUndefined();

      await jsm.streams.delete('MEM');
      expect(await monitor(srv, '/jsz')).toMatchObject({ streams: 1, consumers: 2, messages: 5 });
      expect(await jsm.getAccountInfo()).toMatchObject({ streams: 1, consumers: 2 });
      await jsm.streams.delete('FILED');
    });
  });
}
