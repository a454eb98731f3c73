// Builds plain JS values from NATS configuration text (nats-server conf/parse.go
// semantics): maps, arrays, scalars, `include`, and `$VAR` references resolved
// through the enclosing blocks and then the environment. Every map key and array
// element remembers where it was written, for error messages.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.ts';
import type { Position } from './errors.ts';
import { Lexer, TokenKind } from './lexer.ts';
import type { ScalarValue } from './lexer.ts';

export type ConfValue = ScalarValue | ConfMap | ConfValue[];
export interface ConfMap {
  [key: string]: ConfValue;
}

export interface ParseOptions {
  /** Name used in messages and the base for relative includes. Default `<config>` (includes relative to cwd). */
  file?: string;
  /** Where `$VAR` falls back to after the block scopes. Default: no environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Injected for tests; default reads UTF-8 from disk. */
  readFile?: (path: string) => string;
}

/** Includes nested deeper than this are a loop nobody meant to write. */
const MAX_INCLUDE_DEPTH = 32;
const STRING_SOURCE_NAME = '<config>';
/** nats-server parses an environment value as the value of this key. */
const ENV_VALUE_KEY = 'pk';

const positions = new WeakMap<object, Map<string | number, Position>>();
const usedAsVariable = new WeakMap<object, Set<string>>();

/** Where a map key or array element was written; undefined for values built in code. */
export function positionOf(container: object, key: string | number): Position | undefined {
  return positions.get(container)?.get(key);
}

/**
 * True when the key was referenced as `$key`: nats-server treats such top-level
 * keys as variable definitions, not unknown options.
 */
export function isUsedVariable(map: ConfMap, key: string): boolean {
  return usedAsVariable.get(map)?.has(key) ?? false;
}

export function isConfMap(value: unknown): value is ConfMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export function parseConf(text: string, options: ParseOptions = {}): ConfMap {
  return new Parser(text, options, new Set(), []).parseDocument();
}

export function parseConfFile(path: string, options: Omit<ParseOptions, 'file'> = {}): ConfMap {
  const read = options.readFile ?? defaultReadFile;
  let text: string;
  try {
    text = read(path);
  } catch (err) {
    throw new ConfigError(`error opening config file: ${(err as Error).message}`, { file: path });
  }
  return new Parser(text, { ...options, file: path }, new Set(), [resolve(path)]).parseDocument();
}

function defaultReadFile(path: string): string {
  return readFileSync(path, 'utf8');
}

function recordPosition(container: object, key: string | number, position: Position | undefined): void {
  if (position === undefined) return;
  let table = positions.get(container);
  if (table === undefined) {
    table = new Map();
    positions.set(container, table);
  }
  table.set(key, position);
}

function setEntry(map: ConfMap, key: string, value: ConfValue, position: Position | undefined): void {
  // defineProperty so a key named `__proto__` is data, not a prototype change.
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  recordPosition(map, key, position);
}

class Parser {
  private readonly lexer: Lexer;
  private readonly options: ParseOptions;
  private readonly file: string;
  /** Maps being built, outermost first: the scope chain for `$VAR`. */
  private readonly scopes: ConfMap[] = [];
  private readonly keyPath: (string | number)[] = [];
  /** Environment variables being expanded, shared with nested expansions to stop cycles. */
  private readonly expandingEnv: Set<string>;
  /** Absolute paths of the files including this one. */
  private readonly includeChain: string[];

  constructor(text: string, options: ParseOptions, expandingEnv: Set<string>, includeChain: string[]) {
    this.options = options;
    this.file = options.file ?? STRING_SOURCE_NAME;
    this.lexer = new Lexer(text, this.file);
    this.lexer.keyContext = () => this.describeKeyPath();
    this.expandingEnv = expandingEnv;
    this.includeChain = includeChain;
  }

  parseDocument(): ConfMap {
    const root: ConfMap = {};
    this.scopes.push(root);
    this.lexer.skipBlank();
    // A document may be wrapped in braces, JSON style.
    if (this.lexer.peek() === '{') {
      this.lexer.advance();
      this.parseEntries(root, 'map');
      this.lexer.skipBlank();
      if (!this.lexer.atEnd()) this.lexer.fail(`Unexpected '${this.lexer.peek()}' after the closing '}'.`);
    } else {
      this.parseEntries(root, 'top');
    }
    return root;
  }

  private describeKeyPath(): string | undefined {
    let out = '';
    for (const part of this.keyPath) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
    return out === '' ? undefined : out;
  }

  private parseEntries(map: ConfMap, mode: 'top' | 'map'): void {
    const lx = this.lexer;
    for (;;) {
      lx.skipBlank();
      const c = lx.peek();
      if (lx.atEnd()) {
        if (mode === 'map') lx.fail('Unexpected EOF processing map.');
        return;
      }
      if (c === '}') {
        if (mode === 'top') lx.fail("Unexpected '}' at the top level.");
        lx.advance();
        return;
      }
      if (c === '=' || c === ':') lx.fail(`Unexpected key separator '${c}'.`);
      if (c === ']') lx.fail(`Unexpected array end ']' processing ${mode === 'map' ? 'map' : 'the top level'}.`);
      const key = lx.readKey();
      if (key.isInclude) {
        const include = lx.readIncludePath();
        this.include(map, include.path, include.offset);
      } else {
        this.keyPath.push(key.name);
        lx.skipKeySeparator();
        const value = this.parseValue();
        setEntry(map, key.name, value, lx.positionAt(key.offset));
        this.keyPath.pop();
      }
      this.expectValueEnd(mode);
    }
  }

