// Large payloads near max_payload, across workers, and what happens above the limit.
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { matrix } from './clients.ts';
import { collect, onSharedServer, SharedServers, within } from './util.ts';

const MAX_PAYLOAD_BYTES = 1024 * 1024; // `max_payload: 1MB` in NATS conf units
const LARGE_BYTES = 900 * 1024;

/** A payload whose every byte depends on its position and a seed, so truncation or mixing shows. */
function patterned(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

const sharedServers = new SharedServers();
afterAll(() => sharedServers.stopAll());

for (const { gen, workers } of matrix()) {
  describe(`payload limits — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedServer(sharedServers, gen, workers, (s) => (srv = s), () =>
      startServer({ workers, config: 'max_payload: 1MB' }),
    );

    it('announces max_payload to the client', async () => {
      const nc = await pool.connect({ servers: srv.url });
      expect(nc.info!.max_payload).toBe(MAX_PAYLOAD_BYTES);
    });

    it('round-trips several 900 KiB payloads intact and in order', async () => {
      const sub = await pool.connect({ servers: srv.url });
      const s = sub.subscribe('big');
      await sub.flush();
      const pub = await pool.connect({ servers: srv.url });
      const sent = [0, 1, 2, 3, 4].map((seed) => patterned(LARGE_BYTES, seed));
      for (const p of sent) pub.publish('big', p);
      await pub.flush();
      const got = await collect(s, sent.length);
      got.forEach((m, i) => {
        expect(m.data.length).toBe(LARGE_BYTES);
        expect(sameBytes(m.data, sent[i]!), `payload ${i} intact`).toBe(true);
      });
    });

    it('answers a 900 KiB request with a 900 KiB reply carrying headers', async () => {
      const svc = await pool.connect({ servers: srv.url });
      svc.subscribe('big.echo', {
        callback: (_err, m) => {
          const h = gen.headers();
          h.set('X-Len', String(m.data.length));
          m.respond(m.data.slice().reverse(), { headers: h });
        },
      });
      await svc.flush();
      const client = await pool.connect({ servers: srv.url });
      const body = patterned(LARGE_BYTES, 7);
      const reply = await client.request('big.echo', body, { timeout: 10_000 });
      expect(reply.headers?.get('X-Len')).toBe(String(LARGE_BYTES));
      expect(sameBytes(reply.data, body.slice().reverse())).toBe(true);
    });

    it('accepts a payload of exactly max_payload bytes', async () => {
      const sub = await pool.connect({ servers: srv.url });
      const s = sub.subscribe('edge');
      await sub.flush();
      const pub = await pool.connect({ servers: srv.url });
      const exact = patterned(MAX_PAYLOAD_BYTES, 3);
      pub.publish('edge', exact);
      await pub.flush();
      const [m] = await collect(s, 1);
      expect(sameBytes(m!.data, exact)).toBe(true);
    });

    it('rejects a payload above max_payload in the client, and the connection stays usable', async () => {
      const nc = await pool.connect({ servers: srv.url });
      const s = nc.subscribe('over');
      let err: unknown = null;
      try {
        nc.publish('over', new Uint8Array(MAX_PAYLOAD_BYTES + 1));
      } catch (e) {
        err = e;
      }
      expect(gen.isMaxPayload(err), `max payload error expected, got ${String(err)}`).toBe(true);
      // Headers count towards the limit too.
      const h = gen.headers();
      h.set('X-Pad', 'x');
      let hdrErr: unknown = null;
      try {
        nc.publish('over', new Uint8Array(MAX_PAYLOAD_BYTES), { headers: h });
      } catch (e) {
        hdrErr = e;
      }
      expect(gen.isMaxPayload(hdrErr), `max payload error expected, got ${String(hdrErr)}`).toBe(true);

      nc.publish('over', 'small');
      const [m] = await collect(s, 1);
      expect(m!.string()).toBe('small');
      expect(nc.isClosed()).toBe(false);
    });

    it('has the server refuse an oversized payload the client did not stop', async () => {
      const nc = await pool.connect({ servers: srv.url, reconnect: false });
      // Raise the client's copy of the limit so the oversized PUB reaches the server.
      (nc.info as { max_payload: number }).max_payload = 4 * MAX_PAYLOAD_BYTES;
      const closed = nc.closed();
      nc.publish('over', new Uint8Array(MAX_PAYLOAD_BYTES + 1));
      const err = await within(closed, 'server closes the connection');
      expect(err).toBeInstanceOf(Error);
      expect(String(err)).toMatch(/maximum payload violation/i);
    });
  });
}
