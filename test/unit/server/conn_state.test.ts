import { describe, expect, it } from 'vitest';
import { ConnectionState, connzEntry, goUptime } from '../../../src/server/conn_state.ts';

describe('goUptime (nats-server\'s uptime and idle)', () => {
  it.each([
    [0, '0s'],
    [999, '0s'],
    [59_999, '59s'],
    [61_000, '1m1s'],
    [3_600_000, '1h0m0s'],
    [86_400_000 + 1000, '1d0h0m1s'],
    [366 * 86_400_000, '1y1d0h0m0s'],
    [-5, '0s'],
  ])('%i ms is %s', (ms, text) => {
    expect(goUptime(ms)).toBe(text);
  });

  it('a fresh connection\'s /connz entry says 0s for rtt, uptime and idle, as Go', () => {
    const st = new ConnectionState(1, '127.0.0.1', 5000, 1_000);
    expect(connzEntry(st, 1_400, { pendingBytes: 0, subscriptions: 0 })).toMatchObject({ rtt: '0s', uptime: '0s', idle: '0s' });
    st.rttMs = 0.2;
    expect(connzEntry(st, 62_000, { pendingBytes: 0, subscriptions: 0 })).toMatchObject({ rtt: '200µs', uptime: '1m1s', idle: '1m1s' });
  });
});
