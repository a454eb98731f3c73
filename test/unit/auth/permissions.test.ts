import { describe, expect, it } from 'vitest';
import type { Permissions } from '../../../src/config/options.ts';
import {
  compilePermissions,
  pubViolation,
  replyViolation,
  subViolation,
} from '../../../src/auth/permissions.ts';

const TWO_MINUTES_MS = 120_000;

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('publish permissions', () => {
  it('allows everything without a publish block', () => {
    const p = compilePermissions({ subscribe: { allow: ['x'] } });
    expect(p.canPublish('anything.at.all')).toBe(true);
  });

  it('allows only the allow list, with wildcards', () => {
    const p = compilePermissions({ publish: { allow: ['foo', 'bar.*', 'baz.>'] } });
    expect(p.canPublish('foo')).toBe(true);
    expect(p.canPublish('foo.x')).toBe(false);
    expect(p.canPublish('bar.x')).toBe(true);
    expect(p.canPublish('bar')).toBe(false);
    expect(p.canPublish('bar.x.y')).toBe(false);
    expect(p.canPublish('baz.x.y')).toBe(true);
    expect(p.canPublish('baz')).toBe(false);
    expect(p.canPublish('other')).toBe(false);
  });

  it('treats a present but empty allow list as "nothing"', () => {
    const p = compilePermissions({ publish: { allow: [] } });
    expect(p.canPublish('foo')).toBe(false);
  });

  it('lets deny override allow', () => {
    const p = compilePermissions({ publish: { allow: ['foo.>'], deny: ['foo.secret', 'foo.private.*'] } });
    expect(p.canPublish('foo.public')).toBe(true);
    expect(p.canPublish('foo.secret')).toBe(false);
    expect(p.canPublish('foo.private.x')).toBe(false);
    expect(p.canPublish('foo.private.x.y')).toBe(true);
  });

  it('denies with only a deny list, allowing the rest', () => {
    const p = compilePermissions({ publish: { deny: ['$SYS.>'] } });
    expect(p.canPublish('$SYS.REQ.SERVER')).toBe(false);
    expect(p.canPublish('orders.new')).toBe(true);
  });

  it('matches a subject with empty tokens against nothing', () => {
    const allowAll = compilePermissions({ publish: { allow: ['>'] } });
    expect(allowAll.canPublish('foo..bar')).toBe(false);
    const denyAll = compilePermissions({ publish: { deny: ['>'] } });
    expect(denyAll.canPublish('foo..bar')).toBe(true);
  });

  it('keeps answering correctly past the bounded cache', () => {
    const p = compilePermissions({ publish: { allow: ['ok.*'] } });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 1_000; i++) {
        expect(p.canPublish(`ok.${i}`)).toBe(true);
        expect(p.canPublish(`no.${i}`)).toBe(false);
      }
    }
  });
});

