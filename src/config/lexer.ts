// Scanner for the NATS configuration format (nats-server conf/lex.go semantics).
// The format is context sensitive (`:` ends a key but not the value
// `nats://h:4222`), so the parser asks for the token it expects next — a key, a
// value, an include path — instead of pulling from a context-free stream.

import { ConfigError } from './errors.ts';
import type { Position } from './errors.ts';
import { lexBooleanWord, parseSuffixedInteger } from './units.ts';

export const TokenKind = {
  MapStart: 'mapStart',
  ArrayStart: 'arrayStart',
  String: 'string',
  Integer: 'integer',
  Float: 'float',
  Bool: 'bool',
  Variable: 'variable',
  Datetime: 'datetime',
} as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

export type ScalarValue = string | number | boolean | Date;

export interface Token {
  kind: TokenKind;
  /** Source text (for a variable: its name without `$`). */
  text: string;
  /** Converted value for scalars; equal to text for strings and variables. */
  value: ScalarValue;
  offset: number;
}

export interface KeyToken {
  name: string;
  /** A bare `include` followed by whitespace is the include directive, not a key. */
  isInclude: boolean;
  offset: number;
}

const EOF = '';

const isInlineSpace = (c: string): boolean => c === ' ' || c === '\t';
const isNewline = (c: string): boolean => c === '\n' || c === '\r';
const isSpace = (c: string): boolean => c !== EOF && /\s/u.test(c);
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isKeySeparator = (c: string): boolean => c === '=' || c === ':';
/** Letters that turn a number into a size (`1k`, `1MB`). */
const isSizeSuffix = (c: string): boolean => c !== EOF && 'kKmMgGtTpPeE'.includes(c);

/** Ends an unquoted string (lexString). */
const endsUnquoted = (c: string): boolean =>
  c === EOF || isNewline(c) || isInlineSpace(c) || c === ';' || c === ',' || c === ']' || c === '}';

/**
 * Ends a number. nats-server leaves `]` out, which turns `[1, 2]` into the string
 * "2]"; Petrel ends numbers at `]` too.
 */
const endsNumber = endsUnquoted;

/** Zulu datetime, the only date form the format has. */
const DATETIME_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/;

const describe = (c: string): string => (c === EOF ? 'EOF' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : c);

export class Lexer {
  readonly input: string;
  readonly file: string;
  offset = 0;
  private readonly lineStarts: number[] = [0];
  /** Lets the parser name the key being read in syntax errors. */
  keyContext: () => string | undefined = () => undefined;

  constructor(input: string, file: string) {
    this.input = input;
    this.file = file;
    for (let i = 0; i < input.length; i++) if (input[i] === '\n') this.lineStarts.push(i + 1);
  }

