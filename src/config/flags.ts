// nats-server's command-line flags, parsed with Go's `flag` package rules: one or
// two dashes are the same, `-name=value` or `-name value`, booleans only take a
// value after `=`, parsing stops at `--` or the first non-flag word, which may be
// `version` or `help`. General-purpose parsers treat `-DV` as `-D -V` and `-sd` as
// `-s -d`; here every spelling is looked up whole.

import { ConfigError } from './errors.ts';

export interface CliFlags {
  help?: boolean;
  helpTls?: boolean;
  version?: boolean;
  /** `-t`: check the config file and exit. */
  testConfig?: boolean;
  config?: string;
  /** `-sl`: `<command>[=<pid|pidfile>]`, split and checked. */
  signal?: { command: string; pid?: string };

  host?: string;
  port?: number;
  serverName?: string;
  pidFile?: string;
  httpPort?: number;
  httpsPort?: number;
  clientAdvertise?: string;
  portsFileDir?: string;
  maxPayload?: number;
  noAdvertise?: boolean;

  logFile?: string;
  debug?: boolean;
  trace?: boolean;
  logtime?: boolean;
  syslog?: boolean;
  remoteSyslog?: string;

  user?: string;
  pass?: string;
  auth?: string;

  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCaCert?: string;
  tlsVerify?: boolean;

  jetstream?: boolean;
  storeDir?: string;

  cluster?: string;
  routes?: string;
  clusterName?: string;
  clusterAdvertise?: string;
  connectRetries?: number;

  /** Petrel: routing worker threads. */
  workers?: number;
  /** Petrel: human-readable log lines. */
  pretty?: boolean;

  /** Flags nats-server has that Petrel accepts and ignores, as typed (`-profile`). */
  ignored: string[];
  /** The spelling used for each field that was set (`port` → `-p`), for messages. */
  spelledAs: Partial<Record<FlagField, string>>;
}

export type FlagField = Exclude<keyof CliFlags, 'ignored' | 'spelledAs'>;

/** Commands `-sl` can send (nats-server CommandToSignal). */
export const SIGNAL_COMMANDS = ['stop', 'quit', 'term', 'reopen', 'reload', 'ldm'] as const;

type FlagKind = 'bool' | 'string' | 'int';

interface FlagSpec {
  kind: FlagKind;
  /** Fields this flag sets; `-DV` sets two. Empty for accepted-and-ignored flags. */
  fields: FlagField[];
}

const spec = (kind: FlagKind, ...fields: FlagField[]): FlagSpec => ({ kind, fields });

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  h: spec('bool', 'help'),
  help: spec('bool', 'help'),
  help_tls: spec('bool', 'helpTls'),
  v: spec('bool', 'version'),
  version: spec('bool', 'version'),
  t: spec('bool', 'testConfig'),
  c: spec('string', 'config'),
  config: spec('string', 'config'),
  sl: spec('string', 'signal'),
  signal: spec('string', 'signal'),

  a: spec('string', 'host'),
  addr: spec('string', 'host'),
  net: spec('string', 'host'),
  p: spec('int', 'port'),
  port: spec('int', 'port'),
  n: spec('string', 'serverName'),
  name: spec('string', 'serverName'),
  server_name: spec('string', 'serverName'),
  P: spec('string', 'pidFile'),
  pid: spec('string', 'pidFile'),
  m: spec('int', 'httpPort'),
  http_port: spec('int', 'httpPort'),
  ms: spec('int', 'httpsPort'),
  https_port: spec('int', 'httpsPort'),
  client_advertise: spec('string', 'clientAdvertise'),
  ports_file_dir: spec('string', 'portsFileDir'),
  // Not a nats-server flag; accepted because people reach for it.
  max_payload: spec('int', 'maxPayload'),
  no_advertise: spec('bool', 'noAdvertise'),

  l: spec('string', 'logFile'),
  log: spec('string', 'logFile'),
  D: spec('bool', 'debug'),
  debug: spec('bool', 'debug'),
  V: spec('bool', 'trace'),
  trace: spec('bool', 'trace'),
  VV: spec('bool', 'trace'),
  DV: spec('bool', 'debug', 'trace'),
  DVV: spec('bool', 'debug', 'trace'),
  T: spec('bool', 'logtime'),
  logtime: spec('bool', 'logtime'),
  s: spec('bool', 'syslog'),
  syslog: spec('bool', 'syslog'),
  r: spec('string', 'remoteSyslog'),
  remote_syslog: spec('string', 'remoteSyslog'),

  user: spec('string', 'user'),
  pass: spec('string', 'pass'),
  auth: spec('string', 'auth'),

  tls: spec('bool', 'tls'),
  tlscert: spec('string', 'tlsCert'),
  tlskey: spec('string', 'tlsKey'),
  tlscacert: spec('string', 'tlsCaCert'),
  tlsverify: spec('bool', 'tlsVerify'),

  js: spec('bool', 'jetstream'),
  jetstream: spec('bool', 'jetstream'),
  sd: spec('string', 'storeDir'),
  store_dir: spec('string', 'storeDir'),

  cluster: spec('string', 'cluster'),
  cluster_listen: spec('string', 'cluster'),
  routes: spec('string', 'routes'),
  cluster_name: spec('string', 'clusterName'),
  cluster_advertise: spec('string', 'clusterAdvertise'),
  connect_retries: spec('int', 'connectRetries'),

  workers: spec('int', 'workers'),
  pretty: spec('bool', 'pretty'),

  // nats-server flags with no Petrel meaning yet.
  logtime_utc: spec('bool'),
  log_size_limit: spec('int'),
  max_traced_msg_len: spec('int'),
  profile: spec('int'),
};

