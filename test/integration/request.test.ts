// Request/reply, no-responders, timeouts and headers through the official clients.
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../support/server.ts';
import { matrix } from './clients.ts';
import { collect, deferred, onSharedServer, SharedServers, within } from './util.ts';

/** A request timeout short enough to keep the file fast; only the "times out" case waits it out. */
const SHORT_TIMEOUT_MS = 250;
/** Long enough that a no-responders answer cannot be confused with a timeout. */
const LONG_TIMEOUT_MS = 10_000;

const sharedServers = new SharedServers();
afterAll(() => sharedServers.stopAll());

for (const { gen, workers } of matrix()) {
  describe(`request/reply — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedServer(sharedServers, gen, workers, (s) => (srv = s));

    it('answers requests through a responder on another connection', async () => {
      const svc = await pool.connect({ servers: srv.url });
      svc.subscribe('math.double', {
        callback: (_err, m) => {
          m.respond(String(Number(m.string()) * 2));
        },
      });
      await svc.flush();
      const client = await pool.connect({ servers: srv.url });
      for (const n of [1, 21, 500]) {
        const reply = await client.request('math.double', String(n), { timeout: LONG_TIMEOUT_MS });
        expect(reply.string()).toBe(String(n * 2));
      }
      // Concurrent requests share the client's response multiplexer and must not cross.
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => client.request('math.double', String(i), { timeout: LONG_TIMEOUT_MS })),
      );
      expect(replies.map((r) => r.string())).toEqual(Array.from({ length: 20 }, (_, i) => String(i * 2)));
    });

    it('answers requests made with a dedicated inbox (noMux)', async () => {
      const svc = await pool.connect({ servers: srv.url });
      svc.subscribe('echo', {
        callback: (_err, m) => {
          m.respond(m.data);
        },
      });
      await svc.flush();
      const client = await pool.connect({ servers: srv.url });
      const reply = await client.request('echo', 'plain inbox', { timeout: LONG_TIMEOUT_MS, noMux: true });
      expect(reply.string()).toBe('plain inbox');
    });

    it('fails fast with a no-responders error when nobody listens', async () => {
      const client = await pool.connect({ servers: srv.url });
      const err = await client.request('nobody.home', 'hello?', { timeout: LONG_TIMEOUT_MS }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, 'request should be rejected').not.toBeNull();
      expect(gen.isNoResponders(err), `no-responders error expected, got ${String(err)}`).toBe(true);
      // Also with a dedicated inbox: the 503 status then arrives on the request's own subscription.
      const err2 = await client.request('nobody.home', 'hello?', { timeout: LONG_TIMEOUT_MS, noMux: true }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(gen.isNoResponders(err2), `no-responders error expected, got ${String(err2)}`).toBe(true);
    });

    it('times out when the responder never answers, and a late answer is dropped', async () => {
      const svc = await pool.connect({ servers: srv.url });
      const held = deferred<{ respond: (data: string) => boolean }>();
      svc.subscribe('slow', { callback: (_err, m) => held.resolve(m) });
      await svc.flush();
      const client = await pool.connect({ servers: srv.url });
      const req = client.request('slow', 'take your time', { timeout: SHORT_TIMEOUT_MS }).then(
        () => null,
        (e: unknown) => e,
      );
      const received = await within(held.promise, 'responder sees the request');
      const err = await req;
      expect(gen.isTimeout(err), `timeout error expected, got ${String(err)}`).toBe(true);
      // Answering after the requester gave up must not disturb the next request.
      received.respond('too late');
      await svc.flush();
      svc.subscribe('fast', {
        callback: (_err, m) => {
          m.respond('quick');
        },
      });
      await svc.flush();
      const ok = await client.request('fast', '', { timeout: LONG_TIMEOUT_MS });
      expect(ok.string()).toBe('quick');
    });

    it('round-trips headers with repeated keys and a status line', async () => {
      const sub = await pool.connect({ servers: srv.url });
      const s = sub.subscribe('hdrs');
      await sub.flush();
      const pub = await pool.connect({ servers: srv.url });

      const h = gen.headers();
      h.append('X-Multi', 'one');
      h.append('X-Multi', 'two');
      h.append('X-Multi', 'three');
      h.set('X-Single', 'value with spaces: and colons');
      pub.publish('hdrs', 'body', { headers: h });

      const withStatus = gen.headers(409, 'Custom Conflict');
      withStatus.set('X-Why', 'because');
      pub.publish('hdrs', '', { headers: withStatus });
      // A message without headers after header messages on the same subscription stays header-less.
      pub.publish('hdrs', 'bare');
      await pub.flush();

      const [m1, m2, m3] = await collect(s, 3);
      expect(m1!.string()).toBe('body');
      expect(m1!.headers?.values('X-Multi')).toEqual(['one', 'two', 'three']);
      expect(m1!.headers?.get('X-Single')).toBe('value with spaces: and colons');
      expect(m1!.headers?.hasError).toBe(false);

      expect(m2!.data.length).toBe(0);
      expect(m2!.headers?.code).toBe(409);
      expect(m2!.headers?.description).toBe('Custom Conflict');
      expect(m2!.headers?.hasError).toBe(true);
      expect(m2!.headers?.get('X-Why')).toBe('because');

      expect(m3!.string()).toBe('bare');
      expect(m3!.headers).toBeUndefined();
    });

    it('carries headers on requests and on msg.respond', async () => {
      const svc = await pool.connect({ servers: srv.url });
      svc.subscribe('hdr.svc', {
        callback: (_err, m) => {
          const h = gen.headers();
          h.set('X-Seen-Trace', m.headers?.get('X-Trace') ?? 'missing');
          h.append('X-Tags', 'a');
          h.append('X-Tags', 'b');
          m.respond(`re:${m.string()}`, { headers: h });
        },
      });
      await svc.flush();
      const client = await pool.connect({ servers: srv.url });
      const h = gen.headers();
      h.set('X-Trace', 'abc-123');
      const reply = await client.request('hdr.svc', 'ping', { timeout: LONG_TIMEOUT_MS, headers: h });
      expect(reply.string()).toBe('re:ping');
      expect(reply.headers?.get('X-Seen-Trace')).toBe('abc-123');
      expect(reply.headers?.values('X-Tags')).toEqual(['a', 'b']);
    });

    it('gathers replies from several responders with requestMany', async () => {
      const responders = await Promise.all([0, 1, 2].map(() => pool.connect({ servers: srv.url })));
      responders.forEach((nc, i) => {
        nc.subscribe('census', {
          callback: (_err, m) => {
            m.respond(`responder-${i}`);
          },
        });
      });
      await Promise.all(responders.map((nc) => nc.flush()));
      const client = await pool.connect({ servers: srv.url });
      const replies = await client.requestMany('census', 'who is there?', {
        strategy: 'count',
        maxMessages: 3,
        maxWait: LONG_TIMEOUT_MS,
      });
      const names: string[] = [];
      await within(
        (async () => {
          for await (const m of replies) names.push(m.string());
        })(),
        'three replies',
      );
      expect(names.sort()).toEqual(['responder-0', 'responder-1', 'responder-2']);
    });

    it('answers many concurrent requests through a queue group of responders', async () => {
      const responders = await Promise.all([0, 1, 2].map(() => pool.connect({ servers: srv.url })));
      responders.forEach((nc, i) => {
        nc.subscribe('svc.pool', {
          queue: 'svc',
          callback: (_err, m) => {
            m.respond(`${i}:${m.string()}`);
          },
        });
      });
      await Promise.all(responders.map((nc) => nc.flush()));
      const client = await pool.connect({ servers: srv.url });
      const count = 300;
      const replies = await Promise.all(
        Array.from({ length: count }, (_, i) => client.request('svc.pool', String(i), { timeout: LONG_TIMEOUT_MS })),
      );
      const seenBy = [0, 0, 0];
      replies.forEach((r, i) => {
        const [who, echoed] = r.string().split(':');
        expect(echoed).toBe(String(i));
        seenBy[Number(who)]!++;
      });
      expect(seenBy.reduce((a, b) => a + b)).toBe(count);
    });
  });
}
