// The resolved server options: what the CLI flags and the config file produce together,
// and the only shape the server reads. Names follow nats-server's config keys where one exists.

export interface TlsOptions {
  certFile: string;
  keyFile: string;
  caFile?: string;
  /** Require and verify client certificates (mutual TLS). */
  verify: boolean;
  /** Handshake timeout, milliseconds. */
  timeoutMs: number;
  /** TLS handshake before INFO (nats-server `handshake_first`). */
  handshakeFirst: boolean;
}

export interface SubjectPermission {
  allow?: string[];
  deny?: string[];
}

export interface ResponsePermission {
  /** How many responses may be published to a reply subject, default 1. */
  maxMsgs: number;
  /** How long the permission lasts, milliseconds; 0 = no limit. Default 2 minutes. */
  expiresMs: number;
}

export interface Permissions {
  publish?: SubjectPermission;
  subscribe?: SubjectPermission;
  allowResponses?: ResponsePermission;
}

export interface UserEntry {
  /** Plain user name (user/password users). */
  user?: string;
  /** Plain text or bcrypt (`$2a$`/`$2b$`/`$2y$`) password. */
  password?: string;
  /** Public nkey of an nkey user (starts with `U`). */
  nkey?: string;
  permissions?: Permissions;
  account?: string;
}

export interface AuthOptions {
  token?: string;
  user?: string;
  password?: string;
  users: UserEntry[];
  /** Seconds-resolution in the config, stored as milliseconds. Default 2s (nats-server AUTH_TIMEOUT). */
  timeoutMs: number;
  /** Users without credentials connect as this user (must exist in users). */
  noAuthUser?: string;
}

/** A server-to-server cluster (nats-server `cluster {}` block, `--cluster` flags). */
export interface ClusterOptions {
  /** Cluster name; '' means none configured (nats-server then generates a dynamic one). */
  name: string;
  host: string; // listen host, default '0.0.0.0'
  port: number; // listen port, default 6222; -1 = pick a free port
  /** host:port advertised to other servers (cluster_advertise / advertise). */
  advertise?: string;
  /** Do not gossip this cluster's URLs to clients or other servers (no_advertise). */
  noAdvertise: boolean;
  /** Explicit routes, as given: nats-route://[user:pass@]host:port (also nats://, or host:port). */
  routes: string[];
  /** nats-server's connect_retries (0 = its default behaviour for explicit/implicit routes). */
  connectRetries: number;
  /** Route pool size as 2.10 knows it (pool_size); 2.9 has none — parsed, validated, reported. */
  poolSize: number;
  authorization?: { user?: string; password?: string; timeoutMs: number };
  tls?: TlsOptions;
  permissions?: { import?: SubjectPermission; export?: SubjectPermission };
}

/** One remote cluster in `gateway.gateways` (nats-server RemoteGatewayOpts). */
export interface RemoteGatewayOptions {
  name: string;
  /** As written: nats://host:port (also tls://, nats-route://, or host:port), credentials allowed. */
  urls: string[];
  tls?: TlsOptions;
}

/** A super-cluster link of this cluster (nats-server `gateway {}` block). */
export interface GatewayOptions {
  /** This cluster's gateway name; every server of one cluster carries the same. */
  name: string;
  host: string;
  /** -1 = pick a free port. */
  port: number;
  advertise?: string;
  /** Attempts for an implicit (gossiped) gateway before it is forgotten; 0 = one round. */
  connectRetries: number;
  /** Refuse inbound gateways that are not in `gateways` (reject_unknown_cluster). */
  rejectUnknown: boolean;
  authorization?: { user?: string; password?: string; timeoutMs: number };
  tls?: TlsOptions;
  gateways: RemoteGatewayOptions[];
}

/** A user of `leafnodes.authorization.users`: leaf connections with these credentials bind to `account`. */
export interface LeafUser {
  user: string;
  password: string;
  account?: string;
}

