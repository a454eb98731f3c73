// The toxics of one proxy: an ordered chain per direction, applied to every live link of that
// direction as they change. Request bodies are decoded as Toxiproxy decodes them (ToxicCollection's
// AddToxicJson / UpdateToxicJson): defaults `stream: downstream`, `toxicity: 1`, name
// `<type>_<stream>`, and the same checks in the same order.

import { decodeFirstValue, decodeStruct, GoJsonError, JsonNumber } from './gojson.ts';
import type { JsonValue, StructSpec } from './gojson.ts';
import {
  ErrBadRequestBody,
  ErrInvalidStream,
  ErrInvalidToxicType,
  ErrToxicAlreadyExists,
  ErrToxicNotFound,
} from './errors.ts';
import { toxicKind } from './toxics.ts';
import type { Attributes } from './toxics.ts';
import type { Link } from './link.ts';

export type Direction = 'upstream' | 'downstream';
export const DIRECTIONS: readonly Direction[] = ['upstream', 'downstream'];

export interface Toxic {
  name: string;
  type: string;
  /** As the client spelled it ("UPSTREAM" stays so); `direction` is what it means. */
  stream: string;
  direction: Direction;
  toxicity: number;
  attributes: Attributes;
}

export interface ToxicJson {
  attributes: Attributes;
  name: string;
  type: string;
  stream: string;
  toxicity: number;
}

/** A toxic as the API shows it, attributes in the toxic type's field order. */
export function toxicJson(t: Toxic): ToxicJson {
  const attributes: Attributes = {};
  for (const f of toxicKind(t.type)!.spec.fields) attributes[f.json] = t.attributes[f.json] ?? 0;
  return { attributes, name: t.name, type: t.type, stream: t.stream, toxicity: t.toxicity };
}

const WRAPPER: StructSpec = {
  goType: 'toxics.ToxicWrapper',
  structName: 'ToxicWrapper',
  fields: [
    { json: 'name', kind: 'string' },
    { json: 'type', kind: 'string' },
    { json: 'stream', kind: 'string' },
    { json: 'toxicity', kind: 'float32' },
  ],
};
const NOOP_ATTRIBUTES: StructSpec = { goType: 'toxics.NoopToxic', structName: 'NoopToxic', fields: [] };
const UPDATE: StructSpec = { goType: 'struct', structName: '', fields: [{ json: 'toxicity', kind: 'float32' }] };

export function parseBody(body: string): JsonValue {
  try {
    return decodeFirstValue(body);
  } catch (e) {
    if (e instanceof GoJsonError) throw ErrBadRequestBody.withDetail(e.message);
    throw e;
  }
}

/** The value under `key` (Go's exact-then-case-insensitive match), null when absent. */
function findKey(v: JsonValue, key: string): JsonValue {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof JsonNumber) return null;
  const obj = v;
  if (Object.hasOwn(obj, key)) return obj[key]!;
  for (const k of Object.keys(obj)) if (k.toLowerCase() === key) return obj[k]!;
  return null;
}

function badBody(message: string | null): void {
  if (message !== null) throw ErrBadRequestBody.withDetail(message);
}

export class ToxicCollection {
  private readonly chains: Record<Direction, Toxic[]> = { upstream: [], downstream: [] };
  private readonly links: Record<Direction, Set<Link>> = { upstream: new Set(), downstream: new Set() };

  /** All toxics: upstream ones first, each direction in the order they were added. */
  list(): Toxic[] {
    return [...this.chains.upstream, ...this.chains.downstream];
  }

  chain(direction: Direction): readonly Toxic[] {
    return this.chains[direction];
  }

  get(name: string): Toxic | undefined {
    return this.list().find((t) => t.name === name);
  }

  attach(direction: Direction, link: Link): void {
    this.links[direction].add(link);
  }

  detach(direction: Direction, link: Link): void {
    this.links[direction].delete(link);
  }

  add(body: string): Toxic {
    const json = parseBody(body);
    const fields: Record<string, string | number | boolean> = { stream: 'downstream', toxicity: 1, name: '', type: '' };
    badBody(decodeStruct(json, WRAPPER, fields));
    badBody(
      decodeStruct(findKey(json, 'attributes'), NOOP_ATTRIBUTES, {}, {
        container: 'ToxicWrapper',
        path: 'attributes',
      }),
    );
    const stream = String(fields.stream);
    const lowered = stream.toLowerCase();
    if (lowered !== 'upstream' && lowered !== 'downstream') throw ErrInvalidStream;
    const type = String(fields.type);
    const name = String(fields.name) || `${type}_${stream}`;
    const kind = toxicKind(type);
    if (!kind) throw ErrInvalidToxicType;
    if (this.get(name)) throw ErrToxicAlreadyExists;
    const attributes: Attributes = {};
    for (const f of kind.spec.fields) attributes[f.json] = 0;
    badBody(decodeStruct(findKey(json, 'attributes'), kind.spec, attributes, { container: '', path: 'attributes' }));
    const toxic: Toxic = {
      name,
      type,
      stream,
      direction: lowered,
      toxicity: Number(fields.toxicity),
      attributes,
    };
    this.chains[toxic.direction].push(toxic);
    for (const link of this.links[toxic.direction]) link.addToxic(toxic);
    return toxic;
  }

  update(name: string, body: string): Toxic {
    const toxic = this.get(name);
    if (!toxic) throw ErrToxicNotFound;
    const json = parseBody(body);
    const attributes: Attributes = { ...toxic.attributes };
    const fields: Record<string, string | number | boolean> = { toxicity: toxic.toxicity };
    badBody(decodeStruct(json, UPDATE, fields));
    badBody(
      decodeStruct(findKey(json, 'attributes'), toxicKind(toxic.type)!.spec, attributes, {
        container: '',
        path: 'attributes',
      }),
    );
    toxic.attributes = attributes;
    toxic.toxicity = Number(fields.toxicity);
    for (const link of this.links[toxic.direction]) link.updateToxic(toxic);
    return toxic;
  }

  remove(name: string): void {
    const toxic = this.get(name);
    if (!toxic) throw ErrToxicNotFound;
    const chain = this.chains[toxic.direction];
    chain.splice(chain.indexOf(toxic), 1);
    for (const link of this.links[toxic.direction]) link.removeToxic(toxic);
  }

  reset(): void {
    for (const t of this.list()) this.remove(t.name);
  }
}
