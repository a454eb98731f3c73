// Issue 11's idle footprint and start-up: a node loads the code for links (routes, gateways, leaf
// nodes), TLS, the monitoring HTTP server and the bcrypt pool only once it needs them, on every
// thread. Read through a module probe preloaded into the server (test/support/module_probe.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { monitor, startServer, tempDir, type RunningServer } from '../support/server.ts';

const PROBE = new URL('../support/module_probe.mjs', import.meta.url).href;

interface Loaded {
  modules: string[];
  builtins: string[];
}

/** What each thread of the server has loaded, by thread id (0 is the main thread). */
function loadedBy(probe: string): Map<number, Loaded> {
  const dir = path.dirname(probe);
  const out = new Map<number, Loaded>();
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith(path.basename(probe) + '.')) continue;
    out.set(Number(f.split('.').pop()), JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Loaded);
  }
  return out;
}

/** Waits for the next round of probe files (written every 50 ms). */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 200));
}

const LINK_MODULES = ['src/cluster/route.ts', 'src/cluster/gateway.ts', 'src/cluster/leafnode.ts', 'src/cluster/worker_links.ts'];

describe('modules a node loads on demand', () => {
  let srv: RunningServer | null = null;
  afterEach(async () => {
    await srv?.stop();
    srv = null;
  });

  it('a single node with JetStream serves clients without loading link, TLS, HTTP or bcrypt code', async () => {
    const probe = path.join(tempDir('petrel-probe-'), 'loaded');
    srv = await startServer({
      workers: 2,
      args: ['-js', '-sd', path.join(tempDir(), 'js')],
      env: { NODE_OPTIONS: `--import=${PROBE}`, PETREL_MODULE_PROBE: probe },
    });
    const nc = await connect({ servers: srv.url });
    const sub = nc.subscribe('probe.x', { max: 1 });
    nc.publish('probe.x');
    for await (const _ of sub) break;
    await nc.close();
    await settle();

    const threads = loadedBy(probe);
    expect(threads.size).toBe(3); // main thread (with JetStream) and two routing workers
    for (const [id, t] of threads) {
      const mods = t.modules.join('\n');
      for (const m of LINK_MODULES) expect(mods, `thread ${id}: ${m}`).not.toContain(m);
      expect(mods, `thread ${id}: piscina`).not.toContain('node_modules/piscina/');
      expect(t.builtins, `thread ${id}`).not.toContain('tls');
      expect(t.builtins, `thread ${id}`).not.toContain('_http_server');
    }
    // The routing workers did load the client side they serve.
    expect(threads.get(1)!.modules.join('\n')).toContain('src/server/client.ts');

    // The monitoring port still answers; node:http is loaded by its first request, on the main thread only.
    expect((await monitor(srv, '/varz')).server_id).toBeTruthy();
    await settle();
    expect(loadedBy(probe).get(0)!.builtins).toContain('_http_server');
  });

  it('a clustered node loads the link modules in its routing workers', async () => {
    const probe = path.join(tempDir('petrel-probe-'), 'loaded');
    srv = await startServer({
      workers: 1,
      config: 'cluster { name: probe, listen: "127.0.0.1:-1" }',
      env: { NODE_OPTIONS: `--import=${PROBE}`, PETREL_MODULE_PROBE: probe },
    });
    await settle();
    const worker = loadedBy(probe).get(1)!;
    for (const m of LINK_MODULES) expect(worker.modules.join('\n')).toContain(m);
  });
});
