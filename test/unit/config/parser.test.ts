import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { ConfigError } from '../../../src/config/errors.ts';
import { isUsedVariable, parseConf, parseConfFile, positionOf } from '../../../src/config/parser.ts';
import type { ConfMap } from '../../../src/config/parser.ts';

const parse = (text: string, env: Record<string, string> = {}): ConfMap => parseConf(text, { file: 'test.conf', env });

function parseError(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parse(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('key/value separators', () => {
  it('accepts colon, equals and whitespace', () => {
    expect(parse('a: 1\nb = 2\nc 3\nd:4\ne=5')).toEqual({ a: 1, b: 2, c: 3, d: 4, e: 5 });
  });
  it('accepts quoted keys', () => {
    expect(parse(`"a b": 1\n'c': 2`)).toEqual({ 'a b': 1, c: 2 });
  });
  it('allows ; and , as value terminators', () => {
    expect(parse('a: 1; b: 2, c: 3')).toEqual({ a: 1, b: 2, c: 3 });
  });
  it('keeps a later duplicate key', () => {
    expect(parse('a: 1\na: 2')).toEqual({ a: 2 });
  });
  it('accepts a JSON-style document wrapped in braces', () => {
    expect(parse('{\n "port": 4222,\n "debug": true\n}\n')).toEqual({ port: 4222, debug: true });
  });
  it('stores a __proto__ key as data', () => {
    const m = parse('__proto__ { x: 1 }');
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    expect(Object.keys(m)).toEqual(['__proto__']);
  });
});

describe('scalars', () => {
  it('reads integers, negatives and floats', () => {
    expect(parse('a: 42\nb: -1\nc: 1.5\nd: -2.25\ne: 0')).toEqual({ a: 42, b: -1, c: 1.5, d: -2.25, e: 0 });
  });
  it('reads every boolean word in any case', () => {
    const m = parse('a: true\nb: FALSE\nc: yes\nd: no\ne: on\nf: Off');
    expect(m).toEqual({ a: true, b: false, c: true, d: false, e: true, f: false });
  });
  it('keeps enabled/disabled as strings for the schema to interpret', () => {
    expect(parse('jetstream: enabled\nx: disabled')).toEqual({ jetstream: 'enabled', x: 'disabled' });
  });
  it('reads unquoted paths, URLs, IPs and host:port', () => {
    const m = parse(
      'a: /tmp/x\nb: nats://host:4222\nc: 127.0.0.1\nd: 127.0.0.1:-1\ne: 0.0.0.0:4222\nf: localhost:-1\ng: ./data',
    );
    expect(m).toEqual({
      a: '/tmp/x',
      b: 'nats://host:4222',
      c: '127.0.0.1',
      d: '127.0.0.1:-1',
      e: '0.0.0.0:4222',
      f: 'localhost:-1',
      g: './data',
    });
  });
  it('reads unquoted durations as strings', () => {
    expect(parse('a: 10s\nb: 1h30m\nc: 500ms\nd: 4222abc')).toEqual({ a: '10s', b: '1h30m', c: '500ms', d: '4222abc' });
  });
  it('does not treat // inside a value as a comment', () => {
    expect(parse('url: nats://a:1 // real comment')).toEqual({ url: 'nats://a:1' });
  });
  it('reads double-quoted strings with escapes', () => {
    expect(parse(String.raw`a: "x\ty\n\"q\"\\\x41"`)).toEqual({ a: 'x\ty\n"q"\\A' });
  });
  it('reads single-quoted strings raw', () => {
    expect(parse(String.raw`a: 'c:\dir\n'`)).toEqual({ a: String.raw`c:\dir\n` });
  });
  it('keeps quoted numbers and booleans as strings', () => {
    expect(parse(`a: "1"\nb: 'true'`)).toEqual({ a: '1', b: 'true' });
  });
  it('reads a block string up to a line holding only )', () => {
    expect(parse('a: (\nline one\n  (x) two\n)\nb: 1')).toEqual({ a: '\nline one\n  (x) two\n', b: 1 });
  });
  it('reads Zulu datetimes', () => {
    expect(parse('d: 2016-05-04T18:53:41Z').d).toEqual(new Date('2016-05-04T18:53:41Z'));
  });
  it('keeps unquoted bcrypt hashes as strings, not variables', () => {
    expect(parse('p: $2a$11$abcdefghijklmnopqrstuv')).toEqual({ p: '$2a$11$abcdefghijklmnopqrstuv' });
  });
});

describe('sizes', () => {
  it('uses decimal multipliers for bare letters and binary for b/i forms (conf/parse.go)', () => {
    const m = parse('a: 1k\nb: 1K\nc: 1KB\nd: 1kib\ne: 64k\nf: 1M\ng: 1MB\nh: 1G\ni: 1GB\nj: 2Gi\nk: 1T\nl: 1TB\nm: -1MB');
    expect(m).toEqual({
      a: 1000,
      b: 1000,
      c: 1024,
      d: 1024,
      e: 64_000,
      f: 1_000_000,
      g: 1024 ** 2,
      h: 1e9,
      i: 1024 ** 3,
      j: 2 * 1024 ** 3,
      k: 1e12,
      l: 1024 ** 4,
      m: -(1024 ** 2),
    });
  });
  it('makes `2m` two million, as nats-server does (durations must be quoted)', () => {
    expect(parse('a: 2m')).toEqual({ a: 2_000_000 });
  });
  it('reads sizes inside arrays and maps', () => {
    expect(parse('a: [1KB, 2]\nb { c: 1MB }')).toEqual({ a: [1024, 2], b: { c: 1024 ** 2 } });
  });
  it('rejects an unknown size suffix', () => {
    expect(parseError('a: 1KBB\n').problem).toMatch(/invalid size suffix in '1KBB'/);
  });
});

describe('maps and arrays', () => {
  it('nests blocks with and without separators', () => {
    const m = parse('a { b: 1, c { d: x } }\ne = { f: 2 }\ng: {\n  h: 3\n  i: 4\n}');
    expect(m).toEqual({ a: { b: 1, c: { d: 'x' } }, e: { f: 2 }, g: { h: 3, i: 4 } });
  });
  it('accepts `cluster{` without a space', () => {
    expect(parse('cluster{ port: 1 }')).toEqual({ cluster: { port: 1 } });
  });
  it('separates array elements by commas or newlines, with comments', () => {
    const m = parse('a: [1, 2, 3]\nb: [\n  "x"  # first\n  y, // second\n  z\n]\nc: []\nd: [[1], {k: v}]');
    expect(m).toEqual({ a: [1, 2, 3], b: ['x', 'y', 'z'], c: [], d: [[1], { k: 'v' }] });
  });
  it('ends numbers at ]', () => {
    expect(parse('a: [1,2]')).toEqual({ a: [1, 2] });
  });
});

describe('comments', () => {
  it('skips # and // comments everywhere entries may appear', () => {
    const m = parse('# top\n// also top\na: 1 # after\nb { # open\n  c: 2 // inside\n}\n');
    expect(m).toEqual({ a: 1, b: { c: 2 } });
  });
});

describe('positions', () => {
  it('records file, line and column of each key and array element', () => {
    const m = parse('a: 1\n  b {\n    c: [x,\n      y]\n  }\n');
    expect(positionOf(m, 'a')).toEqual({ file: 'test.conf', line: 1, column: 1 });
    expect(positionOf(m, 'b')).toEqual({ file: 'test.conf', line: 2, column: 3 });
    const b = m.b as ConfMap;
    expect(positionOf(b, 'c')).toEqual({ file: 'test.conf', line: 3, column: 5 });
    const c = b.c as unknown[];
    expect(positionOf(c, 0)).toEqual({ file: 'test.conf', line: 3, column: 9 });
    expect(positionOf(c, 1)).toEqual({ file: 'test.conf', line: 4, column: 7 });
  });
});

describe('syntax errors name file, line, column and key', () => {
  it.each([
    ['a: 1\nb {\n  c: 1\n', 'test.conf:4:1: b: Unexpected EOF processing map.'],
    ['a: [1, 2\n', 'test.conf:2:1: a: Unexpected EOF processing array.'],
    ['a: 1 2\n', "test.conf:1:6: Expected a top-level value to end with a new line, comment or EOF, but got '2' instead."],
    ['b { c: 1 d }', "test.conf:1:10: b: Expected a map value terminator ',' or a map terminator '}', but got 'd' instead."],
    ['a: [,1]', "test.conf:1:5: a: Unexpected array value terminator ','."],
    ['a: [1 2]', "test.conf:1:7: a: Expected an array value terminator ',' or an array terminator ']', but got '2' instead."],
    ['a: "abc', 'test.conf:1:4: a: Unexpected EOF.'],
    [String.raw`a: "\q"`, "test.conf:1:6: a: Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."],
    ['= 1', "test.conf:1:1: Unexpected key separator '='."],
    ['a: .5', 'test.conf:1:4: a: Floats must start with a digit'],
    ['a: 1.x', "test.conf:1:6: a: Floats must have a digit after the '.', but got 'x' instead."],
    ['a: -x', "test.conf:1:5: a: Expected a digit but got 'x'."],
    ['a:\nb: 1', 'test.conf:1:3: a: Expected value but found new line'],
    ['a', 'test.conf:1:2: a: Expected value but found end of file'],
    ['a: 12-01', 'test.conf:1:6: a: All ISO8601 dates must be in full Zulu form.'],
    ['a: (\nnever closed', 'test.conf:1:4: a: Unexpected EOF processing block.'],
    ['}', "test.conf:1:1: Unexpected '}' at the top level."],
  ])('%j', (text, message) => {
    expect(parseError(text).message).toBe(message);
  });

  it('exposes the parts of the location', () => {
    const err = parseError('x {\n  y: [1,\n  ,]\n}');
    expect(err).toMatchObject({ file: 'test.conf', line: 3, column: 3, key: 'x.y' });
  });
});

describe('variables', () => {
  it('resolves from the enclosing block first, then outer blocks', () => {
    const m = parse('v: 1\nouter { v: 2\n inner { a: $v }\n b: $v }\nc: $v');
    expect(m).toEqual({ v: 1, outer: { v: 2, inner: { a: 2 }, b: 2 }, c: 1 });
  });
  it('ignores keys defined later and falls back to the environment', () => {
    expect(parse('a: $X\nX: 5', { X: 'env' })).toEqual({ a: 'env', X: 5 });
  });
  it('parses environment values as conf values', () => {
    const m = parse('a: $SIZE\nb: $FLAG\nc: $LIST\nd: $NESTED', {
      SIZE: '1MB',
      FLAG: 'true',
      LIST: '[1, 2]',
      NESTED: '$SIZE',
    });
    expect(m).toEqual({ a: 1024 ** 2, b: true, c: [1, 2], d: 1024 ** 2 });
  });
  it('can reference maps and arrays', () => {
    const m = parse('perms = { publish: ["a.>"] }\nusers: [{ user: u, permissions: $perms }]');
    expect((m.users as ConfMap[])[0]).toEqual({ user: 'u', permissions: { publish: ['a.>'] } });
  });
  it('marks referenced keys as variables', () => {
    const m = parse('TOKEN: s3cr3t\nauthorization { token: $TOKEN }\nunused: 1');
    expect(isUsedVariable(m, 'TOKEN')).toBe(true);
    expect(isUsedVariable(m, 'unused')).toBe(false);
  });
  it('fails on an undefined variable, naming file and line', () => {
    const err = parseError('a: 1\nb {\n  c: $NOPE\n}');
    expect(err.message).toBe("test.conf:3:6: b.c: variable reference for 'NOPE' on line 3 can not be found");
  });
  it('detects environment reference cycles', () => {
    expect(parseError('a: $A', { A: '$B', B: '$A' }).problem).toMatch(/variable reference cycle for 'A'/);
  });
});

describe('include', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-conf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'main.conf'), 'port: 1\ninclude ./sub/auth.conf\nb { include "inner.conf" }\nafter: $user\n');
  writeFileSync(join(dir, 'sub', 'auth.conf'), 'user: alice\ninclude ../shared.conf # relative to sub/\n');
  writeFileSync(join(dir, 'shared.conf'), 'shared: yes\n');
  writeFileSync(join(dir, 'inner.conf'), 'x: 2\n');
  writeFileSync(join(dir, 'broken.conf'), 'include ./sub/bad.conf\n');
  writeFileSync(join(dir, 'sub', 'bad.conf'), 'ok: 1\nport: [\n');
  writeFileSync(join(dir, 'loop.conf'), 'include loop.conf\n');
  writeFileSync(join(dir, 'missing.conf'), 'include nothere.conf\n');

  it('merges included keys, resolving paths from the including file', () => {
    const m = parseConfFile(join(dir, 'main.conf'));
    expect(m).toEqual({ port: 1, user: 'alice', shared: true, b: { x: 2 }, after: 'alice' });
  });
  it('keeps the included file as the position of its keys', () => {
    const m = parseConfFile(join(dir, 'main.conf'));
    expect(positionOf(m, 'user')).toEqual({ file: join(dir, 'sub', 'auth.conf'), line: 1, column: 1 });
    expect(positionOf(m, 'shared')).toEqual({ file: join(dir, 'shared.conf'), line: 1, column: 1 });
  });
  it('reports errors inside an included file at that file', () => {
    expect(() => parseConfFile(join(dir, 'broken.conf'))).toThrow(`${join(dir, 'sub', 'bad.conf')}:3:1: port: Unexpected EOF processing array.`);
  });
  it('rejects include cycles and missing files', () => {
    expect(() => parseConfFile(join(dir, 'loop.conf'))).toThrow(/include cycle/);
    expect(() => parseConfFile(join(dir, 'missing.conf'))).toThrow(/missing\.conf:1:9: error parsing include file 'nothere.conf'/);
  });
  it('reports an unreadable config file', () => {
    expect(() => parseConfFile(join(dir, 'none.conf'))).toThrow(/none\.conf: error opening config file/);
  });
});
