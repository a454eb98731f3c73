// The per-account interest state of a gateway, on both ends, as nats-server's gateway.go keeps
// it (outsie on the outbound connection, insie on the inbound one). A pure state machine: the
// connections turn its answers into subscriptions and protocol lines.
//
// Optimistic mode: the outbound side sends everything of an account except what the remote said
// it has no interest in (RS- of a subject, A- of the whole account). After too many RS- the
// inbound side switches the account to interest-only mode: an INFO announces it, every
// subscription follows as RS+, a second INFO ends it, and from then on the outbound side sends
// only what matches a subscription the remote announced. Servers from nats-server 2.9 announce
// `gateway_iom` and switch every account as soon as the gateway opens.

import { subjectMatches } from '../routing/subjects.ts';
import { INTEREST_ONLY_THRESHOLD } from './gateway_info.ts';

export const InterestMode = { OPTIMISTIC: 0, TRANSITIONING: 1, INTEREST_ONLY: 2 } as const;
export type InterestMode = (typeof InterestMode)[keyof typeof InterestMode];
/** As /gatewayz shows the modes (nats-server's GatewayInterestMode.String). */
export const INTEREST_MODE_NAMES = ['Optimistic', 'Transitioning', 'Interest-Only'] as const;

/** True when `wild` (a wildcard subject) matches every subject `literal` stands for. */
function covers(wild: string, literal: string): boolean {
  return subjectMatches(literal, wild);
}

interface OutAccount {
  mode: InterestMode;
  /** Subjects the remote has no interest in; null once interest-only (or never optimistic). */
  ni: Set<string> | null;
  qsubs: number;
  /** Subscriptions stored for the account (plain and queue). */
  stored: number;
}

/** What the outbound connection does with a remote RS+/RS-. */
export const InterestAction = {
  /** Keep (or drop) it as a subscription of the connection. */
  STORE: 0,
  /** Nothing to keep: a no-interest mark was set or cleared, or the line is ignored. */
  NONE: 1,
} as const;
export type InterestAction = (typeof InterestAction)[keyof typeof InterestAction];

/** The outbound side: what the remote cluster wants, account by account. */
export class OutboundInterest {
  /** The remote switches accounts to interest-only mode right away (`gateway_iom`). */
  readonly remoteInterestOnly: boolean;
  /** An account absent is optimistic; null means the remote sent A- (no interest at all). */
  private readonly accounts = new Map<string, OutAccount | null>();

  constructor(remoteInterestOnly: boolean) {
    this.remoteInterestOnly = remoteInterestOnly;
  }

  /** Whether plain messages of the account go out on optimism (the connection keeps a catch-all subscription then). */
  sendsAll(account: string): boolean {
    if (this.remoteInterestOnly) return false;
    const e = this.accounts.get(account);
    if (e === undefined) return !this.accounts.has(account);
    return e !== null && e.ni !== null;
  }

  /** Whether a message on `subject` must be held back (A-, or an RS- in optimistic mode); queue-group messages always go. */
  suppressed(account: string, subject: string, hasQueues: boolean): boolean {
    if (hasQueues) return false;
    const e = this.accounts.get(account);
    if (e === null) return true;
    return e !== undefined && !this.remoteInterestOnly && e.ni !== null && e.ni.has(subject);
  }

  /** A+: the remote wants the account again. */
  accountSub(account: string): void {
    const e = this.accounts.get(account);
    if (!this.accounts.has(account) || (e !== null && e!.qsubs > 0)) return;
    this.accounts.delete(account);
  }

  /** A-: no interest at all in the account. Returns true when its plain subscriptions should go. */
  accountUnsub(account: string): boolean {
    const e = this.accounts.get(account);
    if (e !== undefined && e !== null && e.qsubs > 0) {
      e.ni = new Set();
      return false;
    }
    this.accounts.set(account, null);
    return true;
  }

  /** RS+: store it as a subscription, or clear a no-interest mark (optimistic plain interest). */
  sub(account: string, subject: string, queue: boolean): InterestAction {
    let e = this.accounts.get(account) ?? null;
    if (e === null) {
      if (!queue) return InterestAction.NONE;
      e = { mode: InterestMode.OPTIMISTIC, ni: new Set(), qsubs: 0, stored: 0 };
      this.accounts.set(account, e);
    } else if (!queue && e.mode === InterestMode.OPTIMISTIC) {
      if (e.ni !== null) {
        if (/[*>]/.test(subject)) {
          for (const k of e.ni) if (covers(subject, k)) e.ni.delete(k);
        } else {
          e.ni.delete(subject);
        }
      }
      return InterestAction.NONE;
    }
    e.stored++;
    if (queue) e.qsubs++;
    return InterestAction.STORE;
  }

  /** RS-: drop a stored subscription, or mark no interest (optimistic plain interest). `had`: it was stored. */
  unsub(account: string, subject: string, queue: boolean, had: boolean): InterestAction {
    let e = this.accounts.get(account) ?? null;
    if (e === null) {
      if (queue) return InterestAction.NONE;
      e = { mode: InterestMode.OPTIMISTIC, ni: new Set(), qsubs: 0, stored: 0 };
      this.accounts.set(account, e);
    }
    if (queue || e.mode !== InterestMode.OPTIMISTIC) {
      if (!had) return InterestAction.NONE;
      e.stored--;
      if (queue) e.qsubs--;
      if (e.stored === 0 && e.mode === InterestMode.OPTIMISTIC && (e.ni === null || e.ni.size === 0)) this.accounts.delete(account);
      return InterestAction.STORE;
    }
    e.ni?.add(subject);
    return InterestAction.NONE;
  }

