// Request bodies decoded the way Toxiproxy's Go handlers decode them (`json.NewDecoder(body).Decode`),
// so a client sees the same acceptances and the same error texts:
// - only the first JSON value is read (trailing bytes are ignored), an empty body is "EOF", a cut
//   one "unexpected EOF", a bad byte "invalid character 'x' looking for beginning of value";
// - object keys match struct fields exactly or else case-insensitively, unknown keys are ignored,
//   `null` leaves a field as it was;
// - a value of the wrong kind is "json: cannot unmarshal string into Go struct field
//   Proxy.enabled of type bool"; an integer field rejects 1.5 and 1e3 ("number 1.5").

/** A JSON number kept as its literal, so integer fields can refuse what Go refuses. */
export class JsonNumber {
  readonly raw: string;
  constructor(raw: string) {
    this.raw = raw;
  }
  get value(): number {
    return Number(this.raw);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

export class GoJsonError extends Error {}

/** Reads the first JSON value of `text`, or throws GoJsonError with Go's message. */
export function decodeFirstValue(text: string): JsonValue {
  const p = new Parser(text);
  p.skipSpace();
  if (p.pos >= text.length) throw new GoJsonError('EOF');
  return p.value('looking for beginning of value');
}

class Parser {
  pos = 0;
  private readonly s: string;
  constructor(s: string) {
    this.s = s;
  }

  skipSpace(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  private fail(context: string): never {
    if (this.pos >= this.s.length) throw new GoJsonError('unexpected EOF');
    throw new GoJsonError(`invalid character ${quoteChar(this.s[this.pos]!)} ${context}`);
  }

  value(context: string): JsonValue {
    this.skipSpace();
    const c = this.s[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    if (c === 't') return this.literal('true', true);
    if (c === 'f') return this.literal('false', false);
    if (c === 'n') return this.literal('null', null);
    return this.fail(context);
  }

  private literal<T>(word: string, v: T): T {
    for (let i = 0; i < word.length; i++) {
      if (this.pos >= this.s.length) throw new GoJsonError('unexpected EOF');
      if (this.s[this.pos] !== word[i]) this.fail(`in literal ${word} (expecting ${quoteChar(word[i]!)})`);
      this.pos++;
    }
    return v;
  }

  private number(): JsonNumber {
    const start = this.pos;
    const s = this.s;
    if (s[this.pos] === '-') this.pos++;
    if (s[this.pos] === '0') this.pos++;
    else if (isDigit(s[this.pos])) while (isDigit(s[this.pos])) this.pos++;
    else this.fail('in numeric literal');
    if (s[this.pos] === '.') {
      this.pos++;
      if (!isDigit(s[this.pos])) this.fail('after decimal point in numeric literal');
      while (isDigit(s[this.pos])) this.pos++;
    }
    if (s[this.pos] === 'e' || s[this.pos] === 'E') {
      this.pos++;
      if (s[this.pos] === '+' || s[this.pos] === '-') this.pos++;
      if (!isDigit(s[this.pos])) this.fail('in exponent of numeric literal');
      while (isDigit(s[this.pos])) this.pos++;
    }
    return new JsonNumber(s.slice(start, this.pos));
  }

  private string(): string {
    const s = this.s;
    const start = ++this.pos;
    let out = '';
    let run = start;
    for (;;) {
      if (this.pos >= s.length) throw new GoJsonError('unexpected EOF');
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(run, this.pos++);
        return out;
      }
      if (c < 0x20) this.fail('in string literal');
      if (c === 0x5c) {
        out += s.slice(run, this.pos);
        this.pos++;
        if (this.pos >= s.length) throw new GoJsonError('unexpected EOF');
        const e = s[this.pos]!;
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e in simple) {
          out += simple[e];
          this.pos++;
        } else if (e === 'u') {
          const hex = s.slice(this.pos + 1, this.pos + 5);
          if (hex.length < 4) throw new GoJsonError('unexpected EOF');
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos += 1 + hex.search(/[^0-9a-fA-F]/);
            this.fail('in \\u hexadecimal character escape');
          }
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 5;
        } else {
          this.fail('in string escape code');
        }
        run = this.pos;
        continue;
      }
      this.pos++;
    }
  }

  private array(): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    this.skipSpace();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value('looking for beginning of value'));
      this.skipSpace();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return out;
      }
      this.fail('after array element');
    }
  }

  private object(): { [key: string]: JsonValue } {
    this.pos++;
    const out: { [key: string]: JsonValue } = {};
    this.skipSpace();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] !== '"') this.fail('looking for beginning of object key string');
      const key = this.string();
      this.skipSpace();
      if (this.s[this.pos] !== ':') this.fail('after object key');
      this.pos++;
      // Later duplicates win, as in Go.
      Object.defineProperty(out, key, {
        value: this.value('looking for beginning of value'),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipSpace();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return out;
      }
      this.fail('after object key:value pair');
    }
  }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Go's quoteChar: `'x'`, with `'\''` and `'"'` spelled as Go spells them. */
function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const code = c.charCodeAt(0);
  if (code < 0x20) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'${c}'`;
}

