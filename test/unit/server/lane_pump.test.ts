// The lane pump answers what it drained in the same turn: a request that crossed from a routing
// worker (a direct get to the JetStream host) is committed back to that worker's lane before the
// pump arms its doorbell wait, not one event-loop turn later.
import { describe, expect, it } from 'vitest';
import { NO_HEADERS, Router, SubKind, type Outbox } from '../../../src/routing/router.ts';
import { Doorbell, createRing } from '../../../src/routing/ring.ts';
import { RouterBus } from '../../../src/server/router_bus.ts';
import { LanePump } from '../../../src/server/lane_pump.ts';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(flushWork: () => void = () => {}) {
  const lanes = Router.createLanes(2, 64 * 1024, createRing);
  const routing = new Router(0, 2, lanes);
  const host = new Router(1, 2, lanes);
  const pump = new LanePump(host, new Doorbell(Doorbell.create()), flushWork);
  const bus = new RouterBus(host, () => pump.scheduleFlush());
  const got: string[] = [];
  const client: Outbox = {
    id: 7,
    subKind: SubKind.CLIENT,
    echo: true,
    deliver: (_sub, subject, _reply, _hdrLen, msg) => got.push(`${subject} ${Buffer.from(msg).toString()}`),
    barrierDone: () => {},
  };
  bus.subscribe('req', null, (_subject, reply, _hdr, data) => bus.publish(reply!, null, null, Buffer.from(`re:${Buffer.from(data).toString()}`)));
  routing.addSubscription(client, 'inbox.1', null, Buffer.from('1'));
  // Each side learns the other's subscriptions.
  routing.commitLanes();
  host.drainLanes(1024);
  host.commitLanes();
  routing.drainLanes(1024);
  return { routing, host, pump, got };
}

describe('LanePump', () => {
  it('commits the replies a drain produced before it waits again', () => {
    const { routing, pump, got } = setup();
    routing.publish(null, 'req', 'inbox.1', NO_HEADERS, Buffer.from('a'));
    routing.commitLanes();
    void pump.run(); // drains at once, then waits on its doorbell
    routing.drainLanes(1024);
    expect(got).toEqual(['inbox.1 re:a']);
    pump.stop();
  });

  it('a flush scheduled before the drain is not run again by the event loop', async () => {
    let flushes = 0;
    const { routing, pump, got } = setup(() => flushes++);
    await nextTurn();
    flushes = 0;
    pump.scheduleFlush();
    routing.publish(null, 'req', 'inbox.1', NO_HEADERS, Buffer.from('b'));
    routing.commitLanes();
    void pump.run();
    expect(flushes).toBe(1);
    await nextTurn();
    expect(flushes).toBe(1);
    // Scheduled again after the drain's flush: the pending turn does it, once.
    pump.scheduleFlush();
    await nextTurn();
    expect(flushes).toBe(2);
    routing.drainLanes(1024);
    expect(got).toEqual(['inbox.1 re:b']);
    pump.stop();
  });
});
