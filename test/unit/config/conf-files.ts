// Config test helpers: write a config text to a temp file, resolve it with fixed runtime facts,
// and catch the ConfigError a bad one must raise.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { ConfigError, resolveOptions } from '../../../src/config/load.ts';
import type { ResolvedOptions, RuntimeFacts } from '../../../src/config/load.ts';

export const FACTS: RuntimeFacts = { cpuCount: 4, totalMemoryBytes: 8 * 1024 ** 3, tmpDir: '/tmp', isTTY: false };

/** A temp directory removed after the calling test file. */
export function confDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-load-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface ConfFiles {
  dir: string;
  confFile(text: string): string;
  resolve(args: string[], env?: Record<string, string>): ResolvedOptions;
  load(text: string, args?: string[], env?: Record<string, string>): ResolvedOptions;
  loadError(text: string, args?: string[]): { err: ConfigError; path: string };
}

export function confFiles(): ConfFiles {
  const dir = confDir();
  let counter = 0;
  const confFile = (text: string): string => {
    const path = join(dir, `c${++counter}.conf`);
    writeFileSync(path, text);
    return path;
  };
  const resolve = (args: string[], env: Record<string, string> = {}): ResolvedOptions => resolveOptions(args, env, FACTS);
  return {
    dir,
    confFile,
    resolve,
    load: (text, args = [], env = {}) => resolve(['-c', confFile(text), ...args], env),
    loadError(text, args = []) {
      const path = confFile(text);
      try {
        resolve(['-c', path, ...args]);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return { err: err as ConfigError, path };
      }
      throw new Error('expected a ConfigError');
    },
  };
}
