// A Toxiproxy server: in-process (`startToxiproxy()`, for tests and the chaos runner) or standalone,
// with toxiproxy-server's flags:
//
//   node chaos/toxiproxy/server.ts [--host localhost] [--port 8474] [--config proxies.json] [--seed N]
//   node chaos/toxiproxy/server.ts --version
//
// `--seed` makes jitter, slicing and toxicity rolls replayable (Toxiproxy accepts the flag too).
// `--config` populates proxies from a JSON file at startup, like POST /populate.

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createLogger, silentLogger } from '../../src/log.ts';
import { seededRandom } from '../../src/raft/prng.ts';
import { joinHostPort } from './addr.ts';
import { TOXIPROXY_VERSION, ToxiproxyApi } from './api.ts';
import type { Random } from './toxics.ts';

export { TOXIPROXY_VERSION } from './api.ts';

export interface ToxiproxyOptions {
  /** Default 127.0.0.1 in process ("localhost" from the command line, as toxiproxy-server). */
  host?: string;
  /** 0 picks a free port. Default 8474. */
  port?: number;
  logger?: Logger;
  /** Seeds every random choice the toxics make; Math.random otherwise. */
  seed?: number;
  /** A proxies JSON file to populate at startup. */
  config?: string;
}

export interface ToxiproxyServer {
  /** "http://127.0.0.1:8474": what a Toxiproxy client is given. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly api: ToxiproxyApi;
  /** Stops every proxy, closes their connections and the HTTP listener. */
  close(): Promise<void>;
}

export async function startToxiproxy(opts: ToxiproxyOptions = {}): Promise<ToxiproxyServer> {
  const logger = opts.logger ?? silentLogger();
  const random: Random = opts.seed === undefined ? Math.random : seededRandom(opts.seed).next;
  const api = new ToxiproxyApi({ logger, random });
  if (opts.config) await populateFromFile(api, opts.config, logger);
  const server = http.createServer(api.handle);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: opts.port ?? 8474 }, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${joinHostPort(addr.address, addr.port)}`;
  logger.info({ address: joinHostPort(addr.address, addr.port) }, 'Starting Toxiproxy HTTP server');
  return {
    url,
    host: addr.address,
    port: addr.port,
    api,
    close: async () => {
      api.stopAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function populateFromFile(api: ToxiproxyApi, file: string, logger: Logger): Promise<void> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    logger.error({ err, config: file }, 'Error reading config file');
    return;
  }
  const reply = await api.populateText(text);
  if (reply.error) logger.error({ err: reply.error, config: file }, 'Failed to populate proxies from file');
  else logger.info({ proxies: reply.count }, 'Populated proxies from file');
}

interface CliArgs {
  host: string;
  port: number;
  config?: string;
  seed?: number;
  version: boolean;
}

/** Go's flag syntax: `-host x`, `--host x`, `--host=x`. */
export function parseCliArgs(argv: string[]): CliArgs {
  const args: CliArgs = { host: 'localhost', port: 8474, version: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(raw);
    if (!m) throw new Error(`unexpected argument: ${raw}`);
    const name = m[1]!;
    if (name === 'version') {
      args.version = true;
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`flag needs an argument: -${name}`);
    switch (name) {
      case 'host':
        args.host = value;
        break;
      case 'port':
        args.port = Number(value);
        if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new Error(`invalid port: ${value}`);
        break;
      case 'config':
        args.config = value;
        break;
      case 'seed':
        args.seed = Number(value);
        if (!Number.isSafeInteger(args.seed)) throw new Error(`invalid seed: ${value}`);
        break;
      default:
        throw new Error(`flag provided but not defined: -${name}`);
    }
  }
  return args;
}

async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseCliArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  if (args.version) {
    process.stdout.write(`toxiproxy-server version ${TOXIPROXY_VERSION}\n`);
    return;
  }
  const { logger } = createLogger({ level: 'info', pretty: Boolean(process.stdout.isTTY), logtime: true });
  logger.info({ version: TOXIPROXY_VERSION, seed: args.seed }, 'Starting Toxiproxy');
  const server = await startToxiproxy({ host: args.host, port: args.port, logger, seed: args.seed, config: args.config });
  const stop = (): void => {
    logger.info('Shutdown started');
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