  /** After a value: a newline, `;`, `,`, a comment, or the closing brace. */
  private expectValueEnd(mode: 'top' | 'map'): void {
    const lx = this.lexer;
    lx.skipInlineSpace();
    const c = lx.peek();
    if (lx.atComment()) {
      lx.skipComment();
      return;
    }
    if (lx.atEnd() || c === '\n' || c === '\r' || c === ';' || c === ',') {
      lx.advance();
      return;
    }
    if (c === '}') return;
    if (mode === 'top') {
      lx.fail(`Expected a top-level value to end with a new line, comment or EOF, but got '${c}' instead.`);
    }
    lx.fail(`Expected a map value terminator ',' or a map terminator '}', but got '${c}' instead.`);
  }

  private parseValue(): ConfValue {
    const token = this.lexer.readValue();
    switch (token.kind) {
      case TokenKind.MapStart: {
        const map: ConfMap = {};
        this.scopes.push(map);
        this.parseEntries(map, 'map');
        this.scopes.pop();
        return map;
      }
      case TokenKind.ArrayStart:
        return this.parseArray();
      case TokenKind.Variable:
        return this.lookupVariable(token.text, token.offset);
      default:
        return token.value;
    }
  }

  private parseArray(): ConfValue[] {
    const lx = this.lexer;
    const array: ConfValue[] = [];
    for (;;) {
      lx.skipBlank();
      const c = lx.peek();
      if (lx.atEnd()) lx.fail('Unexpected EOF processing array.');
      if (c === ']') {
        lx.advance();
        return array;
      }
      if (c === ',') lx.fail("Unexpected array value terminator ','.");
      const index = array.length;
      this.keyPath.push(index);
      recordPosition(array, index, lx.positionAt(lx.offset));
      array.push(this.parseValue());
      this.keyPath.pop();
      lx.skipInlineSpace();
      if (lx.atComment()) {
        lx.skipComment();
        continue;
      }
      const end = lx.peek();
      if (end === ',' || end === '\n' || end === '\r') {
        lx.advance();
      } else if (end === ']') {
        lx.advance();
        return array;
      } else if (lx.atEnd()) {
        lx.fail('Unexpected EOF processing array.');
      } else {
        lx.fail(`Expected an array value terminator ',' or an array terminator ']', but got '${end}' instead.`);
      }
    }
  }

  private lookupVariable(name: string, offset: number): ConfValue {
    const lx = this.lexer;
    const line = lx.positionAt(offset).line;
    // Unquoted bcrypt hashes look like variables; nats-server keeps them as strings.
    if (/^2[aby]\$/.test(name)) return `$${name}`;
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const scope = this.scopes[i];
      if (scope !== undefined && Object.hasOwn(scope, name)) {
        let used = usedAsVariable.get(scope);
        if (used === undefined) {
          used = new Set();
          usedAsVariable.set(scope, used);
        }
        used.add(name);
        return scope[name] as ConfValue;
      }
    }
    if (this.expandingEnv.has(name)) {
      lx.fail(
        `variable reference for '${name}' on line ${line} could not be parsed: variable reference cycle for '${name}'`,
        offset,
      );
    }
    const raw = this.options.env?.[name];
    if (raw === undefined) lx.fail(`variable reference for '${name}' on line ${line} can not be found`, offset);
    // An environment value is read as conf text, so `1MB`, `true` and `$OTHER` keep their meaning.
    this.expandingEnv.add(name);
    try {
      const sub = new Parser(
        `${ENV_VALUE_KEY}=${raw}`,
        { ...this.options, file: `$${name}` },
        this.expandingEnv,
        this.includeChain,
      );
      const value = sub.parseDocument()[ENV_VALUE_KEY];
      if (value === undefined) lx.fail(`variable reference for '${name}' on line ${line} can not be found`, offset);
      return value;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return lx.fail(`variable reference for '${name}' on line ${line} could not be parsed: ${err.problem}`, offset);
    } finally {
      this.expandingEnv.delete(name);
    }
  }

  private include(map: ConfMap, path: string, offset: number): void {
    const lx = this.lexer;
    const base = this.file === STRING_SOURCE_NAME || this.file.startsWith('$') ? process.cwd() : dirname(this.file);
    const target = resolve(base, path);
    if (this.includeChain.includes(target)) lx.fail(`include cycle: '${path}' includes itself`, offset);
    if (this.includeChain.length >= MAX_INCLUDE_DEPTH) lx.fail(`includes nested deeper than ${MAX_INCLUDE_DEPTH}`, offset);
    const read = this.options.readFile ?? defaultReadFile;
    let text: string;
    try {
      text = read(target);
    } catch (err) {
      return lx.fail(`error parsing include file '${path}', error opening config file: ${(err as Error).message}`, offset);
    }
    // Messages name the included file as written, resolved from the including file.
    const includedName = this.file === STRING_SOURCE_NAME || isAbsolute(path) ? path : join(dirname(this.file), path);
    const sub = new Parser(text, { ...this.options, file: includedName }, this.expandingEnv, [
      ...this.includeChain,
      target,
    ]);
    const included = sub.parseDocument();
    const used = usedAsVariable.get(included);
    for (const key of Object.keys(included)) {
      setEntry(map, key, included[key] as ConfValue, positionOf(included, key));
      if (used?.has(key)) {
        let mine = usedAsVariable.get(map);
        if (mine === undefined) {
          mine = new Set();
          usedAsVariable.set(map, mine);
        }
        mine.add(key);
      }
    }
  }
}
