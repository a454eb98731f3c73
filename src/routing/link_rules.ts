// The cluster rules by connection kind, as nats-server's processMsgResults, the route, gateway
// and leaf interest maps decide them — one table, read by the Router, so no caller special-cases
// a kind:
//
// - where a message may go next, by the kind it came from (one hop between servers of a
//   cluster, one between clusters, leaf traffic through its hub);
// - which local subscribers a message from a link reaches;
// - in which order a queue group's members are tried (this node, then the cluster, then leaf
//   nodes, then another cluster);
// - what each kind of link is told about this node's interest.

/** Who a subscription serves. Link kinds (route and after it) lead to other servers. */
export const SubKind = {
  CLIENT: 0,
  /** The node's own subscribers: JetStream, the system account's internal client. */
  INTERNAL: 1,
  /** Another server of this cluster. */
  ROUTE: 2,
  /** Another cluster (the interest its gateway told this server's outbound connection). */
  GATEWAY: 3,
  /** A leaf node connected to this server: this server is its hub. */
  LEAF: 4,
  /** The hub this server connects to as a leaf node (nats-server: a spoke's leaf connection). */
  HUB: 5,
} as const;
export type SubKind = (typeof SubKind)[keyof typeof SubKind];

/** True for kinds that lead to another server. */
export function isLink(kind: SubKind): boolean {
  return kind >= SubKind.ROUTE;
}

const bit = (...kinds: SubKind[]): number => kinds.reduce<number>((m, k) => m | (1 << k), 0);
const ALL_LINKS = bit(SubKind.ROUTE, SubKind.GATEWAY, SubKind.LEAF, SubKind.HUB);

/**
 * By source kind, the link kinds a message may be forwarded to. From a route only to leaf
 * nodes of this hub (the other servers got it from the publisher's server); from a gateway into
 * this cluster and its leaf nodes, never on to a third cluster; from a spoke's hub not to its
 * routes (every server of a leaf cluster has its own connection to the hub).
 */
const FORWARDS: readonly number[] = [
  /* CLIENT   */ ALL_LINKS,
  /* INTERNAL */ ALL_LINKS,
  /* ROUTE    */ bit(SubKind.LEAF),
  /* GATEWAY  */ bit(SubKind.ROUTE, SubKind.LEAF, SubKind.HUB),
  /* LEAF     */ ALL_LINKS,
  /* HUB      */ bit(SubKind.GATEWAY, SubKind.LEAF, SubKind.HUB),
];

export function forwards(from: SubKind, to: SubKind): boolean {
  return (FORWARDS[from]! & (1 << to)) !== 0;
}

/**
 * Queue-group tiers, tried in order: a member on this node, then one elsewhere in the cluster
 * (routes), then a leaf node's (either side), then another cluster's. nats-server's
 * processMsgResults prefers local members for a message from a route and holds leaf members back
 * while a local or route one exists; sendMsgToGateways only offers another cluster the groups
 * no member of this cluster took.
 */
export const QueueTier = { LOCAL: 0, CLUSTER: 1, LEAF: 2, REMOTE_CLUSTER: 3 } as const;
export type QueueTier = (typeof QueueTier)[keyof typeof QueueTier];
export const QUEUE_TIER_OF: readonly QueueTier[] = [
  QueueTier.LOCAL,
  QueueTier.LOCAL,
  QueueTier.CLUSTER,
  QueueTier.REMOTE_CLUSTER,
  QueueTier.LEAF,
  QueueTier.LEAF,
];

/** The kind of a subscription and what a rule needs to know about it. */
export interface RuledSub {
  readonly kind: SubKind;
  readonly account: number;
  readonly subject: string;
  /** The leaf cluster the interest came from (LS+ over a route, or a leaf connection's cluster). */
  readonly origin: string | null;
}

/**
 * Internal subscriptions other servers hear about: the system account's (the servers' own
 * traffic), and with `jetStream` (clustered JetStream, toward routes only) JetStream's in every
 * account, so requests and publishes reach the node that serves them.
 */
export function clusterExportsInternal(sub: RuledSub, systemAccount: number, jetStream = false): boolean {
  return sub.account === systemAccount || (jetStream && sub.kind === SubKind.INTERNAL);
}

/** What a route announces (RS+/LS+): this node's subscribers and its leaf nodes'. */
export function routeExports(sub: RuledSub, systemAccount: number, jetStream = false): boolean {
  switch (sub.kind) {
    case SubKind.CLIENT:
    case SubKind.LEAF:
      return true;
    case SubKind.INTERNAL:
      return clusterExportsInternal(sub, systemAccount, jetStream);
    default:
      return false;
  }
}

/**
 * A link's subscription to routed replies (`_GR_.`/`$GR.`): how replies reach another server or
 * cluster directly, not interest to announce.
 */
export function isRoutedReplyRoute(sub: RuledSub): boolean {
  if (sub.kind < SubKind.ROUTE) return false;
  const c = sub.subject.charCodeAt(0);
  return (c === 0x5f && sub.subject.startsWith('_GR_.')) || (c === 0x24 && sub.subject.startsWith('$GR.'));
}

/** What an inbound gateway announces: the whole cluster's interest (nats-server's gateway pasi map). */
export function gatewayExports(sub: RuledSub, systemAccount: number): boolean {
  return (sub.kind === SubKind.ROUTE && !isRoutedReplyRoute(sub)) || routeExports(sub, systemAccount);
}

/**
 * What a leaf connection announces (LS+), before the connection's own permissions: to a leaf
 * node (this server its hub) every interest of the account but the leaf's own and its
 * cluster's; to our hub (this server a spoke) only this node's subscribers and its own leaf
 * nodes' (nats-server's initLeafNodeSmapAndSendSubs and updateSmap).
 */
export function leafExports(sub: RuledSub, toward: typeof SubKind.LEAF | typeof SubKind.HUB, remoteCluster: string | null): boolean {
  // A loop-detection subject goes back even to its own cluster: that is how a loop shows.
  if (sub.origin !== null && sub.origin === remoteCluster && !sub.subject.startsWith('$LDS.')) return false;
  if (isRoutedReplyRoute(sub) || (sub.kind === SubKind.GATEWAY && sub.subject === '>')) return false;
  if (toward === SubKind.HUB) return sub.kind === SubKind.CLIENT || sub.kind === SubKind.INTERNAL || sub.kind === SubKind.LEAF;
  return true;
}

/**
 * Whether a message from a link of kind `from` reaches a local subscriber: from a route or a
 * gateway only what the cluster is told about; from a leaf connection every local one (a leaf
 * node is an account's extension: JetStream serves it).
 */
export function reachesLocal(from: SubKind, sub: RuledSub, systemAccount: number, jetStream = false): boolean {
  if (from === SubKind.LEAF || from === SubKind.HUB || from < SubKind.ROUTE) return true;
  // JetStream's subscriptions serve the cluster (routes), never another cluster (gateways).
  return sub.kind === SubKind.CLIENT || clusterExportsInternal(sub, systemAccount, jetStream && from === SubKind.ROUTE);
}
