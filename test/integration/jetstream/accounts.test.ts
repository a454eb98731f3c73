// JetStream per account, as nats-server decides it: with accounts configured, only the accounts
// whose block enables JetStream have it, each with its own streams (same names may repeat) and
// its own directory; the others answer $JS.API.INFO with "JetStream not enabled for account".
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { monitor, tempDir } from '../../support/server.ts';
import type { RunningServer } from '../../support/server.ts';
import { jsMatrix } from './js_clients.ts';
import { JsConnectionPool, rejection, startJsServer } from './js_util.ts';

const ACCOUNTS = `
accounts {
  ORDERS: { jetstream: enabled, users: [ { user: o, password: o } ] }
  BILLING: { jetstream: { max_file: 1GB }, users: [ { user: b, password: b } ] }
  PLAIN: { users: [ { user: p, password: p } ] }
}
`;

for (const { gen, workers } of jsMatrix()) {
  describe(`JetStream per account — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer | null = null;
    const pool = new JsConnectionPool(gen);
    afterEach(async () => {
      await pool.closeAll();
      await srv?.stop();
      srv = null;
    });

    it('gives each enabled account its own streams and directory, and refuses the others', async () => {
      const dir = tempDir('petrel-js-acc-');
      srv = await startJsServer({ workers, dir, config: ACCOUNTS });
      const orders = await pool.connect({ servers: srv.url, user: 'o', pass: 'o' });
      const billing = await pool.connect({ servers: srv.url, user: 'b', pass: 'b' });
      const plain = await pool.connect({ servers: srv.url, user: 'p', pass: 'p' });

      const jo = await gen.jsm(orders);
      const jb = await gen.jsm(billing);
      await jo.streams.add({ name: 'EVENTS', subjects: ['events.>'] });
      await jb.streams.add({ name: 'EVENTS', subjects: ['events.>'] });
      for (let i = 0; i < 3; i++) await gen.js(orders).publish(`events.${i}`, 'o');
      await gen.js(billing).publish('events.x', 'b');

      expect((await jo.streams.info('EVENTS')).state.messages).toBe(3);
      expect((await jb.streams.info('EVENTS')).state.messages).toBe(1);
      expect((await jo.getAccountInfo()).streams).toBe(1);

      // nats v2 reports code "503" with the server's error attached; v3 carries its description.
      const refused = (await rejection(async () => (await gen.jsm(plain)).getAccountInfo())) as {
        message?: string;
        api_error?: { err_code: number };
      };
      expect(refused.api_error?.err_code === 10039 || /JetStream not enabled for account/i.test(String(refused.message))).toBe(true);

      const jsz = await monitor(srv, '/jsz?accounts=true');
      expect(jsz.accounts).toBe(2);
      expect(jsz.streams).toBe(2);
      expect(jsz.messages).toBe(4);
      expect(jsz.account_details.map((a: { name: string }) => a.name).sort()).toEqual(['BILLING', 'ORDERS']);
      for (const account of ['ORDERS', 'BILLING']) {
        expect(fs.existsSync(path.join(dir, 'js', 'jetstream', account, 'streams', 'EVENTS')), account).toBe(true);
      }
    });

    it('keeps each account its streams across a restart', async () => {
      const dir = tempDir('petrel-js-acc-');
      srv = await startJsServer({ workers, dir, config: ACCOUNTS });
      let orders = await pool.connect({ servers: srv.url, user: 'o', pass: 'o' });
      await (await gen.jsm(orders)).streams.add({ name: 'KEEP', subjects: ['keep.>'] });
      await gen.js(orders).publish('keep.1', 'x');
      await pool.closeAll();
      await srv.stop();
      srv = await startJsServer({ workers, dir, config: ACCOUNTS });
      orders = await pool.connect({ servers: srv.url, user: 'o', pass: 'o' });
      const billing = await pool.connect({ servers: srv.url, user: 'b', pass: 'b' });
      expect((await (await gen.jsm(orders)).streams.info('KEEP')).state.messages).toBe(1);
      const missing = (await rejection(async () => (await gen.jsm(billing)).streams.info('KEEP'))) as Error;
      expect(String(missing.message ?? missing)).toMatch(/stream not found/i);
    });
  });
}
