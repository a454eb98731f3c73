// The inside of the JetStream worker thread: a peer in the lane mesh with no sockets. Its Router
// carries the engine's internal subscriptions ($JS.API.>, stream subjects, acks) and publishes;
// the engine itself (src/jetstream/) only sees the bus.

import type { MessagePort } from 'node:worker_threads';
import type { Router } from '../routing/router.ts';
import type { Doorbell } from '../routing/ring.ts';
import { RouterBus } from './router_bus.ts';
import { joinMesh, workerLogger } from './mesh.ts';
import { LanePump } from './lane_pump.ts';
import type { Logger } from '../log.ts';
import type { WorkerInit } from './worker_host.ts';
import type { MainToWorker, WorkerToMain } from './worker_protocol.ts';
import { realScheduler } from '../jetstream/bus.ts';
import { JetStream } from '../jetstream/jetstream.ts';
import type { JszOptions } from '../jetstream/jetstream.ts';
import { createConsumerApi } from '../jetstream/consumers/index.ts';


export class JetStreamHost {
  private readonly port: MessagePort;
  private readonly router: Router;
  private readonly bus: RouterBus;
  private readonly logger: Logger;
  private readonly closeLog: () => void;
  private readonly reopenLog: () => void;
  private readonly ownBell: Doorbell;
  private readonly pump: LanePump;
  readonly engine: JetStream;

  constructor(port: MessagePort, init: WorkerInit) {
    this.port = port;
    const o = init.options;
    const log = workerLogger(o, 'jetstream');
    this.logger = log.logger;
    this.closeLog = log.close;
    this.reopenLog = log.reopen;
    ({ router: this.router, ownBell: this.ownBell } = joinMesh(init));
    this.pump = new LanePump(this.router, this.ownBell);
    this.bus = new RouterBus(this.router, () => this.pump.scheduleFlush());
    this.engine = new JetStream({
      bus: this.bus,
      scheduler: realScheduler,
      logger: this.logger,
      storeDir: o.jetstream.storeDir,
      maxMemory: o.jetstream.maxMemoryStore,
      maxStore: o.jetstream.maxFileStore,
      domain: o.jetstream.domain,
      syncIntervalMs: o.jetstream.syncIntervalMs,
      serverName: o.serverName || String(init.info.server_id ?? ''),
      serverId: String(init.info.server_id ?? ''),
      consumers: (ctx) => createConsumerApi(ctx),
    });
    port.on('message', (m: MainToWorker) => void this.onMain(m));
    void this.pump.run();
  }

  async start(): Promise<void> {
    await this.engine.start();
    this.pump.scheduleFlush();
  }

  private post(m: WorkerToMain): void {
    this.port.postMessage(m);
  }

  private async onMain(m: MainToWorker): Promise<void> {
    switch (m.t) {
      case 'query':
        this.post({ t: 'reply', id: m.id, data: m.what === 'jsz' ? this.engine.jsz(m.args as JszOptions) : null });
        return;
      case 'reopen-log':
        this.reopenLog();
        return;
      case 'shutdown':
        try {
          await this.engine.stop();
        } catch (err) {
          this.logger.error({ err }, 'JetStream stop failed');
        }
        this.router.commitLanes();
        this.closeLog();
        this.post({ t: 'stopped' });
        this.pump.stop();
        return;
      default:
        return;
    }
  }
}
