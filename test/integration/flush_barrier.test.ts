// The PING barrier through the clients: once flush() resolves, a subscription made before it is
// visible to every publisher on the node, whichever worker owns the publisher's connection.
// Fresh connections each round land on different workers, so both same-worker and
// cross-worker paths are exercised.
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../support/server.ts';
import { matrix } from './clients.ts';
import { collect, onSharedServer, SharedServers } from './util.ts';

const ROUNDS = 20;

const sharedServers = new SharedServers();
afterAll(() => sharedServers.stopAll());

for (const { gen, workers } of matrix()) {
  describe(`flush barrier — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedServer(sharedServers, gen, workers, (s) => (srv = s));

    it(`a subscription flushed on one connection receives the next publish from another (${ROUNDS} rounds)`, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        // The publisher connects first, so it is already running when the interest appears.
        const pub = await pool.connect({ servers: srv.url });
        const subConn = await pool.connect({ servers: srv.url });
        const subject = `barrier.${round}`;
        const sub = subConn.subscribe(subject);
        const wide = subConn.subscribe('barrier.*', { queue: 'g' });
        await subConn.flush();
        pub.publish(subject, `round ${round}`);
        await pub.flush();
        const [m] = await collect(sub, 1, `round ${round}`);
        expect(m!.string()).toBe(`round ${round}`);
        const [w] = await collect(wide, 1, `round ${round} (queue)`);
        expect(w!.subject).toBe(subject);
        await pool.closeAll();
      }
    });

    it(`an unsubscribe flushed on one connection stops deliveries from another (${ROUNDS} rounds)`, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const pub = await pool.connect({ servers: srv.url });
        const subConn = await pool.connect({ servers: srv.url });
        const gone = subConn.subscribe(`gone.${round}`);
        const marker = subConn.subscribe(`marker.${round}`);
        await subConn.flush();
        gone.unsubscribe();
        await subConn.flush();
        const before = subConn.stats().inMsgs;

        pub.publish(`gone.${round}`, 'must not arrive');
        pub.publish(`marker.${round}`, 'marker');
        await pub.flush();
        await collect(marker, 1, `marker round ${round}`);
        // inMsgs counts every MSG the client parsed, even for a subscription it already closed;
        // one publisher's messages keep their order, so a stray one would have come first.
        expect(subConn.stats().inMsgs - before).toBe(1);
        await pool.closeAll();
      }
    });
  });
}
