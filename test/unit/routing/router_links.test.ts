// The router's cluster rules, with fake outboxes: one message per link carrying its queue
// groups, one hop, local queue members first, and the interest a node announces.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NO_HEADERS, Router, SubKind, type LinkOutbox, type Outbox, type Subscription } from '../../../src/routing/router.ts';
import { createRing } from '../../../src/routing/ring.ts';
import { gatewayExports, leafExports } from '../../../src/routing/link_rules.ts';

class FakeClient implements Outbox {
  readonly subKind: SubKind;
  readonly echo = true;
  readonly id: number;
  got: string[] = [];
  constructor(id: number, kind: SubKind = SubKind.CLIENT) {
    this.id = id;
    this.subKind = kind;
  }
  deliver(sub: Subscription, subject: string): void {
    this.got.push(`${subject}${sub.queue ? ` q=${sub.queue}` : ''}`);
  }
  barrierDone(): void {}
}

class FakeLink implements LinkOutbox {
  readonly subKind: SubKind;
  readonly echo = true;
  readonly id: number;
  got: string[] = [];
  constructor(id: number, kind: SubKind = SubKind.ROUTE) {
    this.id = id;
    this.subKind = kind;
  }
  deliver(): void {
    throw new Error('a link gets deliverLink, never deliver');
  }
  deliverLink(account: number, subject: string, reply: string | null, _h: number, _m: Uint8Array, queues: readonly string[], n: number, origin: string | null): void {
    this.got.push(`${account} ${subject} ${reply ?? '-'} [${queues.slice(0, n).sort().join(' ')}]${origin ? ` from ${origin}` : ''}`);
  }
  barrierDone(): void {}
}

const sid = (s: string) => Buffer.from(s);
const body = Buffer.from('x');
const single = () => new Router(0, 1, Router.createLanes(1, 1024, createRing));

afterEach(() => vi.restoreAllMocks());

