// The Toxiproxy 2.x HTTP API: the routes, status codes, JSON shapes and error bodies of Shopify's
// api.go, so any Toxiproxy client works against it.
//
// - Success bodies are `application/json`; errors are `{"error": "...", "status": N}` followed by a
//   newline and served as text/plain (Go's http.Error), with the status as the HTTP code.
// - Create proxy 201, create toxic 200, populate 201, delete / reset 204.
// - A path that matches no route is "404 page not found"; a known path with another method is an
//   empty 405; a browser user agent ("Mozilla/...") is refused with 403, against cross-site requests.
// - Requests are applied one at a time, in arrival order, as Toxiproxy's locks do.

import crypto from 'node:crypto';
import type http from 'node:http';
import type { Logger } from 'pino';
import { decodeStruct, jsonKind } from './gojson.ts';
import type { JsonValue, StructSpec } from './gojson.ts';
import { ApiError, asApiError, ErrMissingField, ErrProxyAlreadyExists, ErrProxyNotFound, ErrToxicNotFound } from './errors.ts';
import { Proxy } from './proxy.ts';
import type { ProxyJson } from './proxy.ts';
import { parseBody, toxicJson } from './toxic_collection.ts';
import type { Random } from './toxics.ts';

/** The Toxiproxy release whose API this server speaks. */
export const TOXIPROXY_VERSION = '2.12.0';

const PROXY: StructSpec = {
  goType: 'toxiproxy.Proxy',
  structName: 'Proxy',
  fields: [
    { json: 'name', kind: 'string' },
    { json: 'listen', kind: 'string' },
    { json: 'upstream', kind: 'string' },
    { json: 'enabled', kind: 'bool' },
  ],
};

const POPULATE_ELEMENT = 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }';
const POPULATE_ITEM: StructSpec = { goType: POPULATE_ELEMENT, structName: '', fields: PROXY.fields };

interface Reply {
  status: number;
  body?: unknown;
  contentType?: string;
  /** Raw text instead of JSON. */
  text?: string;
}

type Handler = (params: string[], body: string) => Promise<Reply>;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

export interface ApiOptions {
  logger: Logger;
  random: Random;
}

export class ToxiproxyApi {
  /** Proxies by name, in creation order. */
  readonly proxies = new Map<string, Proxy>();
  private readonly log: Logger;
  private readonly random: Random;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly routes: Route[];

  constructor(opts: ApiOptions) {
    this.log = opts.logger;
    this.random = opts.random;
    const seg = '([^/]+)';
    this.routes = [
      { pattern: /^\/reset$/, methods: { POST: () => this.reset() } },
      { pattern: /^\/proxies$/, methods: { GET: () => this.index(), POST: (_p, b) => this.create(b) } },
      { pattern: /^\/populate$/, methods: { POST: (_p, b) => this.populate(b) } },
      {
        pattern: new RegExp(`^/proxies/${seg}$`),
        methods: {
          GET: ([p]) => this.show(p!),
          POST: ([p], b) => this.update(p!, b),
          PATCH: ([p], b) => this.update(p!, b),
          DELETE: ([p]) => this.remove(p!),
        },
      },
      {
        pattern: new RegExp(`^/proxies/${seg}/toxics$`),
        methods: { GET: ([p]) => this.toxicIndex(p!), POST: ([p], b) => this.toxicCreate(p!, b) },
      },
      {
        pattern: new RegExp(`^/proxies/${seg}/toxics/${seg}$`),
        methods: {
          GET: ([p, t]) => this.toxicShow(p!, t!),
          POST: ([p, t], b) => this.toxicUpdate(p!, t!, b),
          PATCH: ([p, t], b) => this.toxicUpdate(p!, t!, b),
          DELETE: ([p, t]) => this.toxicDelete(p!, t!),
        },
      },
      { pattern: /^\/version$/, methods: { GET: () => this.version() } },
    ];
  }

