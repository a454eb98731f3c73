// Entry point of configuration: command-line flags plus an optional config file
// become validated ServerOptions. Flags win over the file, as in nats-server.

import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { applyClusterFlags } from './cluster-config.ts';
import { readConfMap } from './conf-reader.ts';
import { ConfigDraft } from './draft.ts';
import type { Origin } from './draft.ts';
import { ConfigError } from './errors.ts';
import { parseFlags } from './flags.ts';
import type { CliFlags, FlagField } from './flags.ts';
import type { ServerOptions } from './options.ts';
import { parseConfFile } from './parser.ts';
import { toServerOptions, validateDraft } from './schema.ts';
import type { RuntimeFacts } from './schema.ts';

export { ConfigError } from './errors.ts';
export type { CliFlags } from './flags.ts';
export { USAGE } from './flags.ts';
export type { RuntimeFacts } from './schema.ts';

export type Action = 'run' | 'test' | 'signal' | 'help' | 'version';

export interface ResolvedOptions {
  options: ServerOptions;
  /** Lines to log at start (unknown or unsupported keys and flags, legacy forms). */
  warnings: string[];
  action: Action;
  signal?: { command: string; pid?: string };
  /** Kept for reloads: loadConfigFile(path, flags) re-applies them over the new file. */
  flags: CliFlags;
}

export function currentRuntimeFacts(): RuntimeFacts {
  return {
    cpuCount: availableParallelism(),
    totalMemoryBytes: totalmem(),
    tmpDir: tmpdir(),
    isTTY: Boolean(process.stdout.isTTY),
  };
}

export function resolveOptions(
  argv: string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  facts: RuntimeFacts = currentRuntimeFacts(),
): ResolvedOptions {
  const flags = parseFlags(argv);
  const early = earlyAction(flags);
  if (early !== undefined) {
    const result: ResolvedOptions = { ...optionsWithoutFile(flags, facts), action: early, flags };
    if (early === 'signal' && flags.signal !== undefined) result.signal = flags.signal;
    return result;
  }
  if (flags.testConfig === true && flags.config === undefined) {
    throw new ConfigError('must specify [-c, --config] option to check configuration file syntax', { key: '-t' });
  }
  const loaded = flags.config === undefined ? build(new ConfigDraft(), flags, facts) : loadConfigFile(flags.config, flags, env, facts);
  return { ...loaded, action: flags.testConfig === true ? 'test' : 'run', flags };
}

/** Reads a config file (again, on SIGHUP) and applies the original flags over it. */
export function loadConfigFile(
  path: string,
  flags: CliFlags = { ignored: [], spelledAs: {} },
  env: Readonly<Record<string, string | undefined>> = process.env,
  facts: RuntimeFacts = currentRuntimeFacts(),
): { options: ServerOptions; warnings: string[] } {
  const draft = readConfMap(parseConfFile(path, { env }));
  return build(draft, flags, facts, path);
}

function earlyAction(flags: CliFlags): Action | undefined {
  if (flags.version === true) return 'version';
  if (flags.help === true || flags.helpTls === true) return 'help';
  if (flags.signal !== undefined) return 'signal';
  return undefined;
}

/** help/version/signal never read the file; their options are best effort. */
function optionsWithoutFile(flags: CliFlags, facts: RuntimeFacts): { options: ServerOptions; warnings: string[] } {
  try {
    return build(new ConfigDraft(), flags, facts);
  } catch {
    return build(new ConfigDraft(), { ignored: [], spelledAs: {} }, facts);
  }
}

function build(draft: ConfigDraft, flags: CliFlags, facts: RuntimeFacts, configFile?: string): { options: ServerOptions; warnings: string[] } {
  applyFlags(draft, flags);
  const canonical = validateDraft(draft, facts);
  const options = toServerOptions(canonical, facts, { configFile, pretty: flags.pretty });
  return { options, warnings: draft.warnings };
}

