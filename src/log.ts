// Logging through pino. JSON lines by default; with `pretty`, lines shaped like nats-server's
// (`[pid] 2026/11/24 20:45:39.123456 [INF] message`) so operators' habits and greps carry over.
// Every thread builds its own logger from the same LogConfig; writes are synchronous appends,
// so lines from different threads never interleave inside a line.

import fs from 'node:fs';
import pino from 'pino';
import type { Logger } from 'pino';
import type { LogLevel } from './config/options.ts';

export type { Logger };

export interface LogConfig {
  level: LogLevel;
  file?: string;
  pretty: boolean;
  logtime: boolean;
}

/** Fields that may carry credentials: pino blanks them before a line is written. */
const SECRET_PATHS = [
  'pass',
  'password',
  'auth_token',
  'token',
  'sig',
  'seed',
  'nkey_seed',
  '*.pass',
  '*.password',
  '*.auth_token',
  '*.token',
  '*.sig',
  '*.seed',
];

const LEVEL_TAGS: Record<number, string> = {
  10: 'TRC',
  20: 'DBG',
  30: 'INF',
  40: 'WRN',
  50: 'ERR',
  60: 'FTL',
};

/** A pino destination that appends to a file descriptor and can reopen its file (SIGUSR1). */
class FileSink {
  private fd: number;
  private readonly path: string | undefined;
  private readonly format: ((line: string) => string) | null;

  constructor(path: string | undefined, format: ((line: string) => string) | null) {
    this.path = path;
    this.format = format;
    this.fd = path ? fs.openSync(path, 'a') : 1;
  }

  write(line: string): void {
    const out = this.format ? this.format(line) : line;
    try {
      fs.writeSync(this.fd, out);
    } catch {
      // A full disk or closed stdout must not take the broker down with it.
    }
  }

  reopen(): void {
    if (!this.path) return;
    const old = this.fd;
    this.fd = fs.openSync(this.path, 'a');
    fs.closeSync(old);
  }

  close(): void {
    if (this.path) fs.closeSync(this.fd);
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function goTimestamp(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}/${pad(d.getMonth() + 1, 2)}/${pad(d.getDate(), 2)} ` +
    `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(d.getMilliseconds(), 3)}000`
  );
}

/** Turns one pino JSON line into a nats-server style line; extra fields follow as key=value. */
export function formatGoLine(json: string, logtime: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, pid, msg, hostname: _h, ...rest } = rec;
  const tag = LEVEL_TAGS[level as number] ?? 'INF';
  let line = `[${pid ?? process.pid}] `;
  if (logtime && typeof time === 'number') line += `${goTimestamp(time)} `;
  line += `[${tag}] ${msg ?? ''}`;
  for (const [k, v] of Object.entries(rest)) {
    line += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
  }
  return line + '\n';
}

export interface PetrelLogger {
  logger: Logger;
  reopen(): void;
  close(): void;
}

export function createLogger(cfg: LogConfig, bindings: Record<string, unknown> = {}): PetrelLogger {
  const sink = new FileSink(cfg.file, cfg.pretty ? (l) => formatGoLine(l, cfg.logtime) : null);
  const logger = pino(
    {
      level: cfg.level,
      base: { pid: process.pid, ...bindings },
      redact: { paths: SECRET_PATHS, censor: '[REDACTED]' },
      timestamp: cfg.logtime || !cfg.pretty ? pino.stdTimeFunctions.epochTime : false,
    },
    sink,
  );
  return { logger, reopen: () => sink.reopen(), close: () => sink.close() };
}

/** A logger that drops everything: for unit tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
