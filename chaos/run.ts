// `npm run chaos`: breaks a cluster on purpose and checks that nothing acknowledged was lost.
//
//   npm run chaos                                   3 nodes, 60 s, every workload and fault, a random seed
//   npm run chaos -- --nodes 5 --time 300 --seed 42 --workload queue --faults partition,kill
//   npm run chaos -- --server /usr/sbin/nats-server the same suite against another nats-server
//
// Exit status: 0 every workload passed; 1 something failed; 3 a check could not decide
// (linearizability search out of budget); 2 bad arguments or a cluster that never formed.

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { FAULT_FAMILIES, FAULT_KINDS, selectKinds } from './faults/schedule.ts';
import { defaultOutDir, runChaos } from './runner.ts';
import type { ChaosOptions } from './runner.ts';
import { WORKLOADS } from './workloads/workload.ts';
import type { WorkloadName } from './workloads/workload.ts';

export const USAGE = `Usage: npm run chaos -- [options]

Starts a cluster whose every link runs through Toxiproxy, drives workloads with the official
client while a seeded schedule of faults breaks it, heals everything, and checks the history.

  --nodes N          cluster size (default 3; 3 or 5 as the issue runs it, 1-7 accepted)
  --time SECONDS     length of the run (default 60); faults end 15% before it
  --seed N           replays a run: same seed, nodes, time and faults, same schedule (default random)
  --workload LIST    ${WORKLOADS.join(',')} (default all; --workloads is the same)
  --faults LIST      families ${Object.keys(FAULT_FAMILIES).join(',')}
                     or kinds ${FAULT_KINDS.join(',')}; none for none (default all)
  --server PATH      another nats-server binary (default Petrel's bin/nats-server)
  --out DIR          result.json, report.html and the nodes' configs, logs, stores
                     (default $TMPDIR/petrel-chaos/<time>-seed<seed>)
  --settle SECONDS   bound on each wait after healing: replicas catching up, the queue draining (default 60)
  --keep             keep the nodes' stores after a passing run
  --toxiproxy URL    a running Toxiproxy (default $TOXIPROXY_URL; else chaos/toxiproxy is started)
  --proxy-host HOST  where nodes and clients reach the proxies (default the Toxiproxy host; $CHAOS_PROXY_HOST)
  --node-host HOST   where Toxiproxy reaches the nodes (default 127.0.0.1; $CHAOS_NODE_HOST)

Exit status: 0 every workload passed, 1 a failure, 3 undecided, 2 bad usage or no cluster.
`;

export class UsageError extends Error {}

function intFlag(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`--${name} must be an integer between ${min} and ${max}, got "${text}"`);
  return n;
}

const list = (values: string[] | undefined): string[] => (values ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);

export function parseChaosArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ChaosOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string' },
        time: { type: 'string' },
        seed: { type: 'string' },
        workload: { type: 'string', multiple: true },
        workloads: { type: 'string', multiple: true },
        faults: { type: 'string', multiple: true },
        server: { type: 'string' },
        out: { type: 'string' },
        settle: { type: 'string' },
        keep: { type: 'boolean' },
        toxiproxy: { type: 'string' },
        'proxy-host': { type: 'string' },
        'node-host': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const nodes = intFlag('nodes', values.nodes, 3, 1, 7);
  const time = intFlag('time', values.time, 60, 10, 24 * 3600);
  const seed = values.seed === undefined ? crypto.randomInt(1, 2 ** 31) : intFlag('seed', values.seed, 0, 0, 2 ** 32 - 1);
  const names = list([...(values.workload ?? []), ...(values.workloads ?? [])]);
  for (const w of names) if (!(WORKLOADS as readonly string[]).includes(w)) throw new UsageError(`unknown workload "${w}" (workloads: ${WORKLOADS.join(', ')})`);
  const workloads = names.length > 0 ? WORKLOADS.filter((w) => names.includes(w)) : [...WORKLOADS];
  const faults = list(values.faults);
  try {
    selectKinds(faults, nodes);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const replay = [
    'npm run chaos --',
    `--nodes ${nodes}`,
    `--time ${time}`,
    `--seed ${seed}`,
    `--workload ${workloads.join(',')}`,
    ...(faults.length > 0 ? [`--faults ${faults.join(',')}`] : []),
    ...(values.server ? [`--server ${values.server}`] : []),
  ].join(' ');
  return {
    nodes,
    durationMs: time * 1000,
    seed,
    workloads: workloads as WorkloadName[],
    faults,
    server: values.server,
    out: values.out ?? defaultOutDir(seed),
    settleMs: intFlag('settle', values.settle, 60, 1, 3600) * 1000,
    keep: values.keep === true,
    toxiproxyUrl: values.toxiproxy ?? (env['TOXIPROXY_URL'] || undefined),
    proxyHost: values['proxy-host'] ?? (env['CHAOS_PROXY_HOST'] || undefined),
    nodeHost: values['node-host'] ?? (env['CHAOS_NODE_HOST'] || undefined),
    replay,
  };
}

async function main(argv: string[]): Promise<number> {
  let opts: ChaosOptions | 'help';
  try {
    opts = parseChaosArgs(argv);
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const tty = Boolean(process.stdout.isTTY);
  let lastPrinted = 0;
  let shown = false;
  const out = {
    line(text: string): void {
      if (tty && shown) process.stdout.write('\r\x1b[K');
      shown = false;
      process.stdout.write(`${text}\n`);
    },
    progress(text: string): void {
      if (tty) {
        process.stdout.write(`\r\x1b[K${text}`);
        shown = text.length > 0;
      } else if (text && Date.now() - lastPrinted >= 10_000) {
        lastPrinted = Date.now();
        process.stdout.write(`${text}\n`);
      }
    },
  };
  const abort = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (abort.signal.aborted) process.exit(130);
      out.line(`chaos: ${sig}: healing and stopping the nodes (again to quit at once)`);
      abort.abort();
    });
  }
  out.line(`chaos: seed ${opts.seed}`);
  try {
    const { result } = await runChaos(opts, out, abort.signal);
    return result.verdict === 'pass' ? 0 : result.verdict === 'fail' ? 1 : 3;
  } catch (err) {
    out.line(`chaos: ${(err as Error).message}`);
    out.line(`chaos: nodes' logs are in ${opts.out}`);
    return abort.signal.aborted ? 130 : 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