  /** INFO gateway_cmd 2: every subscription of the account follows. */
  allSubsStart(account: string): void {
    const e = this.accounts.get(account);
    if (e) e.mode = InterestMode.TRANSITIONING;
    else this.accounts.set(account, { mode: InterestMode.TRANSITIONING, ni: null, qsubs: 0, stored: 0 });
  }

  /** INFO gateway_cmd 3: the account is interest-only from now on. */
  allSubsComplete(account: string): void {
    const e = this.accounts.get(account);
    if (!e) return;
    e.ni = null;
    e.mode = InterestMode.INTEREST_ONLY;
  }

  /** /gatewayz: each account with its mode, no-interest count and subscriptions. */
  describe(): { name: string; mode: InterestMode; noInterest: number; subs: number; qsubs: number }[] {
    return [...this.accounts].map(([name, e]) =>
      e === null ? { name, mode: InterestMode.OPTIMISTIC, noInterest: 0, subs: 0, qsubs: 0 } : { name, mode: e.mode, noInterest: e.ni?.size ?? 0, subs: e.stored, qsubs: e.qsubs },
    );
  }
}

interface InAccount {
  mode: InterestMode;
  /** Subjects RS- was sent for (optimistic mode); null in interest-only mode. */
  ni: Set<string> | null;
}

/** What the inbound side sends the remote. */
export type InboundAction = 'RS+' | 'RS-' | 'A+' | 'A-' | 'switch' | null;

/** The inbound side: what this cluster told the remote it does not want, account by account. */
export class InboundInterest {
  /** An account absent is optimistic and nothing was said; null means A- was sent. */
  private readonly accounts = new Map<string, InAccount | null>();
  private readonly threshold: number;

  constructor(threshold = INTEREST_ONLY_THRESHOLD) {
    this.threshold = threshold;
  }

  /**
   * Starts the switch of an account to interest-only mode; true when the caller must now send
   * the start command, every plain subscription of the account, and the complete command.
   */
  switchToInterestOnly(account: string): boolean {
    let e = this.accounts.get(account) ?? null;
    if (e === null) {
      e = { mode: InterestMode.OPTIMISTIC, ni: null };
      this.accounts.set(account, e);
    }
    if (e.mode !== InterestMode.OPTIMISTIC) return false;
    e.ni = null;
    e.mode = InterestMode.TRANSITIONING;
    return true;
  }

  /** The account's subscriptions were all sent. */
  switchComplete(account: string): void {
    const e = this.accounts.get(account);
    if (e) e.mode = InterestMode.INTEREST_ONLY;
  }

  /**
   * A message arrived that nothing here wants: A- when the account has no interest at all,
   * RS- for the subject in optimistic mode (once), or 'switch' after the threshold; nothing in
   * interest-only mode (the remote only sends what it was told about).
   */
  noInterest(account: string, subject: string, accountHasInterest: boolean): InboundAction {
    const e = this.accounts.get(account) ?? null;
    if (!accountHasInterest) {
      if (e !== null && e.mode !== InterestMode.OPTIMISTIC) return null;
      if (e === null && this.accounts.has(account)) return null;
      this.accounts.set(account, null);
      return 'A-';
    }
    if (e === null) {
      this.accounts.set(account, { mode: InterestMode.OPTIMISTIC, ni: new Set([subject]) });
      return 'RS-';
    }
    if (e.ni === null || e.ni.has(subject)) return null;
    if (e.ni.size >= this.threshold) return 'switch';
    e.ni.add(subject);
    return 'RS-';
  }

  /** The first (added) or last plain subscription on `subject` in the cluster: what to tell the remote. */
  plainChanged(account: string, subject: string, added: boolean): InboundAction {
    const e = this.accounts.get(account);
    if (e === undefined) return null;
    if (e === null) {
      if (!added) return null;
      this.accounts.delete(account);
      return 'A+';
    }
    if (e.ni !== null) {
      if (!added) return null;
      let cleared = false;
      if (/[*>]/.test(subject)) {
        for (const k of e.ni) {
          if (covers(subject, k)) {
            e.ni.delete(k);
            cleared = true;
          }
        }
      } else {
        cleared = e.ni.delete(subject);
      }
      return cleared ? 'RS+' : null;
    }
    if (e.mode === InterestMode.INTEREST_ONLY) return added ? 'RS+' : 'RS-';
    return null;
  }

  /** A queue group's first member: an earlier A- no longer holds (nothing else to say). */
  queueAdded(account: string): void {
    if (this.accounts.has(account) && this.accounts.get(account) === null) this.accounts.delete(account);
  }

  /** /gatewayz: each account with its mode and no-interest count. */
  describe(): { name: string; mode: InterestMode; noInterest: number }[] {
    return [...this.accounts].map(([name, e]) => ({ name, mode: e?.mode ?? InterestMode.OPTIMISTIC, noInterest: e?.ni?.size ?? 0 }));
  }
}
