// The `nats-server`-compatible entry point. Before it loads the server (config, logging,
// JetStream: most of a start-up), it starts the first routing worker, which then loads its own
// modules on another core at the same time (worker_spawn.ts).

import { deferTopTierCompiler, useCompileCache } from './server/idle_memory.ts';
import { prewarmRoutingWorker } from './server/worker_spawn.ts';

/** Flags after which no server starts: no worker is worth starting for them. */
const NO_SERVER = new Set(['-h', '--help', '-help', '-v', '--version', '-version', '-t', '--signal', '-sl']);

const argv = process.argv.slice(2);
useCompileCache();
deferTopTierCompiler();
if (!argv.some((a) => NO_SERVER.has(a) || a.startsWith('--signal=') || a.startsWith('-sl='))) prewarmRoutingWorker();
(await import('./command.ts')).run(argv);
