// The main thread's handle on the load-generator threads: request/response over postMessage,
// and each thread's CPU time so a report can show whether the generator was the bottleneck.

import { Worker } from 'node:worker_threads';
import type { AgentReply, AgentRequest } from './protocol.ts';

const AGENT_ENTRY = new URL('./agent.ts', import.meta.url);

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;
export type AgentCall = Distribute<AgentRequest>;

export class Agent {
  readonly name: string;
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: AgentReply) => void; reject: (e: Error) => void }>();

  constructor(name: string) {
    this.name = name;
    this.worker = new Worker(AGENT_ENTRY, { name });
    this.worker.on('message', (r: AgentReply & { id: number }) => {
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      if (r.ok) w.resolve(r);
      else w.reject(new Error(`${this.name}: ${r.error}`));
    });
    this.worker.on('error', (e: Error) => {
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    });
  }

  call(req: AgentCall): Promise<AgentReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  /** CPU time this thread has used so far, in µs. */
  async cpuMicros(): Promise<number> {
    const { cpu } = await this.call({ op: 'cpu' });
    return cpu!.user + cpu!.system;
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/** The generator threads a scenario uses: one publishes (or requests), the others receive. */
export class AgentPool {
  readonly pub: Agent;
  readonly subs: Agent[];

  constructor(subThreads: number) {
    this.pub = new Agent('bench-pub');
    this.subs = Array.from({ length: subThreads }, (_, i) => new Agent(`bench-sub-${i}`));
  }

  get all(): Agent[] {
    return [this.pub, ...this.subs];
  }

  async cpuMicros(): Promise<number[]> {
    return Promise.all(this.all.map((a) => a.cpuMicros()));
  }

  async reset(): Promise<void> {
    await Promise.all(this.all.map((a) => a.call({ op: 'reset' })));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((a) => a.stop()));
  }
}
