// What a JetStream node runs as (issue 11's idle footprint): the JetStream host on the main thread,
// so one thread per routing worker and no JetStream thread, and glibc told to keep big blocks
// mapped on their own (bin/nats-server). Read from /proc, so Linux only.
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { monitor, type RunningServer } from '../../support/server.ts';
import { startJsServer } from './js_util.ts';

const linux = fs.existsSync('/proc/self/task');

describe.skipIf(!linux)('JetStream node threads and environment', () => {
  let srv: RunningServer | null = null;
  afterEach(async () => {
    await srv?.stop();
    srv = null;
  });

  it('runs JetStream without a thread of its own, and fixes the malloc mmap threshold', async () => {
    srv = await startJsServer({ workers: 2 });
    const jsz = await monitor(srv, '/jsz');
    expect(jsz.config).toBeTruthy();
    const names = fs.readdirSync(`/proc/${srv.pid}/task`).map((t) => fs.readFileSync(`/proc/${srv!.pid}/task/${t}/comm`, 'utf8').trim());
    expect(names.filter((n) => n.startsWith('petrel-')).sort()).toEqual(['petrel-router-0', 'petrel-router-1']);
    const env = fs.readFileSync(`/proc/${srv.pid}/environ`, 'utf8').split('\0');
    expect(env).toContain('MALLOC_MMAP_THRESHOLD_=131072');
  });
});
