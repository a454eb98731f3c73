// The JetStream worker's bus hears about subscriptions made on a routing worker through the
// lanes, so a push consumer starts the moment its deliver subject gets a subscriber.
import { describe, expect, it } from 'vitest';
import { Router, SubKind, type Outbox } from '../../../src/routing/router.ts';
import { createRing } from '../../../src/routing/ring.ts';
import { RouterBus } from '../../../src/server/router_bus.ts';

const client: Outbox = { id: 7, subKind: SubKind.CLIENT, echo: true, deliver: () => {}, barrierDone: () => {} };

describe('RouterBus interest watching', () => {
  it('tells watchers when a peer worker adds or removes a matching subscription, in its account only', () => {
    const lanes = Router.createLanes(2, 64 * 1024, createRing);
    const routing = new Router(0, 2, lanes);
    const js = new Router(1, 2, lanes);
    const bus = new RouterBus(js, () => js.commitLanes());
    js.onInterestChange = (subject, account) => {
      if (account === bus.account) bus.interestChanged(subject);
    };
    const seen: boolean[] = [];
    const stop = bus.watchInterest('deliver.p', () => seen.push(bus.hasInterest('deliver.p')));
    const sync = () => {
      routing.commitLanes();
      js.drainLanes(1024);
    };

    const other = routing.addSubscription(client, 'deliver.q', null, Buffer.from('1'));
    const wild = routing.addSubscription(client, 'deliver.*', null, Buffer.from('2'));
    routing.addSubscription(client, 'deliver.p', null, Buffer.from('3'), 1); // another account
    sync();
    expect(seen).toEqual([true]);

    routing.removeSubscription(wild);
    routing.removeSubscription(other);
    sync();
    expect(seen).toEqual([true, false]);

    stop();
    routing.addSubscription(client, 'deliver.p', null, Buffer.from('4'));
    sync();
    expect(seen).toEqual([true, false]);
    expect(bus.hasInterest('deliver.p')).toBe(true);
  });
});
