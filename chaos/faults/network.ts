// Network faults through Toxiproxy, with toxiproxy-node-client: against chaos/toxiproxy's server
// or, when TOXIPROXY_URL is set, a real Toxiproxy.
//
// Topology: every node i reaches every other node j through its own proxy `route_n<i>_n<j>`
// (node i's route to j dials the proxy; its upstream is j's route port), and clients reach node j
// through `client_n<j>`. So traffic from i to j is the upstream stream of route_n<i>_n<j> and the
// downstream stream of route_n<j>_n<i>.
//
// A dropped link is a `timeout` toxic with timeout 0 on that stream: bytes vanish, connections stay
// open (as with a partition, the nodes find out through their pings). Healing removes the toxics,
// and Toxiproxy then closes the connections the timeout had swallowed data from, so nothing
// resumes on a stream with a hole in it. Slow links are latency or bandwidth toxics; a flapping link
// alternates reset_peer or timeout (with a timeout) toxics with clean periods.

import type { Toxiproxy, ICreateProxyBody } from 'toxiproxy-node-client';
import type { FlapToxic, NetworkControl, SlowToxic } from './nemesis.ts';
import type { DirectedLink } from './schedule.ts';

export type Stream = 'upstream' | 'downstream';

export interface ProxyStream {
  proxy: string;
  stream: Stream;
}

export const routeProxy = (from: number, to: number): string => `route_n${from}_n${to}`;
export const clientProxy = (node: number): string => `client_n${node}`;

/** The proxies and streams carrying traffic of one directed link, in the standard topology. */
export function streamsOf(link: DirectedLink): ProxyStream[] {
  if (link.from === 'clients') return [{ proxy: clientProxy(link.to), stream: 'upstream' }];
  return [
    { proxy: routeProxy(link.from, link.to), stream: 'upstream' },
    { proxy: routeProxy(link.to, link.from), stream: 'downstream' },
  ];
}

export interface NodeAddresses {
  /** host:port of the node's route listener. */
  route: string;
  /** host:port of the node's client listener. */
  client: string;
}

/** The proxies of the standard topology, for POST /populate; ports picked by Toxiproxy unless given. */
export function topologyProxies(nodes: readonly NodeAddresses[], host = '127.0.0.1'): ICreateProxyBody[] {
  const out: ICreateProxyBody[] = [];
  nodes.forEach((to, j) => {
    out.push({ name: clientProxy(j), listen: `${host}:0`, upstream: to.client, enabled: true });
    nodes.forEach((_, i) => {
      if (i !== j) out.push({ name: routeProxy(i, j), listen: `${host}:0`, upstream: to.route, enabled: true });
    });
  });
  return out;
}

type ToxicSpec = { type: string; attributes: Record<string, number> };

export class ToxiproxyNetwork implements NetworkControl {
  private readonly client: Toxiproxy;
  private readonly route: (link: DirectedLink) => ProxyStream[];
  /** Toxics set per tag, to remove exactly those on heal. */
  private readonly byTag = new Map<string, { proxy: string; name: string }[]>();

  constructor(client: Toxiproxy, route: (link: DirectedLink) => ProxyStream[] = streamsOf) {
    this.client = client;
    this.route = route;
  }

  drop(tag: string, links: readonly DirectedLink[]): Promise<void> {
    return this.add(tag, links, { type: 'timeout', attributes: { timeout: 0 } });
  }

  slow(tag: string, links: readonly DirectedLink[], toxic: SlowToxic): Promise<void> {
    return this.add(
      tag,
      links,
      toxic.type === 'latency'
        ? { type: 'latency', attributes: { latency: toxic.latencyMs, jitter: toxic.jitterMs } }
        : { type: 'bandwidth', attributes: { rate: toxic.rateKBps } },
    );
  }

  flap(tag: string, links: readonly DirectedLink[], toxic: FlapToxic): Promise<void> {
    return this.add(tag, links, { type: toxic.type, attributes: { timeout: toxic.timeoutMs } });
  }

  async heal(tag: string): Promise<void> {
    const set = this.byTag.get(tag) ?? [];
    this.byTag.delete(tag);
    for (const t of set) {
      const proxy = await this.client.get(t.proxy);
      const toxic = await proxy.getToxic(t.name).catch(() => null);
      await toxic?.remove();
    }
  }

  /** Every proxy enabled, every toxic gone (POST /reset). */
  async healAll(): Promise<void> {
    this.byTag.clear();
    await this.client.reset();
  }

  private async add(tag: string, links: readonly DirectedLink[], spec: ToxicSpec): Promise<void> {
    const seen = new Set<string>();
    const set = this.byTag.get(tag) ?? [];
    this.byTag.set(tag, set);
    for (const link of links) {
      for (const { proxy, stream } of this.route(link)) {
        const key = `${proxy}/${stream}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const name = `${tag}_${stream}`;
        const p = await this.client.get(proxy);
        await p.addToxic({ name, type: spec.type as 'timeout', stream, toxicity: 1, attributes: spec.attributes });
        set.push({ proxy, name });
      }
    }
  }
}
