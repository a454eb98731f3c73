// The JetStream host runs on the main thread behind InThreadJetStream, which speaks the worker
// protocol as a Worker would: 'ready' once the streams are open, replies to queries, 'stopped'
// after a shutdown, and 'error' when JetStream cannot start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../../src/config/load.ts';
import { createRing, Doorbell } from '../../../src/routing/ring.ts';
import { Router } from '../../../src/routing/router.ts';
import { InThreadJetStream } from '../../../src/server/jetstream_host.ts';
import type { WorkerInit } from '../../../src/server/worker_host.ts';
import type { WorkerToMain } from '../../../src/server/worker_protocol.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function initFor(storeDir: string, logFile: string): WorkerInit {
  const { options } = resolveOptions(['-js', '-sd', storeDir, '-l', logFile]);
  // Index 1 of two lane members; nobody runs member 0 here.
  return { index: 1, workers: 2, lanes: Router.createLanes(2, 64 * 1024, createRing), bells: [Doorbell.create(), Doorbell.create()], options, info: { server_id: 'NTEST' } };
}

function next(js: InThreadJetStream, t: WorkerToMain['t']): Promise<WorkerToMain> {
  return new Promise((resolve, reject) => {
    const on = (m: WorkerToMain) => {
      if (m.t !== t) return;
      js.off('message', on);
      resolve(m);
    };
    js.on('message', on);
    js.once('error', reject);
  });
}

describe('InThreadJetStream', () => {
  it('is ready once JetStream has started, answers queries and stops on shutdown', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-jshost-'));
    dirs.push(dir);
    const js = new InThreadJetStream(initFor(path.join(dir, 'store'), path.join(dir, 'log')));
    await next(js, 'ready');
    expect(fs.existsSync(path.join(dir, 'store', 'jetstream'))).toBe(true);

    const reply = next(js, 'reply');
    js.postMessage({ t: 'query', id: 7, what: 'jshealth', args: {} });
    expect(await reply).toEqual({ t: 'reply', id: 7, data: { status: 'ok' } });

    const stopped = next(js, 'stopped');
    js.postMessage({ t: 'shutdown' });
    await stopped;
    expect(await js.terminate()).toBe(0);
  });

  it('reports a JetStream that cannot start as an error, as a failed worker would', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-jshost-'));
    dirs.push(dir);
    const notADir = path.join(dir, 'file');
    fs.writeFileSync(notADir, 'x');
    const js = new InThreadJetStream(initFor(notADir, path.join(dir, 'log')));
    const err = await new Promise<Error>((resolve) => js.once('error', resolve));
    expect(err.message).toMatch(/ENOTDIR|EEXIST/);
    await js.terminate();
  });
});