/** One hub this server connects to as a leaf node (nats-server RemoteLeafOpts). */
export interface RemoteLeafOptions {
  /** As written: nats-leaf://[user:pass@]host[:port] (also nats://, tls://); the port defaults to 7422. */
  urls: string[];
  /** The local account the connection binds to (default: the global account). */
  account?: string;
  /** A .creds file (user JWT and nkey seed) that signs the hub's nonce. */
  credentials?: string;
  tls?: TlsOptions;
  /** This server is the hub of the connection it dials (nats-server `hub`). */
  hub: boolean;
  /** Subjects this side does not take from the hub / send to it. */
  denyImports: string[];
  denyExports: string[];
  noRandomize: boolean;
}

/** Leaf node connections (nats-server `leafnodes {}` block). */
export interface LeafNodeOptions {
  host: string;
  /** 0 = no listener (remotes only); -1 = pick a free port. */
  port: number;
  advertise?: string;
  noAdvertise: boolean;
  authorization?: { user?: string; password?: string; timeoutMs: number; account?: string; users?: LeafUser[] };
  tls?: TlsOptions;
  /** Wait between attempts to reach a hub (reconnect_interval), milliseconds. */
  reconnectIntervalMs: number;
  minVersion?: string;
  remotes: RemoteLeafOptions[];
}

/** Parsed and validated, but served only once the issue that adds it lands. */
export interface ListenBlock {
  host: string;
  port: number;
  raw: Record<string, unknown>;
}

export interface JetStreamOptions {
  enabled: boolean;
  storeDir: string;
  maxMemoryStore: number;
  maxFileStore: number;
  domain?: string;
  /** Opt-in lazy fsync interval, milliseconds; 0 = fsync every write (default). */
  syncIntervalMs: number;
  /** Memory budget of the file stores' caches per JetStream thread; unset = the store's default. */
  storeCacheBytes?: number;
  /** Placement: replicas of one stream never share a value of the server tag with this prefix. */
  uniqueTag?: string;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface ServerOptions {
  /** Config file path, when one was given. */
  configFile?: string;
  serverName: string;
  host: string;
  /** -1 = pick a free port. */
  port: number;
  /** Monitoring: host and port; port 0 = disabled, -1 = pick a free port. */
  httpHost: string;
  httpPort: number;
  clientAdvertise?: string;
  noAdvertise: boolean;
  pidFile?: string;
  portsFileDir?: string;
  serverTags: string[];

  // Limits (nats-server defaults in parentheses).
  maxPayload: number; // 1 MiB
  maxControlLine: number; // 4 KiB
  maxConnections: number; // 64 Ki
  maxSubscriptions: number; // 0 = unlimited
  maxPending: number; // 64 MiB
  writeDeadlineMs: number; // 10 s
  pingIntervalMs: number; // 2 min
  pingMax: number; // 2
  lameDuckDurationMs: number; // 2 min
  lameDuckGracePeriodMs: number; // 10 s

  auth: AuthOptions;
  tls?: TlsOptions;

  // Logging
  logFile?: string;
  logLevel: LogLevel;
  /** Human lines instead of JSON (terminal default, or --pretty). */
  pretty: boolean;
  logtime: boolean;

  /** Routing worker threads; default chosen by benchmark (see README). */
  workers: number;

  jetstream: JetStreamOptions;

  /** Undefined when there is no `cluster {}` block and no `--cluster` flag. */
  cluster?: ClusterOptions;
  /** The system account (`system_account`, default `$SYS`); '' with `no_system_account` and none named. */
  systemAccount: string;

  /** Undefined without a `gateway {}` block. */
  gateway?: GatewayOptions;
  /** Undefined without a `leafnodes {}` block. */
  leafnodes?: LeafNodeOptions;
  // Blocks parsed and validated now, served by later issues.
  websocket?: ListenBlock;
  mqtt?: ListenBlock;
  accounts?: Record<string, unknown>;
}

/**
 * Whether JetStream runs clustered on this node (issue 8): JetStream on, a cluster configured,
 * and a system account for the nodes to talk through. Then JetStream's internal subscriptions
 * are announced to the cluster, and streams are replicated through Raft.
 */
export function jetStreamClustered(o: ServerOptions): boolean {
  return o.jetstream.enabled && o.cluster !== undefined && o.systemAccount !== '';
}
