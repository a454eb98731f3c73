import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralRange, restartablePorts, stablePortSpan } from '../../chaos/cluster/ports.ts';

describe('ports for restarted nodes', () => {
  it('reads the kernel ephemeral range and falls back to Linux default on nonsense', () => {
    expect(ephemeralRange('32768\t60999\n')).toEqual([32768, 60999]);
    expect(ephemeralRange('1024 65000')).toEqual([1024, 65000]);
    expect(ephemeralRange('garbage')).toEqual([32768, 60999]);
    expect(ephemeralRange('60999 32768')).toEqual([32768, 60999]);
  });

  it('picks the larger span outside the ephemeral range', () => {
    expect(stablePortSpan([32768, 60999])).toEqual([10000, 32767]);
    expect(stablePortSpan([10500, 40000])).toEqual([40001, 65535]);
  });

  it('hands out distinct ports outside the ephemeral range that a node can then bind', async () => {
    const [lo, hi] = ephemeralRange();
    const ports = [...(await restartablePorts(6)), ...(await restartablePorts(6))];
    expect(new Set(ports).size).toBe(12);
    for (const p of ports) expect(p >= lo && p <= hi).toBe(false);
    const s = net.createServer();
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(ports[0], '127.0.0.1', resolve);
    });
    await new Promise((r) => s.close(r));
  });
});
