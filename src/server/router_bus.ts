// The JetStream engine's bus, backed by the JetStream host's Router: internal subscriptions
// join the node-wide interest like any client's, and internal publishes are routed like any
// client's publish (to client connections in the routing workers through the lanes).

import type { Outbox, Router, Subscription } from '../routing/router.ts';
import { NO_HEADERS, SubKind } from '../routing/router.ts';
import { InterestWatchers, type BusHandler, type BusSubscription } from '../jetstream/bus.ts';
import type { DeliverAsBus } from '../jetstream/consumers/consumer.ts';

const EMPTY = new Uint8Array(0);

export class RouterBus implements DeliverAsBus, Outbox {
  readonly id = 0;
  readonly echo = true;
  readonly subKind = SubKind.INTERNAL;
  private readonly router: Router;
  private readonly handlers = new Map<number, BusHandler>();
  private nextSid = 1;
  /** Called after every publish so the host flushes lanes once per turn. */
  private readonly onPublish: () => void;
  private readonly watchers = new InterestWatchers();
  /** The account (by number) whose subjects this bus subscribes and publishes in. */
  readonly account: number;

  /** The host forwards the Router's onInterestChange for this bus's account to interestChanged. */
  constructor(router: Router, onPublish: () => void, account = 0) {
    this.router = router;
    this.onPublish = onPublish;
    this.account = account;
  }

  /** A subscription on `subject` in this bus's account came or went. */
  interestChanged(subject: string): void {
    this.watchers.changed(subject);
  }

  subscribe(subject: string, queue: string | null, handler: BusHandler): BusSubscription {
    const sid = Buffer.from(String(this.nextSid++));
    const sub = this.router.addSubscription(this, subject, queue, sid, this.account);
    this.handlers.set(sub.id, handler);
    this.onPublish();
    return {
      unsubscribe: () => {
        if (!this.handlers.delete(sub.id)) return;
        this.router.removeSubscription(sub);
        this.onPublish();
      },
    };
  }

  publish(subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    this.publishAs(subject, subject, reply, hdr, data);
  }

  /** Routes by `routeSubject` while receivers see `subject` (JetStream deliveries to inboxes). */
  publishAs(routeSubject: string, subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    if (hdr === null || hdr.length === 0) {
      this.router.publish(null, subject, reply, NO_HEADERS, data, routeSubject, this.account);
    } else {
      const msg = new Uint8Array(hdr.length + data.length);
      msg.set(hdr, 0);
      msg.set(data, hdr.length);
      this.router.publish(null, subject, reply, hdr.length, msg, routeSubject, this.account);
    }
    this.onPublish();
  }

  hasInterest(subject: string): boolean {
    return this.router.hasInterest(subject, this.account);
  }

  watchInterest(subject: string, onChange: () => void): () => void {
    return this.watchers.watch(subject, onChange);
  }

  // Outbox: messages for internal subscriptions.
  deliver(sub: Subscription, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): void {
    const h = this.handlers.get(sub.id);
    if (!h) return;
    if (hdrLen === NO_HEADERS) h(subject, reply, null, msg);
    else h(subject, reply, msg.subarray(0, hdrLen), hdrLen === msg.length ? EMPTY : msg.subarray(hdrLen));
  }

  barrierDone(): void {}
}