  /** The node:http request listener. */
  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.serve(req, res).catch((err: unknown) => {
      this.log.error({ err }, 'API handler failed');
      if (!res.headersSent) send(res, errorReply(asApiError(err)));
      else res.destroy();
    });
  };

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://toxiproxy').pathname);
    } catch {
      send(res, { status: 400, text: '400 Bad Request' });
      return;
    }
    const route = this.routes.find((r) => r.pattern.test(path));
    if (!route) {
      req.resume();
      send(res, { status: 404, text: '404 page not found\n', contentType: 'text/plain; charset=utf-8' });
      return;
    }
    const handler = route.methods[req.method ?? ''];
    if (!handler) {
      req.resume();
      send(res, { status: 405 });
      return;
    }
    res.setHeader('X-Toxiproxy-Request-Id', requestId());
    if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
      req.resume();
      send(res, { status: 403, text: 'User agent not allowed\n', contentType: 'text/plain; charset=utf-8' });
      return;
    }
    const body = await readBody(req);
    const params = route.pattern.exec(path)!.slice(1);
    const reply = await this.serialized(async () => {
      try {
        return await handler(params, body);
      } catch (e) {
        return errorReply(asApiError(e));
      }
    });
    this.log.debug({ method: req.method, url: req.url, status: reply.status }, 'api');
    send(res, reply);
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private proxy(name: string): Proxy {
    const p = this.proxies.get(name);
    if (!p) throw ErrProxyNotFound;
    return p;
  }

  private async index(): Promise<Reply> {
    const out: Record<string, ProxyJson> = {};
    for (const name of [...this.proxies.keys()].sort()) out[name] = this.proxies.get(name)!.toJSON();
    return { status: 200, body: out };
  }

  private async reset(): Promise<Reply> {
    for (const p of this.proxies.values()) {
      await p.start();
      p.toxics.reset();
    }
    return { status: 204 };
  }

  private async create(body: string): Promise<Reply> {
    const input = decodeProxy(parseBody(body), { name: '', listen: '', upstream: '', enabled: true });
    if (input.name.length < 1) throw ErrMissingField.withDetail('name');
    if (input.upstream.length < 1) throw ErrMissingField.withDetail('upstream');
    if (this.proxies.has(input.name)) throw ErrProxyAlreadyExists;
    const proxy = new Proxy(input.name, input.listen, input.upstream, this.log, this.random);
    if (input.enabled) await proxy.start();
    this.proxies.set(proxy.name, proxy);
    return { status: 201, body: proxy.toJSON() };
  }

  private async populate(body: string): Promise<Reply> {
    const done: Proxy[] = [];
    try {
      const inputs = decodePopulate(parseBody(body));
      for (const input of inputs) done.push(await this.addOrReplace(input));
      return { status: 201, body: { proxies: proxiesOrNull(done) } };
    } catch (e) {
      const err = asApiError(e);
      this.log.warn({ err: err.message }, 'Populate errors');
      return { status: err.status, body: { ...err.toJSON(), proxies: proxiesOrNull(done) } };
    }
  }

  /** Populate keeps a proxy whose listen and upstream are unchanged, and replaces one that differs. */
  private async addOrReplace(input: ProxyInput): Promise<Proxy> {
    const existing = this.proxies.get(input.name);
    if (existing) {
      if (!(await existing.differs(input))) return existing;
      existing.stop();
    }
    const proxy = new Proxy(input.name, input.listen, input.upstream, this.log, this.random);
    if (input.enabled) await proxy.start();
    this.proxies.set(proxy.name, proxy);
    return proxy;
  }

  private async show(name: string): Promise<Reply> {
    return { status: 200, body: this.proxy(name).toJSON() };
  }

  private async update(name: string, body: string): Promise<Reply> {
    const proxy = this.proxy(name);
    const input = decodeProxy(parseBody(body), {
      name: proxy.name,
      listen: proxy.listen,
      upstream: proxy.upstream,
      enabled: proxy.enabled,
    });
    await proxy.update(input);
    return { status: 200, body: proxy.toJSON() };
  }

  private async remove(name: string): Promise<Reply> {
    this.proxy(name).stop();
    this.proxies.delete(name);
    return { status: 204 };
  }

  private async toxicIndex(name: string): Promise<Reply> {
    return { status: 200, body: this.proxy(name).toxics.list().map(toxicJson) };
  }

  private async toxicCreate(name: string, body: string): Promise<Reply> {
    return { status: 200, body: toxicJson(this.proxy(name).toxics.add(body)) };
  }

  private async toxicShow(name: string, toxic: string): Promise<Reply> {
    const t = this.proxy(name).toxics.get(toxic);
    if (!t) throw ErrToxicNotFound;
    return { status: 200, body: toxicJson(t) };
  }

  private async toxicUpdate(name: string, toxic: string, body: string): Promise<Reply> {
    return { status: 200, body: toxicJson(this.proxy(name).toxics.update(toxic, body)) };
  }

  private async toxicDelete(name: string, toxic: string): Promise<Reply> {
    this.proxy(name).toxics.remove(toxic);
    return { status: 204 };
  }

  private async version(): Promise<Reply> {
    return {
      status: 200,
      text: `{"version": "${TOXIPROXY_VERSION}"}\n`,
      contentType: 'application/json;charset=utf-8',
    };
  }

  /** POST /populate with a file's text (toxiproxy-server --config). */
  async populateText(text: string): Promise<{ error?: string; count: number }> {
    const reply = await this.serialized(() => this.populate(text));
    const body = reply.body as { error?: string; proxies: ProxyJson[] | null };
    return { error: body.error, count: body.proxies?.length ?? 0 };
  }

  /** Stops every proxy (closing their connections) and forgets them. */
  stopAll(): void {
    for (const p of this.proxies.values()) p.stop();
    this.proxies.clear();
  }
}