describe('subscribe permissions', () => {
  it('allows only the allow list, deny overriding it', () => {
    const p = compilePermissions({ subscribe: { allow: ['foo.*', 'bar.>'], deny: ['foo.secret'] } });
    expect(p.canSubscribe('foo.x', null)).toBe(true);
    expect(p.canSubscribe('foo.secret', null)).toBe(false);
    expect(p.canSubscribe('bar.a.b', null)).toBe(true);
    expect(p.canSubscribe('baz', null)).toBe(false);
  });

  it('checks a wildcard SUB literally against the allow list, as nats-server', () => {
    const p = compilePermissions({ subscribe: { allow: ['foo.*', 'bar.>'] } });
    expect(p.canSubscribe('foo.*', null)).toBe(true);
    expect(p.canSubscribe('bar.*', null)).toBe(true);
    expect(p.canSubscribe('bar.>', null)).toBe(true);
    // `*` in the list matches the token `>` of the SUB: nats-server accepts this.
    expect(p.canSubscribe('foo.>', null)).toBe(true);
    expect(p.canSubscribe('>', null)).toBe(false);
    expect(p.canSubscribe('*.x', null)).toBe(false);
  });

  it('accepts a wildcard SUB overlapping a deny entry and filters the deny at delivery', () => {
    const p = compilePermissions({ subscribe: { deny: ['foo.secret'] } });
    expect(p.deliveryFilterOn).toBe(false);
    expect(p.canSubscribe('foo.secret', null)).toBe(false);
    expect(p.canSubscribe('foo.*', null)).toBe(true);
    expect(p.deliveryFilterOn).toBe(true);
    expect(p.canDeliver('foo.secret', null)).toBe(false);
    expect(p.canDeliver('foo.public', null)).toBe(true);
    // The answers are cached; they must stay the same.
    expect(p.canDeliver('foo.secret', null)).toBe(false);
    expect(p.canDeliver('foo.public', null)).toBe(true);
  });

  it('denies a SUB that the deny entry covers even as a wildcard', () => {
    const p = compilePermissions({ subscribe: { deny: ['foo.>'] } });
    expect(p.canSubscribe('foo.*', null)).toBe(false);
    expect(p.canSubscribe('foo.>', null)).toBe(false);
    expect(p.canSubscribe('>', null)).toBe(true);
    expect(p.canDeliver('foo.a', null)).toBe(false);
    expect(p.canDeliver('bar', null)).toBe(true);
  });

  it('leaves the delivery filter off for SUBs that cannot overlap a deny', () => {
    const p = compilePermissions({ subscribe: { deny: ['foo.secret'] } });
    expect(p.canSubscribe('bar.*', null)).toBe(true);
    expect(p.canSubscribe('foo.public', null)).toBe(true);
    expect(p.deliveryFilterOn).toBe(false);
    expect(p.canDeliver('foo.secret', null)).toBe(true);
  });

  describe('queue permissions', () => {
    it('"foo" allows foo with any queue', () => {
      const p = compilePermissions({ subscribe: { allow: ['foo'] } });
      expect(p.canSubscribe('foo', null)).toBe(true);
      expect(p.canSubscribe('foo', 'any')).toBe(true);
    });

    it('"foo v1" allows only queue v1 on foo, no plain SUB', () => {
      const p = compilePermissions({ subscribe: { allow: ['foo v1'] } });
      expect(p.canSubscribe('foo', 'v1')).toBe(true);
      expect(p.canSubscribe('foo', 'v2')).toBe(false);
      expect(p.canSubscribe('foo', null)).toBe(false);
    });

    it('"foo" plus "foo v1" allows plain foo but only queue v1', () => {
      const p = compilePermissions({ subscribe: { allow: ['foo', 'foo v1'] } });
      expect(p.canSubscribe('foo', null)).toBe(true);
      expect(p.canSubscribe('foo', 'v1')).toBe(true);
      expect(p.canSubscribe('foo', 'v2')).toBe(false);
    });

    it('matches wildcard queue names', () => {
      const p = compilePermissions({ subscribe: { allow: ['foo.> workers.*'] } });
      expect(p.canSubscribe('foo.bar', 'workers.east')).toBe(true);
      expect(p.canSubscribe('foo.bar', 'workers')).toBe(false);
      expect(p.canSubscribe('foo.bar', 'workers.east.1')).toBe(false);
      expect(p.canSubscribe('foo.bar', 'other.east')).toBe(false);
    });

    it('denies a queue named in the deny list, filtering it at delivery too', () => {
      const p = compilePermissions({ subscribe: { deny: ['foo bad'] } });
      expect(p.canSubscribe('foo', 'bad')).toBe(false);
      expect(p.canSubscribe('foo', 'good')).toBe(true);
      expect(p.canSubscribe('foo', null)).toBe(true);
      expect(p.canSubscribe('*', 'bad')).toBe(true);
      expect(p.deliveryFilterOn).toBe(true);
      expect(p.canDeliver('foo', 'bad')).toBe(false);
      expect(p.canDeliver('foo', 'good')).toBe(true);
      expect(p.canDeliver('foo', null)).toBe(true);
    });

    it('never allows the reserved _sys_ queue', () => {
      const p = compilePermissions({ subscribe: { allow: ['>'] } });
      expect(p.canSubscribe('foo', '_sys_')).toBe(false);
    });
  });
});