describe('Router: links', () => {
  it('sends one message per link, naming the queue groups picked behind it', () => {
    const r = single();
    const route = new FakeLink(1);
    r.addSubscription(route, 'foo.*', null, sid('a'));
    r.addSubscription(route, 'foo.>', null, sid('b'));
    r.addSubscription(route, 'foo.bar', 'q1', sid('c'), 0, -1, 3);
    r.addSubscription(route, 'foo.>', 'q2', sid('d'), 0, -1, 1);
    expect(r.publish(null, 'foo.bar', 'reply', NO_HEADERS, body)).toBeGreaterThan(0);
    expect(route.got).toEqual(['0 foo.bar reply [q1 q2]']);
  });

  it('picks a queue member on this node before one behind a link', () => {
    const r = single();
    const route = new FakeLink(1);
    const local = new FakeClient(2);
    r.addSubscription(route, 'work', 'q', sid('r'), 0, -1, 100);
    const mine = r.addSubscription(local, 'work', 'q', sid('l'));
    for (let i = 0; i < 50; i++) r.publish(null, 'work', null, NO_HEADERS, body);
    expect(local.got).toHaveLength(50);
    expect(route.got).toEqual([]);
    // With the local member gone, the link serves the group.
    r.removeSubscription(mine);
    r.publish(null, 'work', null, NO_HEADERS, body);
    expect(route.got).toEqual(['0 work - [q]']);
  });

  it('picks among links by their member counts', () => {
    const r = single();
    const a = new FakeLink(1);
    const b = new FakeLink(2);
    r.addSubscription(a, 'work', 'q', sid('a'), 0, -1, 1);
    r.addSubscription(b, 'work', 'q', sid('b'), 0, -1, 3);
    // Member slots a | b b b: 0.2 falls in a's quarter, 0.3 in b's three quarters.
    vi.spyOn(Math, 'random').mockReturnValueOnce(0.2).mockReturnValueOnce(0.3);
    r.publish(null, 'work', null, NO_HEADERS, body);
    r.publish(null, 'work', null, NO_HEADERS, body);
    expect(a.got).toEqual(['0 work - [q]']);
    expect(b.got).toEqual(['0 work - [q]']);
  });

  it('never forwards a message from a link to another link, and serves only the queue groups it names', () => {
    const r = single();
    const from = new FakeLink(1);
    const other = new FakeLink(2);
    const local = new FakeClient(3);
    r.addSubscription(other, '>', null, sid('o'));
    r.addSubscription(other, 'work', 'q', sid('oq'));
    r.addSubscription(local, 'work', null, sid('p'));
    r.addSubscription(local, 'work', 'q', sid('q'));
    r.addSubscription(local, 'work', 'z', sid('z'));
    r.publish(from, 'work', null, NO_HEADERS, body, 'work', 0, ['q'], 1);
    expect(other.got).toEqual([]);
    expect(local.got.sort()).toEqual(['work', 'work q=q']);
    local.got = [];
    // No queue names: plain subscribers only, as nats-server.
    r.publish(from, 'work', null, NO_HEADERS, body);
    expect(local.got).toEqual(['work']);
  });

  it('keeps JetStream-style internal subscribers out of messages from links, except in the system account', () => {
    const r = single();
    r.systemAccount = 2;
    const from = new FakeLink(1);
    const js = new FakeClient(2, SubKind.INTERNAL);
    const sys = new FakeClient(3, SubKind.INTERNAL);
    r.addSubscription(js, '$JS.API.>', null, sid('j'));
    r.addSubscription(sys, '$SYS.REQ.SERVER.PING', null, sid('s'), 2);
    expect(r.publish(from, '$JS.API.INFO', 'r', NO_HEADERS, body)).toBe(0);
    r.publish(from, '$SYS.REQ.SERVER.PING', 'r', NO_HEADERS, body, '$SYS.REQ.SERVER.PING', 2);
    expect(js.got).toEqual([]);
    expect(sys.got).toEqual(['$SYS.REQ.SERVER.PING']);
    // A local publisher still reaches JetStream.
    r.publish(null, '$JS.API.INFO', 'r', NO_HEADERS, body);
    expect(js.got).toEqual(['$JS.API.INFO']);
  });

  it('groups the targets of a link owned by a peer worker into one message there', () => {
    const lanes = Router.createLanes(2, 64 * 1024, createRing);
    const w0 = new Router(0, 2, lanes);
    const w1 = new Router(1, 2, lanes);
    const sync = () => {
      w0.commitLanes();
      w1.commitLanes();
      w0.drainLanes(1024);
      w1.drainLanes(1024);
    };
    const route = new FakeLink(1);
    w1.addSubscription(route, 'a.*', null, sid('1'));
    w1.addSubscription(route, 'a.>', null, sid('2'));
    w1.addSubscription(route, 'a.b', 'q', sid('3'), 0, -1, 2);
    sync();
    expect(w0.publish(null, 'a.b', null, NO_HEADERS, body)).toBeGreaterThan(0);
    sync();
    expect(route.got).toEqual(['0 a.b - [q]']);
  });

  it('replicates a link queue weight change to peer workers', () => {
    const lanes = Router.createLanes(2, 64 * 1024, createRing);
    const w0 = new Router(0, 2, lanes);
    const w1 = new Router(1, 2, lanes);
    const a = new FakeLink(1);
    const b = new FakeLink(2);
    const sa = w1.addSubscription(a, 'work', 'q', sid('a'), 0, -1, 5);
    w1.addSubscription(b, 'work', 'q', sid('b'), 0, -1, 5);
    w1.setWeight(sa, 0);
    w1.commitLanes();
    w0.drainLanes(1024);
    for (let i = 0; i < 20; i++) w0.publish(null, 'work', null, NO_HEADERS, body);
    w0.commitLanes();
    w1.drainLanes(1024);
    expect(a.got).toEqual([]);
    expect(b.got).toHaveLength(20);
  });
});

describe('Router: announced interest', () => {
  it('counts plain subjects, weighs queue groups, and leaves links and node-local internals out', () => {
    const lanes = Router.createLanes(2, 64 * 1024, createRing);
    const w0 = new Router(0, 2, lanes);
    const w1 = new Router(1, 2, lanes);
    w0.systemAccount = 1;
    w1.systemAccount = 1;
    const events: string[] = [];
    const exp = w0.exportInterest((acc, subject, queue, weight) => events.push(`${acc} ${subject} ${queue ?? '-'} ${weight}`));
    const c0 = new FakeClient(1);
    const c1 = new FakeClient(2);
    const a = w0.addSubscription(c0, 'foo', null, sid('1'));
    w1.addSubscription(c1, 'foo', null, sid('2'));
    w1.addSubscription(c1, 'work', 'q', sid('3'));
    w1.commitLanes();
    w0.drainLanes(1024);
    w0.addSubscription(c0, 'work', 'q', sid('4'));
    w0.addSubscription(new FakeLink(9), 'from.route', null, sid('5'));
    w0.addSubscription(new FakeClient(3, SubKind.INTERNAL), '$JS.API.>', null, sid('6'));
    w0.addSubscription(new FakeClient(4, SubKind.INTERNAL), '$SYS.REQ.SERVER.PING', null, sid('7'), 1);
    w0.removeSubscription(a);
    expect(events).toEqual(['0 foo - 1', '0 work q 1', '0 work q 2', '1 $SYS.REQ.SERVER.PING - 1']);
    expect([...exp.entries()].map((e) => e.slice(0, 4).map((f) => f ?? '-').join(' ')).sort()).toEqual(['0 foo - 1', '0 work q 2', '1 $SYS.REQ.SERVER.PING - 1']);
  });
});

