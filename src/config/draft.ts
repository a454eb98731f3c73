// The options being assembled from a config file and flags, in nats-server's key
// names, before convict validates them. Every value remembers where it came from
// so a bad value can be reported at its file position or flag.

import { ConfigError, formatConfigMessage } from './errors.ts';
import type { Position } from './errors.ts';
import { positionOf } from './parser.ts';

export interface Origin {
  /** Absent for flags and built-in values. */
  position?: Position;
  /** The key as the user wrote it (`authorization.users[0].password`) or the flag (`-p`). */
  key: string;
}

export function originIn(container: object, key: string | number, path: string): Origin {
  return { position: positionOf(container, key), key: path };
}

export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

export function failAt(origin: Origin, problem: string): never {
  throw ConfigError.at(origin.position, origin.key, problem);
}

export function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'datetime';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'map';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float';
  return typeof value;
}

export class ConfigDraft {
  /** Nested by canonical key path (`jetstream.store_dir`). */
  readonly values: Record<string, unknown> = {};
  private readonly origins = new Map<string, Origin>();
  readonly warnings: string[] = [];

  set(path: string, value: unknown, origin: Origin): void {
    const parts = path.split('.');
    const last = parts.pop() as string;
    let node = this.values;
    for (const part of parts) {
      const next = node[part];
      if (typeof next !== 'object' || next === null) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[last] = value;
    this.origins.set(path, origin);
  }

  get(path: string): unknown {
    let node: unknown = this.values;
    for (const part of path.split('.')) {
      if (typeof node !== 'object' || node === null) return undefined;
      node = (node as Record<string, unknown>)[part];
    }
    return node;
  }

  has(path: string): boolean {
    return this.get(path) !== undefined;
  }

  /** The origin of a path or of its nearest ancestor that has one. */
  originOf(path: string): Origin {
    let p = path;
    for (;;) {
      const origin = this.origins.get(p);
      if (origin !== undefined) return origin;
      const dot = p.lastIndexOf('.');
      if (dot < 0) return { key: path };
      p = p.slice(0, dot);
    }
  }

  warn(origin: Origin, problem: string): void {
    this.warnings.push(formatConfigMessage(problem, { ...origin.position, key: origin.key }));
  }
}
