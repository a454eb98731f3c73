// The link side of a routing worker — route, gateway and leaf connections and their per-worker
// state — as one module a worker loads only when its node has a cluster, gateway or leafnodes
// block: a single node's workers then load none of it (faster start, smaller isolates).

export { RouteConnection } from './route.ts';
export { WorkerRoutes } from './worker_routes.ts';
export { GatewayConnection } from './gateway.ts';
export { WorkerGateways } from './worker_gateways.ts';
export { LeafConnection } from './leafnode.ts';
export { WorkerLeafs } from './worker_leafs.ts';

export type WorkerLinkModules = typeof import('./worker_links.ts');

