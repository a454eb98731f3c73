// The `nats-server` command: same flags, same exit codes, same signals (entered through cli.ts).

import fs from 'node:fs';
import { resolveOptions, loadConfigFile, USAGE } from './config/load.ts';
import { ConfigError } from './config/errors.ts';
import { refusedReloadChanges } from './config/reload.ts';
import { createLogger } from './log.ts';
import { PetrelServer } from './server/server.ts';
import { sendSignal } from './server/signal.ts';
import { releaseIdleMemory } from './server/idle_memory.ts';
import { NATS_COMPAT_VERSION, PETREL_VERSION } from './version.ts';

function fail(message: string, usage?: string): never {
  process.stderr.write(`nats-server: ${message}\n`);
  if (usage) process.stderr.write(`${usage}\n`);
  process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  let resolved: ReturnType<typeof resolveOptions>;
  try {
    resolved = resolveOptions(argv);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, err.usage);
    throw err;
  }
  const { options, warnings, action } = resolved;
  switch (action) {
    case 'help':
      process.stdout.write(USAGE);
      process.exit(0);
    case 'version':
      process.stdout.write(`nats-server: v${NATS_COMPAT_VERSION} (petrel ${PETREL_VERSION})\n`);
      process.exit(0);
    case 'test':
      for (const w of warnings) process.stderr.write(`nats-server: warning: ${w}\n`);
      process.stdout.write(`nats-server: configuration file ${options.configFile ?? ''} test is successful\n`);
      process.exit(0);
    case 'signal':
      try {
        sendSignal(resolved.signal!.command, resolved.signal!.pid, options.pidFile);
      } catch (err) {
        fail((err as Error).message);
      }
      process.exit(0);
    default:
      break;
  }

  const log = createLogger({ level: options.logLevel, file: options.logFile, pretty: options.pretty, logtime: options.logtime });
  const logger = log.logger;
  for (const w of warnings) logger.warn(w);
  const server = new PetrelServer(options, logger);
  // Handlers go in before start so a signal that arrives while starting (launchers may signal as
  // soon as the ports file exists) is acted on once the start completes.
  let starting: Promise<void> = Promise.resolve();
  const afterStart = (fn: () => unknown): void => {
    void starting.then(fn, () => {});
  };
  const stop = (): void => afterStart(() => server.shutdown(0).then(() => process.exit(0)));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () =>
    afterStart(() => {
      try {
        if (!options.configFile) throw new Error('no configuration file given (-c)');
        const next = loadConfigFile(options.configFile, resolved.flags).options;
        const refused = refusedReloadChanges(server.options, next);
        if (refused.length > 0) throw new Error(`config reload not supported for: ${refused.join(', ')} (restart the server to change them)`);
        server.reload(next);
      } catch (err) {
        logger.error(`Failed to reload server configuration: ${(err as Error).message}`);
      }
    }),
  );
  process.on('SIGUSR1', () =>
    afterStart(() => {
      log.reopen();
      server.reopenLogs();
      logger.info('Reopened log file');
    }),
  );
  process.on('SIGUSR2', () => afterStart(() => server.lameDuck().then(() => process.exit(0))));
  starting = server.start();
  try {
    await starting;
  } catch (err) {
    logger.fatal({ err }, `Error starting server: ${(err as Error).message}`);
    await server.shutdown(1);
    process.exit(1);
  }
  releaseIdleMemory();
  await server.whenStopped();
  log.close();
  process.exit(0);
}

export function run(argv: string[]): void {
  main(argv).catch((err: unknown) => {
    process.stderr.write(`nats-server: ${(err as Error).stack ?? String(err)}\n`);
    fs.writeSync(2, '');
    process.exit(1);
  });
}
