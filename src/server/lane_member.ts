// What every worker thread does to join the node: its Router on the shared lanes, its doorbell,
// the peers' doorbells to ring after committing to their lanes, and a logger of its own.

import { Router } from '../routing/router.ts';
import { Doorbell } from '../routing/ring.ts';
import { createLogger } from '../log.ts';
import type { PetrelLogger } from '../log.ts';
import type { ServerOptions } from '../config/options.ts';
import type { WorkerInit } from './worker_host.ts';

export interface LaneMember {
  router: Router;
  ownBell: Doorbell;
}

export function joinLanes(init: WorkerInit): LaneMember {
  const router = new Router(init.index, init.workers, init.lanes);
  const ownBell = new Doorbell(init.bells[init.index]!);
  const peerBells = init.bells.map((b) => new Doorbell(b));
  router.onPeerNews = (peer) => peerBells[peer]!.ring();
  return { router, ownBell };
}

export function workerLogger(o: ServerOptions, worker: number | string): PetrelLogger {
  return createLogger({ level: o.logLevel, file: o.logFile, pretty: o.pretty, logtime: o.logtime }, { worker });
}