describe('allow_responses', () => {
  const responder = (maxMsgs: number, expiresMs: number): Permissions => ({
    subscribe: { allow: ['requests.>'] },
    allowResponses: { maxMsgs, expiresMs },
  });

  it('turns off the blanket publish allow', () => {
    const p = compilePermissions(responder(1, TWO_MINUTES_MS));
    expect(p.canPublish('anything')).toBe(false);
    expect(p.canPublish('_INBOX.abc')).toBe(false);
  });

  it('keeps an explicit publish allow list', () => {
    const p = compilePermissions({ publish: { allow: ['events.>'] }, allowResponses: { maxMsgs: 1, expiresMs: 0 } });
    expect(p.canPublish('events.x')).toBe(true);
    expect(p.canPublish('other')).toBe(false);
  });

  it('lets the client answer a delivered reply up to maxMsgs times', () => {
    const clock = fakeClock();
    const p = compilePermissions(responder(2, TWO_MINUTES_MS), clock.now);
    p.recordReply('_INBOX.r1');
    expect(p.canPublish('_INBOX.r1')).toBe(true);
    expect(p.canPublish('_INBOX.r1')).toBe(true);
    expect(p.canPublish('_INBOX.r1')).toBe(false);
    expect(p.canPublish('_INBOX.r2')).toBe(false);
  });

  it('defaults to one response', () => {
    const clock = fakeClock();
    const p = compilePermissions(responder(1, TWO_MINUTES_MS), clock.now);
    p.recordReply('_INBOX.r1');
    expect(p.canPublish('_INBOX.r1')).toBe(true);
    expect(p.canPublish('_INBOX.r1')).toBe(false);
    // A new request with the same reply grants again.
    p.recordReply('_INBOX.r1');
    expect(p.canPublish('_INBOX.r1')).toBe(true);
  });

  it('expires a grant after expiresMs', () => {
    const clock = fakeClock();
    const p = compilePermissions(responder(5, 1_000), clock.now);
    p.recordReply('_INBOX.r1');
    clock.advance(1_000);
    expect(p.canPublish('_INBOX.r1')).toBe(true); // exactly at the limit: still valid
    clock.advance(1);
    expect(p.canPublish('_INBOX.r1')).toBe(false);
    expect(p.canPublish('_INBOX.r1')).toBe(false);
  });

  it('treats maxMsgs and expiresMs of 0 as no limit', () => {
    const clock = fakeClock();
    const p = compilePermissions(responder(0, 0), clock.now);
    p.recordReply('_INBOX.r1');
    clock.advance(10 * TWO_MINUTES_MS);
    for (let i = 0; i < 100; i++) expect(p.canPublish('_INBOX.r1')).toBe(true);
  });

  it('does not track replies the client may publish to anyway', () => {
    const p = compilePermissions({ publish: { allow: ['_INBOX.>'] }, allowResponses: { maxMsgs: 1, expiresMs: 0 } });
    p.recordReply('_INBOX.r1');
    expect(p.pendingReplies).toBe(0);
    expect(p.canPublish('_INBOX.r1')).toBe(true);
    expect(p.canPublish('_INBOX.r1')).toBe(true);
  });

  it('ignores replies without allow_responses', () => {
    const p = compilePermissions({ publish: { allow: ['x'] } });
    p.recordReply('_INBOX.r1');
    expect(p.pendingReplies).toBe(0);
    expect(p.canPublish('_INBOX.r1')).toBe(false);
  });

  it('sweeps used-up and expired grants so the map stays bounded', () => {
    const clock = fakeClock();
    const p = compilePermissions(responder(1, 1_000), clock.now);
    for (let i = 0; i < 10; i++) p.recordReply(`_INBOX.old.${i}`);
    expect(p.canPublish('_INBOX.old.0')).toBe(true); // used up
    clock.advance(1_500); // everything old has expired and a sweep is due
    p.recordReply('_INBOX.new');
    expect(p.pendingReplies).toBe(1);
    expect(p.canPublish('_INBOX.new')).toBe(true);
  });
});

describe('violation texts', () => {
  it('match nats-server', () => {
    expect(pubViolation('foo.bar')).toBe('Permissions Violation for Publish to "foo.bar"');
    expect(subViolation('foo.*')).toBe('Permissions Violation for Subscription to "foo.*"');
    expect(subViolation('foo', 'q1')).toBe('Permissions Violation for Subscription to "foo" using queue "q1"');
    expect(subViolation('foo', null)).toBe('Permissions Violation for Subscription to "foo"');
    expect(replyViolation('_R_.x')).toBe('Permissions Violation for Publish with Reply of "_R_.x"');
  });

  it('quote like Go %q', () => {
    expect(pubViolation('a"b\\c')).toBe('Permissions Violation for Publish to "a\\"b\\\\c"');
    expect(pubViolation('a\x01\x7f')).toBe('Permissions Violation for Publish to "a\\x01\\x7f"');
    // Latin1 strings: valid UTF-8 stays as sent, a lone high byte is escaped.
    const utf8E = Buffer.from('é', 'utf8').toString('latin1');
    expect(pubViolation(`caf${utf8E}`)).toBe(`Permissions Violation for Publish to "caf${utf8E}"`);
    expect(pubViolation('caf\xe9')).toBe('Permissions Violation for Publish to "caf\\xe9"');
    const nbsp = Buffer.from('\u00a0', 'utf8').toString('latin1');
    expect(pubViolation(nbsp)).toBe('Permissions Violation for Publish to "\\u00a0"');
  });
});