interface ProxyInput {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

function decodeProxy(json: JsonValue, defaults: ProxyInput): ProxyInput {
  const out: Record<string, string | boolean | number> = { ...defaults };
  const err = decodeStruct(json, PROXY, out);
  if (err !== null) throw new ApiError(`bad request body: ${err}`, 400);
  return out as unknown as ProxyInput;
}

/** Decodes every item before creating any, then checks the required fields, as Toxiproxy does. */
function decodePopulate(json: JsonValue): ProxyInput[] {
  if (json !== null && !Array.isArray(json)) {
    throw new ApiError(`bad request body: json: cannot unmarshal ${jsonKind(json)} into Go value of type []${POPULATE_ELEMENT}`, 400);
  }
  const items = json ?? [];
  const inputs: ProxyInput[] = [];
  let firstError: string | null = null;
  for (const item of items) {
    const out: Record<string, string | boolean | number> = { name: '', listen: '', upstream: '', enabled: true };
    firstError ??= decodeStruct(item, POPULATE_ITEM, out);
    inputs.push(out as unknown as ProxyInput);
  }
  if (firstError !== null) throw new ApiError(`bad request body: ${firstError}`, 400);
  inputs.forEach((p, i) => {
    if (p.name.length < 1) throw ErrMissingField.withDetail(`name at proxy ${i + 1}`);
    if (p.upstream.length < 1) throw ErrMissingField.withDetail(`upstream at proxy ${i + 1}`);
  });
  return inputs;
}

/** Go marshals an empty result slice of Populate as null. */
function proxiesOrNull(list: Proxy[]): ProxyJson[] | null {
  return list.length === 0 ? null : list.map((p) => p.toJSON());
}

function errorReply(err: ApiError): Reply {
  return { status: err.status, text: goJson(err.toJSON()) + '\n', contentType: 'text/plain; charset=utf-8' };
}

/** JSON as Go's encoder writes it: HTML-sensitive characters escaped. */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function send(res: http.ServerResponse, reply: Reply): void {
  if (reply.text !== undefined) {
    if (reply.contentType) res.setHeader('Content-Type', reply.contentType);
    if (reply.contentType?.startsWith('text/plain')) res.setHeader('X-Content-Type-Options', 'nosniff');
    res.writeHead(reply.status);
    res.end(reply.text);
    return;
  }
  if (reply.body === undefined) {
    res.writeHead(reply.status);
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json');
  res.writeHead(reply.status);
  res.end(goJson(reply.body));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

const XID_ALPHABET = '0123456789abcdefghijklmnopqrstuv';

/** A 20-character id in the alphabet of the xid Toxiproxy puts in X-Toxiproxy-Request-Id. */
function requestId(): string {
  const bytes = crypto.randomBytes(20);
  let out = '';
  for (const b of bytes) out += XID_ALPHABET[b & 31];
  return out;
}