  positionAt(offset: number): Position {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, column: offset - (this.lineStarts[lo] ?? 0) + 1 };
  }

  fail(problem: string, offset = this.offset): never {
    throw ConfigError.at(this.positionAt(offset), this.keyContext(), problem);
  }

  peek(ahead = 0): string {
    return this.input[this.offset + ahead] ?? EOF;
  }

  atEnd(): boolean {
    return this.offset >= this.input.length;
  }

  advance(count = 1): void {
    this.offset += count;
  }

  skipInlineSpace(): void {
    while (isInlineSpace(this.peek())) this.offset++;
  }

  /** At `#` or `//`. */
  atComment(): boolean {
    const c = this.peek();
    return c === '#' || (c === '/' && this.peek(1) === '/');
  }

  /** Consumes a comment up to, not including, the end of its line. */
  skipComment(): void {
    while (!this.atEnd() && !isNewline(this.peek())) this.offset++;
  }

  /** Skips whitespace, newlines and comments: what may sit between entries. */
  skipBlank(): void {
    for (;;) {
      const c = this.peek();
      if (isSpace(c)) this.offset++;
      else if (this.atComment()) this.skipComment();
      else return;
    }
  }

  /** Reads a key: quoted, or bare up to whitespace or a separator. */
  readKey(): KeyToken {
    const start = this.offset;
    const quote = this.peek();
    if (quote === '"' || quote === "'") {
      this.offset++;
      const end = this.input.indexOf(quote, this.offset);
      if (end < 0) this.fail('Unexpected EOF processing quoted key.', start);
      const name = this.input.slice(this.offset, end);
      this.offset = end + 1;
      return { name, isInclude: false, offset: start + 1 };
    }
    while (!this.atEnd()) {
      const c = this.peek();
      // `{` also ends a key so `cluster{` reads as nats-server users expect.
      if (isSpace(c) || isKeySeparator(c) || c === '{') break;
      this.offset++;
    }
    const name = this.input.slice(start, this.offset);
    const isInclude = name.toLowerCase() === 'include' && isInlineSpace(this.peek());
    return { name, isInclude, offset: start };
  }

  /** After a key: whitespace (newlines too, as lexKeyEnd), then an optional `=` or `:`. */
  skipKeySeparator(): void {
    while (isSpace(this.peek())) this.offset++;
    if (isKeySeparator(this.peek())) this.offset++;
  }

  /** The path after `include`: quoted, or bare up to whitespace, `;` or `}`. */
  readIncludePath(): { path: string; offset: number } {
    this.skipInlineSpace();
    const start = this.offset;
    const c = this.peek();
    if (c === '"' || c === "'") {
      const end = this.input.indexOf(c, start + 1);
      if (end < 0) this.fail(`Unexpected EOF in ${c === '"' ? 'double ' : ''}quoted include`, start);
      this.offset = end + 1;
      return { path: this.input.slice(start + 1, end), offset: start };
    }
    if (c === '[') this.fail('Expected include value but found start of an array');
    if (c === '{') this.fail('Expected include value but found start of a map');
    if (c === '(') this.fail('Expected include value but found start of a block');
    if (isDigit(c) || c === '-') this.fail('Expected include value but found start of a number');
    if (isNewline(c) || c === EOF) this.fail('Expected include value but found new line');
    while (!this.atEnd()) {
      const d = this.peek();
      if (isNewline(d) || isInlineSpace(d) || d === ';' || d === '}') break;
      this.offset++;
    }
    return { path: this.input.slice(start, this.offset), offset: start };
  }

  /** Reads one value: a scalar, or the opening `{` / `[` of a map or array. */
  readValue(): Token {
    this.skipInlineSpace();
    const start = this.offset;
    const c = this.peek();
    switch (c) {
      case '[':
        this.offset++;
        return { kind: TokenKind.ArrayStart, text: c, value: c, offset: start };
      case '{':
        this.offset++;
        return { kind: TokenKind.MapStart, text: c, value: c, offset: start };
      case "'":
        return this.readSingleQuoted();
      case '"':
        return this.readDoubleQuoted();
      case '(':
        return this.readBlockString();
      case '-':
        return this.readNegativeNumber();
      case '.':
        // nats-server rejects every leading dot; Petrel only `.5`, so `./data` is a path.
        if (isDigit(this.peek(1))) this.fail('Floats must start with a digit');
        return this.readUnquoted(start, []);
      case EOF:
        this.fail('Expected value but found end of file');
      case '\n':
      case '\r':
        this.fail('Expected value but found new line');
    }
    if (isDigit(c)) return this.readNumberOrDateOrIp();
    return this.readUnquoted(start, []);
  }

  private readSingleQuoted(): Token {
    const start = this.offset;
    const end = this.input.indexOf("'", start + 1);
    if (end < 0) this.fail('Unexpected EOF.', start);
    this.offset = end + 1;
    const text = this.input.slice(start + 1, end);
    return { kind: TokenKind.String, text, value: text, offset: start };
  }

  private readDoubleQuoted(): Token {
    const start = this.offset;
    this.offset++;
    const parts: string[] = [];
    let chunk = this.offset;
    for (;;) {
      const c = this.peek();
      if (c === EOF) this.fail('Unexpected EOF.', start);
      if (c === '"') break;
      if (c === '\\') {
        parts.push(this.input.slice(chunk, this.offset));
        parts.push(this.readEscape());
        chunk = this.offset;
        continue;
      }
      this.offset++;
    }
    parts.push(this.input.slice(chunk, this.offset));
    this.offset++;
    const text = parts.join('');
    return { kind: TokenKind.String, text, value: text, offset: start };
  }

  /** At a backslash; returns the character it stands for. */
  private readEscape(): string {
    this.offset++;
    const c = this.peek();
    this.offset++;
    switch (c) {
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case '"':
        return '"';
      case '\\':
        return '\\';
      case 'x': {
        const hex = this.input.slice(this.offset, this.offset + 2);
        if (hex.length < 2 || /[\r\n]/.test(hex)) {
          this.fail("Expected two hexadecimal digits after '\\x', but hit end of line");
        }
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
          this.fail(`Expected two hexadecimal digits after '\\x', but got '${hex}'`);
        }
        this.offset += 2;
        return String.fromCharCode(parseInt(hex, 16));
      }
    }
    return this.fail(
      `Invalid escape character '${describe(c)}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\", \\\\.`,
      this.offset - 1,
    );
  }

  /** `( ... )` with the closing `)` alone on its line; the text keeps its newlines. */
  private readBlockString(): Token {
    const start = this.offset;
    const bodyStart = start + 1;
    let search = bodyStart;
    for (;;) {
      const close = this.input.indexOf(')', search);
      if (close < 0) this.fail('Unexpected EOF processing block.', start);
      const after = this.input[close + 1];
      if (this.input[close - 1] === '\n' && (after === undefined || after === '\n')) {
        this.offset = close + 1;
        const text = this.input.slice(bodyStart, close);
        return { kind: TokenKind.String, text, value: text, offset: start };
      }
      search = close + 1;
    }
  }

  private readNegativeNumber(): Token {
    const start = this.offset;
    this.offset++;
    const c = this.peek();
    if (!isDigit(c)) {
      if (c === '.') this.fail("Floats must start with a digit, not '.'.");
      this.fail(`Expected a digit but got '${describe(c)}'.`);
    }
    this.skipDigits();
    if (this.peek() === '.') return this.readFloatTail(start);
    if (isSizeSuffix(this.peek())) return this.readSizedInteger(start);
    return this.integerToken(start);
  }

  /** A digit starts an integer, float, size, datetime, IP address or plain string. */
  private readNumberOrDateOrIp(): Token {
    const start = this.offset;
    this.skipDigits();
    const c = this.peek();
    if (c === '-') {
      if (this.offset - start !== 4) this.fail('All ISO8601 dates must be in full Zulu form.');
      return this.readDatetime(start);
    }
    if (c === '.') return this.readFloatTail(start);
    if (isSizeSuffix(c)) return this.readSizedInteger(start);
    if (endsNumber(c)) return this.integerToken(start);
    // `4222abc`, `10s`: a string that happens to start with digits.
    return this.readUnquoted(start, []);
  }

  private skipDigits(): void {
    while (isDigit(this.peek())) this.offset++;
  }

  /** At the `.` after the integer part: a float, or an IP address / host:port. */
  private readFloatTail(start: number): Token {
    this.offset++;
    const c = this.peek();
    if (!isDigit(c)) this.fail(`Floats must have a digit after the '.', but got '${describe(c)}' instead.`);
    this.skipDigits();
    if (this.peek() === '.') {
      // A second dot: `127.0.0.1`, `127.0.0.1:4222`, `127.0.0.1:-1`.
      while (/[\d.:-]/.test(this.peek())) this.offset++;
      const text = this.input.slice(start, this.offset);
      return { kind: TokenKind.String, text, value: text, offset: start };
    }
    const text = this.input.slice(start, this.offset);
    return { kind: TokenKind.Float, text, value: Number(text), offset: start };
  }

  /** At a size letter after digits: `1k`, `1MB`, `2GiB`; `500ms` falls back to a string. */
  private readSizedInteger(start: number): Token {
    this.offset++;
    while ('bBiI'.includes(this.peek()) && this.peek() !== EOF) this.offset++;
    if (endsNumber(this.peek()) || isDigit(this.peek())) return this.integerToken(start);
    return this.readUnquoted(start, []);
  }

  private integerToken(start: number): Token {
    const text = this.input.slice(start, this.offset);
    let value: number;
    try {
      value = parseSuffixedInteger(text);
    } catch (err) {
      return this.fail((err as Error).message, start);
    }
    return { kind: TokenKind.Integer, text, value, offset: start };
  }

  private readDatetime(start: number): Token {
    const m = DATETIME_SHAPE.exec(this.input.slice(start, start + 20));
    if (m === null) this.fail('Expected a full Zulu ISO8601 datetime (YYYY-MM-DDTHH:MM:SSZ).', start);
    this.offset = start + m[0].length;
    const date = new Date(m[0]);
    if (Number.isNaN(date.getTime())) this.fail(`expected Zulu formatted DateTime, but got '${m[0]}'`, start);
    return { kind: TokenKind.Datetime, text: m[0], value: date, offset: start };
  }

  /**
   * An unquoted string from `start` (some of it may already be consumed as digits).
   * Backslash escapes apply; without them the text may be a boolean word or `$variable`.
   */
  private readUnquoted(start: number, parts: string[]): Token {
    let chunk = start;
    let escaped = parts.length > 0;
    for (;;) {
      const c = this.peek();
      if (endsUnquoted(c)) break;
      if (c === '\\') {
        parts.push(this.input.slice(chunk, this.offset));
        parts.push(this.readEscape());
        chunk = this.offset;
        escaped = true;
        continue;
      }
      this.offset++;
    }
    parts.push(this.input.slice(chunk, this.offset));
    const text = parts.join('');
    if (!escaped) {
      const bool = lexBooleanWord(text);
      if (bool !== undefined) return { kind: TokenKind.Bool, text, value: bool, offset: start };
      if (text.startsWith('$') && text.length > 1) {
        const name = text.slice(1);
        return { kind: TokenKind.Variable, text: name, value: name, offset: start };
      }
    }
    return { kind: TokenKind.String, text, value: text, offset: start };
  }
}
