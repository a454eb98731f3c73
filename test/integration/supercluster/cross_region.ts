// The checks every pair of linked servers must pass, whatever links them (a gateway between
// regions, a leaf connection, a leaf through its hub and a gateway) and whoever they are (Petrel
// or Go nats-server): pub/sub, request/reply and queue groups, from one side to the other. Interest
// travels asynchronously between servers, so each check first probes its subject until a
// message gets through (bounded: a failing link fails the test), then counts exactly.
import { expect } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { eventually } from '../../support/cluster.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
let seq = 0;

export interface Side {
  /** For labels. */
  name: string;
  port: number;
  user?: string;
}

export async function open(side: Side): Promise<NatsConnection> {
  return connect({ servers: `127.0.0.1:${side.port}`, user: side.user, pass: side.user, reconnect: false });
}

/** Publishes `subject` until `seen()` says a message arrived (the interest crossed). */
export async function probe(pub: NatsConnection, subject: string, seen: () => boolean, label: string): Promise<void> {
  await eventually(label, async () => {
    if (seen()) return true;
    pub.publish(subject, enc.encode('probe'));
    await pub.flush();
    await new Promise((r) => setTimeout(r, 50));
    return seen() ? true : undefined;
  }, 20_000);
}

/** A subscriber on `to` gets exactly what a publisher on `from` sends, with headers and a reply. */
export async function checkPubSub(from: Side, to: Side): Promise<void> {
  const [p, s] = await Promise.all([open(from), open(to)]);
  try {
    const base = `xr.${++seq}`;
    const got: Msg[] = [];
    let probes = 0;
    s.subscribe(`${base}.>`, {
      callback: (_e, m) => {
        if (m.subject.endsWith('.probe')) probes++;
        else got.push(m);
      },
    });
    await s.flush();
    await probe(p, `${base}.probe`, () => probes > 0, `${from.name} reaches ${to.name} on ${base}.>`);
    for (let i = 0; i < 50; i++) p.publish(`${base}.data.${i}`, enc.encode(String(i)), { reply: `${base}.reply` });
    await p.flush();
    await eventually(`${to.name} got 50 messages from ${from.name}`, async () => (got.length >= 50 ? true : undefined));
    await s.flush();
    expect(got.map((m) => dec.decode(m.data))).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    expect(got[0]!.subject).toBe(`${base}.data.0`);
    expect(got[0]!.reply).toBe(`${base}.reply`);
  } finally {
    await Promise.all([p.close(), s.close()]);
  }
}

/** A requester on `from` gets the answer of a responder on `to` (fresh inboxes: replies are routed back). */
export async function checkRequestReply(from: Side, to: Side): Promise<void> {
  const [r, s] = await Promise.all([open(from), open(to)]);
  try {
    const subject = `svc.${++seq}`;
    s.subscribe(subject, { callback: (_e, m) => void m.respond(enc.encode(`${to.name}:${dec.decode(m.data)}`)) });
    await s.flush();
    const answer = await eventually(`${from.name} gets an answer from ${to.name}`, async () => {
      try {
        return dec.decode((await r.request(subject, enc.encode('ping'), { timeout: 500 })).data);
      } catch {
        return undefined;
      }
    }, 20_000);
    expect(answer).toBe(`${to.name}:ping`);
    // Every request now, each with its own fresh inbox subscription on a new connection.
    const fresh = await open(from);
    try {
      for (let i = 0; i < 5; i++) expect(dec.decode((await fresh.request(subject, enc.encode(String(i)), { timeout: 5000 })).data)).toBe(`${to.name}:${i}`);
    } finally {
      await fresh.close();
    }
  } finally {
    await Promise.all([r.close(), s.close()]);
  }
}

/**
 * A queue group with members on both sides: what `from` publishes goes to its own side's member;
 * with none left there, to the other side's.
 */
export async function checkQueueLocalFirst(from: Side, to: Side): Promise<void> {
  const [p, local, far] = await Promise.all([open(from), open(from), open(to)]);
  try {
    const subject = `work.${++seq}`;
    let nearCount = 0;
    let farCount = 0;
    far.subscribe(subject, { queue: 'workers', callback: () => void farCount++ });
    await far.flush();
    await probe(p, subject, () => farCount > 0, `${from.name} reaches ${to.name}'s queue member`);
    const near = local.subscribe(subject, { queue: 'workers', callback: () => void nearCount++ });
    await local.flush();
    const farBefore = farCount;
    for (let i = 0; i < 100; i++) p.publish(subject, enc.encode('x'));
    await p.flush();
    await eventually('100 served on the publishing side', async () => (nearCount === 100 ? true : undefined));
    expect(farCount).toBe(farBefore);
    near.unsubscribe();
    await local.flush();
    for (let i = 0; i < 20; i++) p.publish(subject, enc.encode('x'));
    await p.flush();
    await eventually(`the other side serves the group (${farCount - farBefore}/20)`, async () => (farCount - farBefore === 20 ? true : undefined));
  } finally {
    await Promise.all([p.close(), local.close(), far.close()]);
  }
}
