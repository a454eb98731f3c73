// The checks every cluster must pass, whatever its members (Petrel only, or mixed with Go
// nats-server nodes): pub/sub with wildcards, a queue group spread over the nodes, request/reply
// and no-responders, unsubscribe propagation, and $SYS.REQ.SERVER.PING answered by every node.
// Clients are in the APP account, so account names travel on the routes too.
import { afterEach, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { monitor } from '../../support/server.ts';
import { eventually } from '../../support/cluster.ts';
import type { ClusterNode } from '../../support/cluster.ts';
import { collect } from '../util.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Resolves once `node` has (or, with present false, no longer has) route interest in `subject`. */
export function remoteInterest(node: ClusterNode, subject: string, present = true): Promise<true> {
  return eventually(`${node.name} ${present ? 'sees' : 'no longer sees'} remote interest in ${subject}`, async () => {
    const r = await monitor(node, '/routez?subs=1');
    const has = ((r.routes ?? []) as { subscriptions_list?: string[] }[]).some((x) => (x.subscriptions_list ?? []).includes(subject));
    return has === present ? true : undefined;
  });
}

export function crossNodeChecks(label: string, nodes: () => ClusterNode[]): void {
  const open: NatsConnection[] = [];
  const conn = async (node: ClusterNode, user = 'app'): Promise<NatsConnection> => {
    const nc = await connect({ servers: `127.0.0.1:${node.port}`, user, pass: user, reconnect: false });
    open.push(nc);
    return nc;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((nc) => nc.close().catch(() => undefined)));
  });

  it(`${label}: pub/sub with wildcards across nodes`, async () => {
    const [n0, n1, n2] = nodes();
    const [p0, s1, s2] = await Promise.all([conn(n0!), conn(n1!), conn(n2!)]);
    const star = s1.subscribe('orders.*.eu');
    const full = s2.subscribe('orders.>');
    await Promise.all([s1.flush(), s2.flush()]);
    await Promise.all([remoteInterest(n0!, 'orders.*.eu'), remoteInterest(n0!, 'orders.>'), remoteInterest(n1!, 'orders.>')]);
    p0.publish('orders.1.eu', enc.encode('a'));
    p0.publish('orders.2.us', enc.encode('b'));
    s1.publish('orders.3.eu', enc.encode('c'));
    await Promise.all([p0.flush(), s1.flush()]);
    expect((await collect(star, 2)).map((m) => m.subject).sort()).toEqual(['orders.1.eu', 'orders.3.eu']);
    expect((await collect(full, 3)).map((m) => m.subject).sort()).toEqual(['orders.1.eu', 'orders.2.us', 'orders.3.eu']);
  });

  it(`${label}: a queue group spread over the nodes gets every message exactly once`, async () => {
    const all = nodes();
    const conns = await Promise.all(all.map((n) => conn(n)));
    const seen = new Map<number, number>();
    const perNode = all.map(() => 0);
    conns.forEach((nc, i) => {
      for (let k = 0; k < 2; k++) {
        nc.subscribe('jobs', {
          queue: 'workers',
          callback: (_e, m: Msg) => {
            const seq = Number(dec.decode(m.data));
            seen.set(seq, (seen.get(seq) ?? 0) + 1);
            perNode[i]!++;
          },
        });
      }
    });
    await Promise.all(conns.map((nc) => nc.flush()));
    await Promise.all(all.map((n) => remoteInterest(n, 'jobs')));
    const total = 300;
    for (let s = 0; s < total; s++) conns[s % conns.length]!.publish('jobs', enc.encode(String(s)));
    await Promise.all(conns.map((nc) => nc.flush()));
    await eventually('every job delivered', async () => seen.size === total);
    // A last round trip through every node, so a duplicate still in flight would have arrived.
    await Promise.all(conns.map((nc) => nc.flush()));
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(perNode.every((n) => n > 0)).toBe(true);
  });

  it(`${label}: a queue group with no member on the publishing node is served by the other nodes`, async () => {
    const [n0, n1, n2] = nodes();
    const [p0, s1, s2] = await Promise.all([conn(n0!), conn(n1!), conn(n2!)]);
    const got = [0, 0];
    s1.subscribe('far', { queue: 'g', callback: () => void got[0]!++ });
    s2.subscribe('far', { queue: 'g', callback: () => void got[1]!++ });
    await Promise.all([s1.flush(), s2.flush()]);
    await remoteInterest(n0!, 'far');
    await eventually('both nodes announce the group', async () => {
      const r = await monitor(n0!, '/routez?subs=1');
      return ((r.routes ?? []) as { subscriptions_list?: string[] }[]).filter((x) => (x.subscriptions_list ?? []).includes('far')).length === 2;
    });
    for (let i = 0; i < 200; i++) p0.publish('far', enc.encode('x'));
    await p0.flush();
    await eventually('200 delivered', async () => got[0]! + got[1]! === 200);
    await Promise.all([s1.flush(), s2.flush()]);
    expect(got[0]! + got[1]!).toBe(200);
    // Picked by member counts: with 200 messages both nodes get some (all on one: p = 2^-199).
    expect(got[0]! > 0 && got[1]! > 0).toBe(true);
  });

  it(`${label}: request/reply and no-responders across nodes`, async () => {
    const [n0, n1, n2] = nodes();
    const [a, b, c] = await Promise.all([conn(n0!), conn(n1!), conn(n2!)]);
    b.subscribe('svc.echo', { callback: (_e, m) => void m.respond(enc.encode(`echo:${dec.decode(m.data)}`)) });
    await b.flush();
    await Promise.all([remoteInterest(n0!, 'svc.echo'), remoteInterest(n2!, 'svc.echo')]);
    expect(dec.decode((await a.request('svc.echo', enc.encode('x'), { timeout: 5000 })).data)).toBe('echo:x');
    expect(dec.decode((await c.request('svc.echo', enc.encode('y'), { timeout: 5000 })).data)).toBe('echo:y');
    const err = await a.request('svc.none', enc.encode('z'), { timeout: 5000 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(String(err)).toMatch(/no responders/i);
  });

  it(`${label}: unsubscribe propagates`, async () => {
    const [n0, n1] = nodes();
    const [a, b] = await Promise.all([conn(n0!), conn(n1!)]);
    const sub = b.subscribe('gone.soon', { callback: (_e, m) => void m.respond(enc.encode('here')) });
    await b.flush();
    await remoteInterest(n0!, 'gone.soon');
    expect(dec.decode((await a.request('gone.soon', enc.encode(''), { timeout: 5000 })).data)).toBe('here');
    sub.unsubscribe();
    await b.flush();
    await remoteInterest(n0!, 'gone.soon', false);
    const err = await a.request('gone.soon', enc.encode(''), { timeout: 5000 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(String(err)).toMatch(/no responders/i);
  });

  it(`${label}: $SYS.REQ.SERVER.PING collects one reply per node`, async () => {
    const all = nodes();
    const sys = await conn(all[0]!, 'sys');
    const inbox = sys.subscribe('_INBOX.ping.>');
    await sys.flush();
    await eventually('every node announces its system client', async () => {
      const r = await monitor(all[0]!, '/routez?subs=1');
      const withPing = ((r.routes ?? []) as { subscriptions_list?: string[] }[]).filter((x) => (x.subscriptions_list ?? []).includes('$SYS.REQ.SERVER.PING'));
      return withPing.length === all.length - 1;
    });
    sys.publish('$SYS.REQ.SERVER.PING', new Uint8Array(0), { reply: '_INBOX.ping.1' });
    const replies = await collect(inbox, all.length, 'one statsz per node');
    const ids = replies.map((m) => (JSON.parse(dec.decode(m.data)) as { server: { id: string } }).server.id).sort();
    const expected = (await Promise.all(all.map(async (n) => (await monitor(n, '/varz')).server_id as string))).sort();
    expect(ids).toEqual(expected);
    const one = JSON.parse(dec.decode(replies[0]!.data)) as { server: Record<string, unknown>; statsz: Record<string, unknown> };
    expect(one.server).toMatchObject({ cluster: 'c1' });
    expect(one.statsz).toHaveProperty('connections');
    expect(one.statsz).toHaveProperty('routes');
  });
}
