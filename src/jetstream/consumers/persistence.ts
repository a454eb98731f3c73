// Durable consumer files: `<consumerDir>/<name>/meta.json` (config and creation time, written
// atomically on create/update) and `<consumerDir>/<name>/state.dat` (delivered, ack floor,
// pending, redelivery counts; checksummed). State saves are group-committed: many acks in one
// event-loop turn cost one write, and a double-ack is answered only once its save is on disk.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { replaceFileSync } from '../../storage/atomic_file.ts';
import { loadConsumerState, saveConsumerState, type ConsumerState } from '../store/index.ts';

export const META_FILE = 'meta.json';
export const STATE_FILE = 'state.dat';

export interface ConsumerMeta {
  /** The config as API JSON. */
  config: Record<string, unknown>;
  /** Creation time, RFC 3339. */
  created: string;
  /** Where it started (delivered = ack floor), for a restart before the first state save. */
  start?: { consumer: number; stream: number };
}

export class StatePersister {
  readonly dir: string;
  private readonly snapshot: () => ConsumerState;
  private readonly onError: (err: unknown) => void;
  private scheduled = false;
  private saving: Promise<void> | null = null;
  private dirty = false;
  /** Callbacks waiting for the next save that starts after they were queued. */
  private waiters: (() => void)[] = [];
  private closed = false;
  /** State saves that reached the disk (tests count group commits with it). */
  saves = 0;

  constructor(dir: string, snapshot: () => ConsumerState, onError: (err: unknown) => void) {
    this.dir = dir;
    this.snapshot = snapshot;
    this.onError = onError;
  }

  /**
   * Written before create and update answer (blocking), so the API never promises a consumer
   * that a crash right after it would lose. Rare and small: a short stall of the event loop is
   * the price.
   */
  writeMetaSync(meta: ConsumerMeta): void {
    fs.mkdirSync(this.dir, { recursive: true });
    replaceFileSync(path.join(this.dir, META_FILE), JSON.stringify(meta));
  }

  /** The state changed: save it soon (at most one save per turn). */
  markDirty(): void {
    if (this.closed) return;
    this.dirty = true;
    this.schedule();
  }

  /** Runs `fn` once the current state is on disk. */
  afterDurable(fn: () => void): void {
    if (this.closed) return;
    this.waiters.push(fn);
    this.markDirty();
  }

  /** Resolves once everything changed so far is on disk. */
  flush(): Promise<void> {
    if (this.closed || (!this.dirty && !this.scheduled)) return this.saving ?? Promise.resolve();
    return new Promise((resolve) => this.afterDurable(resolve));
  }

  /** Stops saving; resolves when an in-flight save has finished. */
  async close(): Promise<void> {
    if (this.dirty && !this.closed) {
      await this.flush();
    }
    this.closed = true;
    this.waiters = [];
    if (this.saving) await this.saving;
  }

  /** Stops saving and removes the consumer's files. */
  async remove(): Promise<void> {
    this.closed = true;
    this.waiters = [];
    if (this.saving) await this.saving.catch(() => {});
    await fsp.rm(this.dir, { recursive: true, force: true });
  }

  private schedule(): void {
    if (this.scheduled || this.saving !== null) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    if (this.closed || !this.dirty) return;
    this.dirty = false;
    const state = this.snapshot();
    const waiters = this.waiters;
    this.waiters = [];
    this.saving = (async () => {
      try {
        await fsp.mkdir(this.dir, { recursive: true });
        await saveConsumerState(path.join(this.dir, STATE_FILE), state);
        this.saves++;
        for (const w of waiters) w();
      } catch (err) {
        this.onError(err);
        // Leave it dirty so the next change retries; the waiters stay unanswered (no false promise).
        this.dirty = true;
        this.waiters.unshift(...waiters);
      } finally {
        this.saving = null;
        if (this.dirty && !this.closed) this.schedule();
      }
    })();
  }
}

export interface RecoveredConsumer {
  name: string;
  meta: ConsumerMeta;
  state: ConsumerState | null;
  /** Set when the state file could not be read (it is then ignored). */
  stateError?: unknown;
}

/** Reads every consumer directory under `consumerDir`. Directories without a readable meta file are skipped and reported. */
export async function readConsumerDirs(consumerDir: string, onSkip: (name: string, err: unknown) => void): Promise<RecoveredConsumer[]> {
  let names: string[];
  try {
    names = (await fsp.readdir(consumerDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: RecoveredConsumer[] = [];
  for (const name of names.sort()) {
    const dir = path.join(consumerDir, name);
    let meta: ConsumerMeta;
    try {
      meta = JSON.parse(await fsp.readFile(path.join(dir, META_FILE), 'utf8')) as ConsumerMeta;
    } catch (err) {
      onSkip(name, err);
      continue;
    }
    try {
      out.push({ name, meta, state: await loadConsumerState(path.join(dir, STATE_FILE)) });
    } catch (err) {
      out.push({ name, meta, state: null, stateError: err });
    }
  }
  return out;
}