describe('Router: gateway and leaf kinds', () => {
  const { ROUTE, GATEWAY, LEAF, HUB, CLIENT } = SubKind;
  const links = (r: Router) => {
    const l = { route: new FakeLink(11, ROUTE), gateway: new FakeLink(12, GATEWAY), leaf: new FakeLink(13, LEAF), hub: new FakeLink(14, HUB) };
    for (const k of Object.values(l)) r.addSubscription(k, 'x.>', null, sid(`${k.id}`));
    return l;
  };
  const reached = (l: ReturnType<typeof links>) => Object.entries(l).filter(([, k]) => k.got.length > 0).map(([name]) => name).sort();

  it.each([
    ['a client', CLIENT, ['gateway', 'hub', 'leaf', 'route']],
    ['a route', ROUTE, ['leaf']],
    ['a gateway', GATEWAY, ['hub', 'leaf', 'route']],
    ['a leaf node', LEAF, ['gateway', 'hub', 'route']],
    ['our hub', HUB, ['gateway', 'leaf']],
  ] as const)('forwards a message from %s only where nats-server does', (_name, kind, expected) => {
    const r = single();
    const l = links(r);
    const from = kind === CLIENT ? new FakeClient(1) : (Object.values(l).find((k) => k.subKind === kind) ?? new FakeLink(2, kind));
    r.publish(from, 'x.y', null, NO_HEADERS, body);
    // Never back to the connection it came from.
    expect(reached(l)).toEqual(expected);
  });

  it('tries queue members in tiers: this node, the cluster, leaf nodes, another cluster', () => {
    const r = single();
    const gw = new FakeLink(1, GATEWAY);
    const leaf = new FakeLink(2, LEAF);
    const route = new FakeLink(3, ROUTE);
    const local = new FakeClient(4);
    const subs = [
      r.addSubscription(gw, 'job', 'q', sid('g'), 0, -1, 1),
      r.addSubscription(leaf, 'job', 'q', sid('l'), 0, -1, 1),
      r.addSubscription(route, 'job', 'q', sid('r'), 0, -1, 1),
      r.addSubscription(local, 'job', 'q', sid('c')),
    ];
    const order: string[] = [];
    for (let i = 3; i >= 0; i--) {
      r.publish(null, 'job', null, NO_HEADERS, body);
      const who = [gw, leaf, route].find((k) => k.got.length > 0)?.id ?? (local.got.length > 0 ? 4 : 0);
      order.push(String(who));
      for (const k of [gw, leaf, route]) k.got = [];
      local.got = [];
      r.removeSubscription(subs[i]!);
    }
    expect(order).toEqual(['4', '3', '2', '1']);
  });

  it('a gateway offers another cluster only the groups no member here took, once', () => {
    const r = single();
    const east = new FakeLink(1, GATEWAY);
    const west = new FakeLink(2, GATEWAY);
    r.addSubscription(east, 'job', 'served', sid('a'), 0, -1, 1);
    r.addSubscription(east, 'job', 'far', sid('b'), 0, -1, 1);
    r.addSubscription(west, 'job', 'far', sid('c'), 0, -1, 1);
    r.addSubscription(new FakeClient(3), 'job', 'served', sid('d'));
    r.publish(null, 'job', null, NO_HEADERS, body);
    expect([...east.got, ...west.got]).toHaveLength(1);
    expect([...east.got, ...west.got][0]).toMatch(/\[far\]$/);
  });

  it('sends a leaf-origin message on a route with its origin, and never to leaf connections of that cluster', () => {
    const r = single();
    const route = new FakeLink(1, ROUTE);
    const sameCluster = new FakeLink(2, LEAF);
    const otherCluster = new FakeLink(3, LEAF);
    r.addSubscription(route, 'x', null, sid('r'));
    r.addSubscription(sameCluster, 'x', null, sid('s'), 0, -1, 1, 'edge');
    r.addSubscription(otherCluster, 'x', null, sid('o'), 0, -1, 1, 'other');
    const from = new FakeLink(4, LEAF);
    r.publish(from, 'x', null, NO_HEADERS, body, 'x', 0, null, 0, 'edge');
    expect(route.got).toEqual(['0 x - [] from edge']);
    expect(sameCluster.got).toEqual([]);
    expect(otherCluster.got).toEqual(['0 x - [] from edge']);
  });

  it('a JetStream delivery reaches a link as its deliver subject with reply@subject (on this worker and a peer)', () => {
    const lanes = Router.createLanes(2, 64 * 1024, createRing);
    const w0 = new Router(0, 2, lanes);
    const w1 = new Router(1, 2, lanes);
    const here = new FakeLink(1, LEAF);
    const there = new FakeLink(2, LEAF);
    const local = new FakeClient(3);
    w0.addSubscription(here, '_INBOX.a', null, sid('h'));
    w1.addSubscription(there, '_INBOX.a', null, sid('t'));
    w0.addSubscription(local, '_INBOX.a', null, sid('l'));
    w1.commitLanes();
    w0.drainLanes(1024);
    w0.publish(null, 'orders.1', '$JS.ACK.S.C.1.1.1.0.0', NO_HEADERS, body, '_INBOX.a');
    w0.commitLanes();
    w1.drainLanes(1024);
    expect(here.got).toEqual(['0 _INBOX.a $JS.ACK.S.C.1.1.1.0.0@orders.1 []']);
    expect(there.got).toEqual(['0 _INBOX.a $JS.ACK.S.C.1.1.1.0.0@orders.1 []']);
    expect(local.got).toEqual(['orders.1']);
  });

  it('a message from a leaf connection reaches internal subscribers; from a route only system-account ones', () => {
    const r = single();
    r.systemAccount = 1;
    const js = new FakeClient(1, SubKind.INTERNAL);
    r.addSubscription(js, '$JS.hub.API.>', null, sid('j'));
    r.publish(new FakeLink(2, ROUTE), '$JS.hub.API.INFO', null, NO_HEADERS, body);
    expect(js.got).toEqual([]);
    r.publish(new FakeLink(3, LEAF), '$JS.hub.API.INFO', null, NO_HEADERS, body);
    r.publish(new FakeLink(4, HUB), '$JS.hub.API.INFO', null, NO_HEADERS, body);
    expect(js.got).toEqual(['$JS.hub.API.INFO', '$JS.hub.API.INFO']);
  });

  it('tells gateways of the whole cluster once per queue group, and a leaf of everything but its own', () => {
    const r = single();
    r.systemAccount = 1;
    const gw: string[] = [];
    const leafEv: string[] = [];
    const leafConn = new FakeLink(7, LEAF);
    r.exportInterest((a, s, q, w) => gw.push(`${a} ${s} ${q ?? '-'} ${w}`), (sub) => gatewayExports(sub, r.systemAccount), false);
    r.exportInterest((a, s, q, w) => leafEv.push(`${a} ${s} ${q ?? '-'} ${w}`), (sub) => sub.owner !== leafConn && leafExports(sub, LEAF, 'edge'));
    r.addSubscription(new FakeClient(1), 'c', 'q', sid('1'));
    r.addSubscription(new FakeLink(2, ROUTE), 'c', 'q', sid('2'), 0, -1, 3);
    r.addSubscription(new FakeLink(3, GATEWAY), 'g', null, sid('3'));
    r.addSubscription(leafConn, 'mine', null, sid('4'));
    r.addSubscription(new FakeLink(5, ROUTE), 'e', null, sid('5'), 0, -1, 1, 'edge');
    expect(gw).toEqual(['0 c q 1', '0 mine - 1', '0 e - 1']);
    expect(leafEv).toEqual(['0 c q 1', '0 c q 2', '0 g - 1']);
  });

  it('remembers subscriptions for a while so a gateway maps replies to them', () => {
    let now = 1000;
    const r = single();
    r.trackRecentInterest(2000, () => now);
    r.addSubscription(new FakeClient(1), '_INBOX.abc.*', null, sid('1'), 3);
    r.addSubscription(new FakeLink(2, GATEWAY), '_INBOX.gw.*', null, sid('2'), 3);
    expect(r.hasRecentInterest('_INBOX.abc.1', 3)).toBe(true);
    expect(r.hasRecentInterest('_INBOX.abc.1', 0)).toBe(false);
    expect(r.hasRecentInterest('_INBOX.gw.1', 3)).toBe(false);
    now += 2000;
    expect(r.hasRecentInterest('_INBOX.abc.1', 3)).toBe(false);
  });
});