/** What Go names a JSON value in "cannot unmarshal X into ...". */
export function jsonKind(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (v instanceof JsonNumber) return 'number';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

export type FieldKind = 'string' | 'bool' | 'int64' | 'int' | 'float32';

export interface FieldSpec {
  /** The JSON name (the struct tag). */
  json: string;
  kind: FieldKind;
}

/** Go struct-field decoding errors name the path as "Struct.field.sub". */
export interface StructSpec {
  /** The Go type as errors print it: "toxiproxy.Proxy", "toxics.LatencyToxic". */
  goType: string;
  /** The struct name field errors start with ("Proxy"; "" for an anonymous struct). */
  structName: string;
  fields: readonly FieldSpec[];
}

type Decoded = string | boolean | number;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const FLOAT32_MAX = 3.4028234663852886e38;

/** Where a nested struct sits: the struct holding it and its field path ("attributes"). */
export interface NestedAt {
  container: string;
  path: string;
}

/**
 * Decodes `v` (an object) into `target` by `spec`, starting from the values already in `target`.
 * Returns Go's error text or null.
 */
export function decodeStruct(
  v: JsonValue,
  spec: StructSpec,
  target: Record<string, Decoded>,
  at?: NestedAt,
): string | null {
  if (v === null) return null;
  const path = at?.path ?? '';
  if (typeof v !== 'object' || v instanceof JsonNumber || Array.isArray(v)) {
    return at
      ? `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${at.container}.${at.path} of type ${spec.goType}`
      : `json: cannot unmarshal ${jsonKind(v)} into Go value of type ${spec.goType}`;
  }
  let firstError: string | null = null;
  for (const key of Object.keys(v)) {
    const field = matchField(spec.fields, key);
    if (!field) continue;
    const value = v[key]!;
    if (value === null) continue;
    const where = path === '' ? field.json : `${path}.${field.json}`;
    const decoded = decodeScalar(value, field.kind);
    if (typeof decoded === 'object') {
      firstError ??= `json: cannot unmarshal ${decoded.what} into Go struct field ${spec.structName}.${where} of type ${field.kind}`;
      continue;
    }
    target[field.json] = decoded;
  }
  return firstError;
}

/** Exact tag match first, then Go's case-insensitive fallback. */
function matchField(fields: readonly FieldSpec[], key: string): FieldSpec | undefined {
  for (const f of fields) if (f.json === key) return f;
  const lower = key.toLowerCase();
  for (const f of fields) if (f.json.toLowerCase() === lower) return f;
  return undefined;
}

function decodeScalar(v: JsonValue, kind: FieldKind): Decoded | { what: string } {
  switch (kind) {
    case 'string':
      return typeof v === 'string' ? v : { what: jsonKind(v) };
    case 'bool':
      return typeof v === 'boolean' ? v : { what: jsonKind(v) };
    case 'int64':
    case 'int': {
      if (!(v instanceof JsonNumber)) return { what: jsonKind(v) };
      if (!/^-?\d+$/.test(v.raw)) return { what: `number ${v.raw}` };
      const big = BigInt(v.raw);
      if (big < INT64_MIN || big > INT64_MAX) return { what: `number ${v.raw}` };
      return Number(big);
    }
    case 'float32': {
      if (!(v instanceof JsonNumber)) return { what: jsonKind(v) };
      const n = v.value;
      if (!Number.isFinite(n) || Math.abs(n) > FLOAT32_MAX) return { what: `number ${v.raw}` };
      return toFloat32(n);
    }
  }
}

/** The float32 Go would store, as the shortest decimal that reads back as it (what Go prints). */
export function toFloat32(n: number): number {
  const f = Math.fround(n);
  if (f === 0 || !Number.isFinite(f)) return f;
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}
