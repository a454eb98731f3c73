// Regions (clusters joined by gateways) and leaf nodes for tests: Petrel or Go nats-server nodes
// as processes on free ports, with helpers to wait for gateways and leaf connections and to read
// their counters from /gatewayz and /leafz.

import { eventually, StartedNodes } from './cluster.ts';
import type { ClusterNode } from './cluster.ts';
import { monitor, startServer } from './server.ts';
import type { RunningServer } from './server.ts';
import { GO_SERVER } from './cluster.ts';
import { restartablePorts } from '../../chaos/cluster/ports.ts';

/** A port nobody listens on now, outside the kernel's ephemeral range (safe to restart a server on). */
export async function freePort(): Promise<number> {
  return (await restartablePorts(1))[0]!;
}

export interface RegionNode extends ClusterNode {
  readonly region: string;
  readonly gatewayPort: number;
  readonly gatewayUrl: string;
  /** 0 when the node has no leafnode listener. */
  readonly leafPort: number;
}

export interface RegionSpec {
  /** The region's cluster and gateway name. */
  name: string;
  /** Node names; each is a server of the cluster (with routes to the first). */
  nodes: string[];
  go?: boolean;
  /** Gateways the first node dials (the others learn them through the cluster's gossip). */
  gateways?: { name: string; url: string }[];
  /** Extra top-level config for every node (accounts...). */
  config?: string;
  /** Extra top-level config for the first node only (jetstream...). */
  firstConfig?: string;
  /** Give the first node a leafnode listener. */
  leafHub?: boolean;
  /** Lines inside the first node's leafnodes block. */
  leafExtra?: string;
  /** Lines inside the first node's gateway block. */
  gatewayExtra?: string;
  workers?: number;
}

/** Starts a region; the first node gets the configured gateways, the others only a route to it. */
export async function startRegion(started: StartedNodes, spec: RegionSpec): Promise<RegionNode[]> {
  const nodes: RegionNode[] = [];
  for (const [i, name] of spec.nodes.entries()) {
    const gatewayPort = await freePort();
    const leafPort = i === 0 && spec.leafHub ? await freePort() : 0;
    const remotes = i === 0 && spec.gateways?.length ? `gateways: [${spec.gateways.map((g) => `{ name: ${g.name}, url: "${g.url}" }`).join(', ')}]` : '';
    const config = [
      `gateway {\n  name: ${spec.name}\n  listen: "127.0.0.1:${gatewayPort}"\n  ${remotes}\n  ${i === 0 ? (spec.gatewayExtra ?? '') : ''}\n}`,
      // nats-server wants the system account named when a server has both.
      leafPort ? `system_account: "$SYS"\nleafnodes {\n  listen: "127.0.0.1:${leafPort}"\n  ${spec.leafExtra ?? ''}\n}` : '',
      spec.config ?? '',
      i === 0 ? (spec.firstConfig ?? '') : '',
    ].join('\n');
    const node = await started.start({
      name,
      go: spec.go,
      workers: spec.workers ?? (i === 0 ? 2 : 1),
      clusterName: spec.name,
      routes: i === 0 ? [] : [nodes[0]!.routeUrl],
      config,
    });
    nodes.push(Object.assign(node, { region: spec.name, gatewayPort, gatewayUrl: `nats://127.0.0.1:${gatewayPort}`, leafPort }));
  }
  return nodes;
}

export interface LeafSpec {
  name: string;
  go?: boolean;
  /** Remote URLs (nats-leaf://...) of the hub. */
  hubs: string[];
  /** Extra lines inside the remote entry. */
  remoteExtra?: string;
  config?: string;
  workers?: number;
}

/** A standalone leaf node connecting to a hub. */
export async function startLeaf(started: LeafNodes, spec: LeafSpec): Promise<RunningServer & { name: string }> {
  const urls = spec.hubs.map((u) => JSON.stringify(u)).join(', ');
  const srv = await startServer({
    config: [`server_name: ${spec.name}`, `leafnodes {\n  remotes: [ {\n    urls: [${urls}]\n    ${spec.remoteExtra ?? ''}\n  } ]\n}`, spec.config ?? ''].join('\n'),
    workers: spec.workers ?? 1,
    binary: spec.go ? GO_SERVER : undefined,
  });
  started.add(srv);
  return Object.assign(srv, { name: spec.name });
}

/** Servers started outside a cluster spec, stopped with the rest. */
export class LeafNodes {
  private readonly list: RunningServer[] = [];
  add(s: RunningServer): void {
    this.list.push(s);
  }
  async stopAll(): Promise<void> {
    await Promise.all(this.list.splice(0).map((s) => s.stop()));
  }
}

export async function gatewayz(node: RunningServer, query = ''): Promise<any> {
  return monitor(node, `/gatewayz${query}`);
}

/** Waits until `node` has an outbound gateway to every region named. */
export function outboundTo(node: RegionNode | ClusterNode, names: string[]): Promise<true> {
  return eventually(`${node.name} has outbound gateways to ${names.join(',')}`, async () => {
    const g = await gatewayz(node);
    return names.every((n) => g.outbound_gateways?.[n]?.connection) ? true : undefined;
  }, 20_000);
}

/** Waits until `node` has an inbound gateway from every region named. */
export function inboundFrom(node: RegionNode | ClusterNode, names: string[]): Promise<true> {
  return eventually(`${node.name} has inbound gateways from ${names.join(',')}`, async () => {
    const g = await gatewayz(node);
    return names.every((n) => (g.inbound_gateways?.[n] ?? []).length > 0) ? true : undefined;
  }, 20_000);
}

/** Waits until a server reports `n` leaf connections. */
export function leafCount(node: RunningServer, n: number, label: string): Promise<true> {
  return eventually(`${label} has ${n} leaf connection(s)`, async () => ((await monitor(node, '/leafz')).leafnodes === n ? true : undefined), 20_000);
}

/** Waits until a server's leaf connections together carry interest in `subject`. */
export function leafInterest(node: RunningServer, subject: string, label: string, present = true): Promise<true> {
  return eventually(`${label} ${present ? 'sees' : 'no longer sees'} leaf interest in ${subject}`, async () => {
    const l = await monitor(node, '/leafz?subs=1');
    const has = ((l.leafs ?? []) as { subscriptions_list?: string[] }[]).some((x) => (x.subscriptions_list ?? []).includes(subject));
    return has === present ? true : undefined;
  }, 20_000);
}

/** Waits until `node`'s outbound gateway to `region` holds interest in `subject` (its account's subscriptions). */
export function gatewayInterest(node: RunningServer & { name: string }, region: string, subs: number, account = '$G'): Promise<true> {
  return eventually(`${node.name} knows ${subs} subscription(s) of ${region} in ${account}`, async () => {
    const g = await gatewayz(node, `?accs=1&gw_name=${region}`);
    const acc = ((g.outbound_gateways?.[region]?.accounts ?? []) as { name: string; num_subs?: number }[]).find((a) => a.name === account);
    return (acc?.num_subs ?? 0) >= subs ? true : undefined;
  }, 20_000);
}

export { StartedNodes };