/** Flag fields whose nats-server spelling is not the lowercased field name. */
const FLAG_SPELLING: Partial<Record<FlagField, string>> = {
  tlsCert: '--tlscert',
  tlsKey: '--tlskey',
  tlsCaCert: '--tlscacert',
  tlsVerify: '--tlsverify',
};

function flagOrigin(flags: CliFlags, field: FlagField): Origin {
  return { key: flags.spelledAs[field] ?? FLAG_SPELLING[field] ?? `--${field}` };
}

/** Simple flags: field → canonical path. */
const FLAG_PATHS: ReadonlyArray<[FlagField, string]> = [
  ['host', 'host'],
  ['port', 'port'],
  ['serverName', 'server_name'],
  ['pidFile', 'pid_file'],
  ['httpPort', 'http_port'],
  ['httpsPort', 'https_port'],
  ['clientAdvertise', 'client_advertise'],
  ['portsFileDir', 'ports_file_dir'],
  ['maxPayload', 'max_payload'],
  ['noAdvertise', 'cluster.no_advertise'],
  ['logFile', 'log_file'],
  ['debug', 'debug'],
  ['trace', 'trace'],
  ['logtime', 'logtime'],
  ['user', 'authorization.user'],
  ['pass', 'authorization.password'],
  ['auth', 'authorization.token'],
  ['jetstream', 'jetstream.enabled'],
  ['storeDir', 'jetstream.store_dir'],
  ['workers', 'workers'],
];

export function applyFlags(draft: ConfigDraft, flags: CliFlags): void {
  for (const [field, path] of FLAG_PATHS) {
    const value = flags[field];
    if (value !== undefined) draft.set(path, value, flagOrigin(flags, field));
  }
  if (flags.serverName?.includes(' ')) {
    throw ConfigError.at(undefined, flagOrigin(flags, 'serverName').key, 'server name cannot contain spaces');
  }
  if (flags.httpsPort !== undefined) draft.warn(flagOrigin(flags, 'httpsPort'), 'https monitoring is not supported by Petrel yet, ignored');
  if (flags.syslog === true) draft.warn(flagOrigin(flags, 'syslog'), 'syslog is not supported by Petrel; logging to stdout or the log file');
  if (flags.remoteSyslog !== undefined) draft.warn(flagOrigin(flags, 'remoteSyslog'), 'remote syslog is not supported by Petrel, ignored');
  for (const name of flags.ignored) draft.warn({ key: name }, 'flag is accepted for nats-server compatibility but has no effect in Petrel');
  applyTlsFlags(draft, flags);
  applyClusterFlags(draft, flags, (field) => flagOrigin(flags, field));
}

/** As nats-server: `--tls=false` turns TLS off; any other TLS flag replaces the file's TLS with the flags'. */
function applyTlsFlags(draft: ConfigDraft, flags: CliFlags): void {
  if (flags.tls === false) {
    draft.set('tls.enabled', false, flagOrigin(flags, 'tls'));
    return;
  }
  const fields: FlagField[] = ['tls', 'tlsCert', 'tlsKey', 'tlsCaCert', 'tlsVerify'];
  const given = fields.find((f) => flags[f] !== undefined);
  if (given === undefined) return;
  const origin = flagOrigin(flags, given);
  if (flags.tlsCert === undefined || flags.tlsCert === '') {
    throw ConfigError.at(undefined, flagOrigin(flags, 'tlsCert').key, 'TLS Server certificate must be present and valid');
  }
  if (flags.tlsKey === undefined || flags.tlsKey === '') {
    throw ConfigError.at(undefined, flagOrigin(flags, 'tlsKey').key, 'TLS Server private key must be present and valid');
  }
  draft.set('tls.enabled', true, origin);
  draft.set('tls.cert_file', flags.tlsCert, flagOrigin(flags, 'tlsCert'));
  draft.set('tls.key_file', flags.tlsKey, flagOrigin(flags, 'tlsKey'));
  draft.set('tls.ca_file', flags.tlsCaCert ?? '', flagOrigin(flags, 'tlsCaCert'));
  draft.set('tls.verify', flags.tlsVerify ?? false, flagOrigin(flags, 'tlsVerify'));
}