export const USAGE = `
Usage: nats-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring (accepted, not served)
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to nats-server process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/nats-server.pid)
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).
        --max_payload <size>         Maximum message payload in bytes (default: 1MB)
        --workers <n>                Routing worker threads (default: number of CPUs)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -s, --syslog                     Log to syslog (accepted, not supported)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace
        --pretty                     Human-readable log lines (default: when stderr is a terminal)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
`;

function usageError(problem: string): ConfigError {
  return new ConfigError(problem, { usage: USAGE });
}

/** Go strconv.ParseBool. */
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

function parseSignal(value: string): { command: string; pid?: string } {
  const parts = value.split('=');
  if (parts.length > 2) throw new ConfigError(`invalid signal parameters: [${parts.slice(2).join(' ')}]`);
  const command = parts[0] ?? '';
  if (!(SIGNAL_COMMANDS as readonly string[]).includes(command)) throw new ConfigError(`unknown signal "${command}"`);
  const pid = parts[1];
  return pid === undefined || pid === '' ? { command } : { command, pid };
}

export function parseFlags(argv: readonly string[]): CliFlags {
  const flags: CliFlags = { ignored: [], spelledAs: {} };
  const out = flags as unknown as Record<string, unknown>;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg.length < 2 || arg[0] !== '-') break;
    let dashes = 1;
    if (arg[1] === '-') {
      dashes = 2;
      if (arg.length === 2) {
        i++;
        break;
      }
    }
    const body = arg.slice(dashes);
    if (body === '' || body[0] === '-' || body[0] === '=') throw usageError(`bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    let value = eq < 0 ? undefined : body.slice(eq + 1);
    const flag = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
    if (flag === undefined) throw usageError(`flag provided but not defined: -${name}`);
    let parsed: boolean | string | number;
    if (flag.kind === 'bool') {
      const b = value === undefined ? true : parseGoBool(value);
      if (b === undefined) throw usageError(`invalid boolean value "${value}" for -${name}: parse error`);
      parsed = b;
    } else {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw usageError(`flag needs an argument: -${name}`);
        value = argv[++i] ?? '';
      }
      if (flag.kind === 'int') {
        if (!/^[+-]?\d+$/.test(value)) throw usageError(`invalid value "${value}" for flag -${name}: parse error`);
        parsed = Number(value);
      } else {
        parsed = value;
      }
    }
    const spelling = arg.slice(0, dashes + name.length);
    if (flag.fields.length === 0) {
      flags.ignored.push(spelling);
      continue;
    }
    for (const field of flag.fields) {
      out[field] = field === 'signal' ? parseSignal(String(parsed)) : parsed;
      flags.spelledAs[field] = spelling;
    }
  }
  // nats-server takes `version` or `help` as a command word after the flags.
  const command = argv[i];
  if (command !== undefined) {
    const lower = command.toLowerCase();
    if (lower === 'version') flags.version = true;
    else if (lower === 'help') flags.help = true;
    else throw usageError(`unrecognized command: "${command}"`);
  }
  return flags;
}
