// The per-account gateway interest state machines, as nats-server's gateway.go runs them.
import { describe, expect, it } from 'vitest';
import { InboundInterest, InterestAction, InterestMode, OutboundInterest } from '../../../src/cluster/gateway_interest.ts';
import { gatewayHash, oldGatewayHash, parseRoutedReply, GatewayReplyMap, gatewayReplyPrefix } from '../../../src/cluster/gateway_reply.ts';

describe('inbound side (what we tell the remote)', () => {
  it('in optimistic mode answers a miss with RS- once per subject, then switches the account after the threshold', () => {
    const i = new InboundInterest(3);
    expect(i.noInterest('A', 'a', true)).toBe('RS-');
    expect(i.noInterest('A', 'a', true)).toBeNull();
    expect(i.noInterest('A', 'b', true)).toBe('RS-');
    expect(i.noInterest('A', 'c', true)).toBe('RS-');
    expect(i.noInterest('A', 'd', true)).toBe('switch');
    expect(i.switchToInterestOnly('A')).toBe(true);
    i.switchComplete('A');
    expect(i.describe()).toEqual([{ name: 'A', mode: InterestMode.INTEREST_ONLY, noInterest: 0 }]);
    // Interest-only: nothing to say on a miss; every first and last subscription is announced.
    expect(i.noInterest('A', 'e', true)).toBeNull();
    expect(i.plainChanged('A', 'x', true)).toBe('RS+');
    expect(i.plainChanged('A', 'x', false)).toBe('RS-');
  });

  it('clears an RS- with RS+ when a subscription comes (a wildcard clears what it covers)', () => {
    const i = new InboundInterest();
    i.noInterest('A', 'orders.1', true);
    i.noInterest('A', 'orders.2', true);
    expect(i.plainChanged('A', 'other', true)).toBeNull();
    expect(i.plainChanged('A', 'orders.*', true)).toBe('RS+');
    expect(i.describe()[0]!.noInterest).toBe(0);
  });

  it('answers an account without any interest with A- once, and A+ on its first subscription', () => {
    const i = new InboundInterest();
    expect(i.noInterest('B', 'x', false)).toBe('A-');
    expect(i.noInterest('B', 'y', false)).toBeNull();
    expect(i.plainChanged('B', 'x', true)).toBe('A+');
    expect(i.plainChanged('B', 'y', true)).toBeNull();
  });

  it('switches only once', () => {
    const i = new InboundInterest();
    expect(i.switchToInterestOnly('A')).toBe(true);
    expect(i.switchToInterestOnly('A')).toBe(false);
  });
});

describe('outbound side (what the remote wants)', () => {
  it('toward a pre-2.9 server: optimistic until told otherwise', () => {
    const o = new OutboundInterest(false);
    expect(o.sendsAll('A')).toBe(true);
    expect(o.unsub('A', 'x', false, false)).toBe(InterestAction.NONE);
    expect(o.suppressed('A', 'x', false)).toBe(true);
    expect(o.suppressed('A', 'x', true)).toBe(false);
    expect(o.sub('A', 'x', false)).toBe(InterestAction.NONE);
    expect(o.suppressed('A', 'x', false)).toBe(false);
    expect(o.accountUnsub('A')).toBe(true);
    expect(o.sendsAll('A')).toBe(false);
    o.accountSub('A');
    expect(o.sendsAll('A')).toBe(true);
    o.allSubsStart('A');
    expect(o.sub('A', 'y', false)).toBe(InterestAction.STORE);
    o.allSubsComplete('A');
    expect(o.sendsAll('A')).toBe(false);
    expect(o.describe()).toEqual([{ name: 'A', mode: InterestMode.INTEREST_ONLY, noInterest: 0, subs: 1, qsubs: 0 }]);
  });

  it('toward a 2.9 server: nothing on optimism; queue groups always stored', () => {
    const o = new OutboundInterest(true);
    expect(o.sendsAll('A')).toBe(false);
    expect(o.sub('A', 'plain', false)).toBe(InterestAction.NONE);
    expect(o.sub('A', 'q', true)).toBe(InterestAction.STORE);
    expect(o.unsub('A', 'q', true, true)).toBe(InterestAction.STORE);
  });
});

describe('routed replies', () => {
  it("hashes names as nats-server does and takes a routed reply apart", () => {
    expect(gatewayHash('A')).toMatch(/^[0-9A-Za-z]{6}$/);
    // As a Go 2.9.10 server hashes the gateway name "A" (seen on the wire in the interop run).
    expect(gatewayHash('A')).toBe('NUmM6c');
    expect(oldGatewayHash('A')).toMatch(/^[0-9a-f]{4}$/);
    const prefix = gatewayReplyPrefix('A', 'NSERVER');
    expect(parseRoutedReply(`${prefix}_INBOX.x`)).toEqual({ old: false, clusterHash: gatewayHash('A'), serverHash: gatewayHash('NSERVER'), subject: '_INBOX.x' });
    expect(parseRoutedReply(`$GR.${oldGatewayHash('A')}._INBOX.y`)).toEqual({ old: true, clusterHash: oldGatewayHash('A'), serverHash: '', subject: '_INBOX.y' });
    expect(parseRoutedReply('_INBOX.z')).toBeNull();
  });

  it('remembers a mapped reply for two seconds', () => {
    const m = new GatewayReplyMap();
    const routed = `${gatewayReplyPrefix('A', 'S')}_INBOX.1`;
    m.track(routed, 1000);
    expect(m.routed('_INBOX.1', 2999)).toBe(routed);
    expect(m.routed('_INBOX.1', 3000)).toBeUndefined();
  });
});
