// `-sl/--signal <command>[=<pid|pidfile>]`: send a command to a running server, as nats-server.

import fs from 'node:fs';

/** nats-server's signal commands and the Unix signals they map to. */
export const SIGNAL_COMMANDS: Record<string, NodeJS.Signals> = {
  stop: 'SIGKILL',
  quit: 'SIGINT',
  term: 'SIGTERM',
  reopen: 'SIGUSR1',
  reload: 'SIGHUP',
  ldm: 'SIGUSR2',
};

/** Resolves `pid` given as a number or a pid file path (falling back to the configured pid_file). */
export function resolvePid(pidArg: string | undefined, pidFile: string | undefined): number {
  const source = pidArg ?? pidFile;
  if (!source) throw new Error('no pid given: use -sl <command>=<pid or pid file>, or set pid_file');
  if (/^\d+$/.test(source)) return Number(source);
  let text: string;
  try {
    text = fs.readFileSync(source, 'utf8').trim();
  } catch {
    throw new Error(`could not read pid file ${source}`);
  }
  if (!/^\d+$/.test(text)) throw new Error(`pid file ${source} does not hold a pid`);
  return Number(text);
}

export function sendSignal(command: string, pidArg: string | undefined, pidFile: string | undefined): void {
  const sig = SIGNAL_COMMANDS[command];
  if (!sig) throw new Error(`unknown signal "${command}" (use one of: ${Object.keys(SIGNAL_COMMANDS).join(', ')})`);
  const pid = resolvePid(pidArg, pidFile);
  try {
    process.kill(pid, sig);
  } catch (err) {
    throw new Error(`could not send ${sig} to process ${pid}: ${(err as Error).message}`);
  }
}
