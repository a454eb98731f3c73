// The Toxiproxy HTTP API of chaos/toxiproxy, driven through toxiproxy-node-client (what the chaos
// suite uses) and, where the client hides the answer (error bodies, headers), through raw HTTP.
// Expected shapes and texts are those of Shopify/toxiproxy 2.x's api.go.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client';
import type { ICreateToxicBody, Latency } from 'toxiproxy-node-client';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startToxiproxy, TOXIPROXY_VERSION } from '../../chaos/toxiproxy/server.ts';
import { spawnToxiproxy } from '../../chaos/toxiproxy/spawn.ts';
import type { ToxiproxyServer } from '../../chaos/toxiproxy/server.ts';
import { connect, portOf, startUpstream } from './tcp.ts';
import type { TestUpstream } from './tcp.ts';

let server: ToxiproxyServer;
let client: Toxiproxy;
let upstream: TestUpstream;

beforeAll(async () => {
  server = await startToxiproxy({ port: 0, seed: 1 });
  client = new Toxiproxy(server.url);
  upstream = await startUpstream('echo');
});

afterAll(async () => {
  await server.close();
  await upstream.close();
});

afterEach(async () => {
  for (const p of Object.values(await client.getAll())) await p.remove();
});

async function raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + path, {
    method,
    headers: { 'User-Agent': 'petrel-test', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function proxyBody(name: string, extra: Record<string, unknown> = {}) {
  return { name, listen: '127.0.0.1:0', upstream: upstream.address, ...extra };
}

function toxic<T>(type: string, attributes: T, extra: Partial<ICreateToxicBody<T>> = {}): ICreateToxicBody<T> {
  return { name: `${type}_t`, type: type as ICreateToxicBody<T>['type'], stream: 'downstream', toxicity: 1, attributes, ...extra };
}

describe('proxies', () => {
  it('creates a proxy on a picked port, lists it, gets it and carries bytes', async () => {
    const p = await client.createProxy(proxyBody('echo'));
    expect(p.name).toBe('echo');
    expect(p.enabled).toBe(true);
    expect(p.upstream).toBe(upstream.address);
    expect(p.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(portOf(p.listen)).toBeGreaterThan(0);

    const all = await client.getAll();
    expect(Object.keys(all)).toEqual(['echo']);
    expect(all.echo!.toJson()).toEqual({ name: 'echo', listen: p.listen, upstream: upstream.address, enabled: true });
    expect((await client.get('echo')).listen).toBe(p.listen);

    const c = await connect(portOf(p.listen));
    c.send('hello');
    expect((await c.waitBytes(5)).toString()).toBe('hello');
    c.destroy();
  });

  it('serves the JSON shapes of Toxiproxy: proxy fields in order, toxics array, index keyed by name', async () => {
    await client.createProxy(proxyBody('b'));
    await client.createProxy(proxyBody('a', { enabled: false, listen: 'localhost:0' }));
    const index = await raw('GET', '/proxies');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('application/json');
    const parsed = JSON.parse(index.text) as Record<string, Record<string, unknown>>;
    expect(Object.keys(parsed)).toEqual(['a', 'b']);
    expect(Object.keys(parsed.b!)).toEqual(['name', 'listen', 'upstream', 'enabled', 'toxics']);
    // Never started: the listen address stays as given.
    expect(parsed.a).toEqual({ name: 'a', listen: 'localhost:0', upstream: upstream.address, enabled: false, toxics: [] });
    expect(index.headers.get('x-toxiproxy-request-id')).toMatch(/^[0-9a-v]{20}$/);
  });

  it('create answers 201; a duplicate name 409; missing name or upstream 400', async () => {
    const created = await raw('POST', '/proxies', proxyBody('dup'));
    expect(created.status).toBe(201);
    const again = await raw('POST', '/proxies', proxyBody('dup'));
    expect(again.status).toBe(409);
    expect(again.text).toBe('{"error":"proxy already exists","status":409}\n');
    expect(again.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    await expect(client.createProxy(proxyBody('dup'))).rejects.toThrow('Request failed with status code 409');

    expect((await raw('POST', '/proxies', { upstream: upstream.address })).text).toBe(
      '{"error":"missing required field: name","status":400}\n',
    );
    expect((await raw('POST', '/proxies', { name: 'x' })).text).toBe(
      '{"error":"missing required field: upstream","status":400}\n',
    );
  });

  it('bad JSON is a 400 with the decoder message, for every body-taking route', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/proxies', ''],
      ['POST', '/proxies', '{"name": '],
      ['POST', '/proxies', '{"name": }'],
      ['POST', '/proxies', '{"name": 5}'],
      ['POST', '/proxies', '{"name": "n", "upstream": "u", "enabled": "yes"}'],
      ['POST', '/proxies', '[1]'],
    ];
    const expected = [
      'bad request body: EOF',
      'bad request body: unexpected EOF',
      "bad request body: invalid character '}' looking for beginning of value",
      'bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string',
      'bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled of type bool',
      'bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy',
    ];
    for (let i = 0; i < cases.length; i++) {
      const [m, p, b] = cases[i]!;
      const r = await raw(m, p, b);
      expect(r.status, b).toBe(400);
      expect(JSON.parse(r.text), b).toEqual({ error: expected[i], status: 400 });
    }
    // Go reads the first value only and matches keys case-insensitively.
    const lenient = await raw('POST', '/proxies', `{"NAME": "lenient", "Upstream": "${upstream.address}", "listen": "127.0.0.1:0"} trailing`);
    expect(lenient.status).toBe(201);
    expect(JSON.parse(lenient.text).name).toBe('lenient');
  });

  it('missing proxies are 404 for show, update, delete and the toxic routes', async () => {
    for (const [m, p] of [
      ['GET', '/proxies/nope'],
      ['POST', '/proxies/nope'],
      ['PATCH', '/proxies/nope'],
      ['DELETE', '/proxies/nope'],
      ['GET', '/proxies/nope/toxics'],
      ['POST', '/proxies/nope/toxics'],
      ['GET', '/proxies/nope/toxics/t'],
      ['DELETE', '/proxies/nope/toxics/t'],
    ] as const) {
      const r = await raw(m, p, m === 'POST' || m === 'PATCH' ? '{}' : undefined);
      expect(r.status, `${m} ${p}`).toBe(404);
      expect(r.text).toBe('{"error":"proxy not found","status":404}\n');
    }
    await expect(client.get('nope')).rejects.toBeInstanceOf(ToxiproxyError);
  });

  it('unknown routes 404 as Go does, wrong methods 405 with no body, browsers 403', async () => {
    const missing = await raw('GET', '/nothing');
    expect(missing.status).toBe(404);
    expect(missing.text).toBe('404 page not found\n');
    const wrong = await raw('PUT', '/proxies');
    expect(wrong.status).toBe(405);
    expect(wrong.text).toBe('');
    const browser = await raw('GET', '/proxies', undefined, { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64)' });
    expect(browser.status).toBe(403);
    expect(browser.text).toBe('User agent not allowed\n');
  });

  it('a listen address in use is a 500 with the bind error; an unparsable one too', async () => {
    const p = await client.createProxy(proxyBody('first'));
    const clash = await raw('POST', '/proxies', proxyBody('second', { listen: p.listen }));
    expect(clash.status).toBe(500);
    expect(JSON.parse(clash.text)).toEqual({ error: `listen tcp ${p.listen}: bind: address already in use`, status: 500 });
    const bad = await raw('POST', '/proxies', proxyBody('third', { listen: 'local373' }));
    expect(JSON.parse(bad.text)).toEqual({ error: 'listen tcp: address local373: missing port in address', status: 500 });
    expect(Object.keys(await client.getAll())).toEqual(['first']);
  });

  it('update: enabled false takes the proxy down (refusing), true brings it back on the same port', async () => {
    const p = await client.createProxy(proxyBody('flip'));
    const port = portOf(p.listen);
    const live = await connect(port);
    live.send('x');
    await live.waitBytes(1);

    const down = await p.update({ enabled: false, listen: p.listen, upstream: p.upstream });
    expect(down.enabled).toBe(false);
    expect(await live.closed).toBe('end');
    await expect(connect(port)).rejects.toThrow('ECONNREFUSED');

    const up = await down.update({ enabled: true, listen: p.listen, upstream: p.upstream });
    expect(up.enabled).toBe(true);
    expect(up.listen).toBe(p.listen);
    const again = await connect(port);
    again.send('y');
    expect((await again.waitBytes(1)).toString()).toBe('y');
    again.destroy();
  });

  it('update of listen or upstream restarts the proxy; PATCH works as POST; partial bodies keep fields', async () => {
    const p = await client.createProxy(proxyBody('move'));
    const live = await connect(portOf(p.listen));
    const moved = await raw('PATCH', '/proxies/move', { listen: '127.0.0.1:0' });
    expect(moved.status).toBe(200);
    const body = JSON.parse(moved.text);
    expect(body.listen).not.toBe(p.listen);
    expect(body.upstream).toBe(upstream.address);
    expect(body.enabled).toBe(true);
    expect(await live.closed).toBe('end');
    // A body naming the same resolved address changes nothing.
    const same = await raw('POST', '/proxies/move', { listen: body.listen.replace('127.0.0.1', 'localhost') });
    expect(JSON.parse(same.text).listen).toBe(body.listen);
  });

  it('delete answers 204 and closes the port', async () => {
    const p = await client.createProxy(proxyBody('gone'));
    const r = await raw('DELETE', '/proxies/gone');
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    await expect(connect(portOf(p.listen))).rejects.toThrow('ECONNREFUSED');
    await expect(p.remove()).rejects.toThrow('Request failed with status code 404');
  });

  it('populate creates, keeps an identical proxy untouched and replaces one that differs', async () => {
    const first = await client.populate([proxyBody('p1'), proxyBody('p2', { enabled: false })]);
    expect(Object.keys(first).sort()).toEqual(['p1', 'p2']);
    expect(first.p1!.enabled).toBe(true);
    expect(first.p2!.enabled).toBe(false);

    const p1 = await client.get('p1');
    await p1.addToxic(toxic<Latency>('latency', { latency: 1, jitter: 0 }));
    // Same listen + upstream: kept, with its toxic; p3 is new.
    const second = await raw('POST', '/populate', [
      { name: 'p1', listen: p1.listen, upstream: upstream.address },
      proxyBody('p3'),
    ]);
    expect(second.status).toBe(201);
    const proxies = JSON.parse(second.text).proxies as { name: string; toxics: unknown[] }[];
    expect(proxies.map((p) => p.name)).toEqual(['p1', 'p3']);
    expect(proxies[0]!.toxics).toHaveLength(1);

    // A different upstream replaces p1: a fresh proxy without toxics.
    const third = JSON.parse((await raw('POST', '/populate', [{ name: 'p1', listen: p1.listen, upstream: 'localhost:1' }])).text);
    expect(third.proxies[0].upstream).toBe('localhost:1');
    expect(third.proxies[0].toxics).toEqual([]);
  });

  it('populate errors: fields checked before anything is created, a failure midway keeps the earlier ones', async () => {
    const missing = await raw('POST', '/populate', [proxyBody('ok'), { listen: '127.0.0.1:0', upstream: 'x:1' }]);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)).toEqual({ error: 'missing required field: name at proxy 2', status: 400, proxies: null });
    expect(await client.getAll()).toEqual({});

    const midway = await raw('POST', '/populate', [proxyBody('one'), proxyBody('two', { listen: 'local373' }), proxyBody('three')]);
    expect(midway.status).toBe(500);
    const body = JSON.parse(midway.text);
    expect(body.error).toBe('listen tcp: address local373: missing port in address');
    expect(body.proxies.map((p: { name: string }) => p.name)).toEqual(['one']);
    expect(Object.keys(await client.getAll())).toEqual(['one']);

    const notArray = await raw('POST', '/populate', { name: 'x' });
    expect(notArray.status).toBe(400);
    expect(JSON.parse(notArray.text).error).toMatch(/^bad request body: json: cannot unmarshal object into Go value of type \[\]struct/);
    // An empty list succeeds with `"proxies": null`, as Go marshals an empty result.
    expect((await raw('POST', '/populate', [])).text).toBe('{"proxies":null}');
  });

  it('reset enables every proxy and removes every toxic', async () => {
    const a = await client.createProxy(proxyBody('ra'));
    await a.addToxic(toxic<Latency>('latency', { latency: 5, jitter: 1 }));
    await a.update({ enabled: false, listen: a.listen, upstream: a.upstream });
    await client.reset();
    const after = JSON.parse((await raw('GET', '/proxies/ra')).text);
    expect(after.enabled).toBe(true);
    expect(after.toxics).toEqual([]);
    expect((await raw('POST', '/reset')).status).toBe(204);
  });

  it('version answers Toxiproxy\'s body', async () => {
    expect(await client.getVersion()).toBe(`{"version": "${TOXIPROXY_VERSION}"}\n`);
    const r = await raw('GET', '/version');
    expect(r.headers.get('content-type')).toBe('application/json;charset=utf-8');
  });
});

describe('toxics', () => {
  const kinds: [string, Record<string, number>][] = [
    ['latency', { latency: 100, jitter: 10 }],
    ['bandwidth', { rate: 64 }],
    ['slow_close', { delay: 100 }],
    ['timeout', { timeout: 200 }],
    ['reset_peer', { timeout: 50 }],
    ['limit_data', { bytes: 1024 }],
    ['slicer', { average_size: 64, size_variation: 16, delay: 10 }],
  ];

  it('every kind is created, listed, shown, updated and deleted through the client', async () => {
    const p = await client.createProxy(proxyBody('tx'));
    for (const [type, attributes] of kinds) {
      const t = await p.addToxic(toxic(type, attributes, { name: `t_${type}`, toxicity: 0.5 }));
      expect(t.toJson()).toEqual({ name: `t_${type}`, type, stream: 'downstream', toxicity: 0.5, attributes });
      const shown = await p.getToxic(`t_${type}`);
      expect(shown.attributes).toEqual(attributes);
    }
    const listed = (await client.getApi().get(`${p.getPath()}/toxics`)).data as { name: string }[];
    expect(listed.map((t) => t.name)).toEqual(kinds.map(([type]) => `t_${type}`));

    const latency = await p.getToxic<Latency>('t_latency');
    const updated = await latency.update(toxic<Latency>('latency', { latency: 7, jitter: 0 }, { toxicity: 1 }));
    expect(updated.attributes).toEqual({ latency: 7, jitter: 0 });
    expect(updated.toxicity).toBe(1);

    for (const [type] of kinds) await (await p.getToxic(`t_${type}`)).remove();
    expect((await client.getApi().get(`${p.getPath()}/toxics`)).data).toEqual([]);
  });

  it('defaults: downstream, toxicity 1, name <type>_<stream>, missing attributes 0; upstream first in lists', async () => {
    await client.createProxy(proxyBody('defaults'));
    const down = await raw('POST', '/proxies/defaults/toxics', { type: 'latency' });
    expect(down.status).toBe(200);
    expect(down.text).toBe(
      '{"attributes":{"latency":0,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}',
    );
    const up = JSON.parse((await raw('POST', '/proxies/defaults/toxics', { type: 'slicer', stream: 'UPSTREAM' })).text);
    expect(up.name).toBe('slicer_UPSTREAM');
    expect(up.stream).toBe('UPSTREAM');
    expect(up.attributes).toEqual({ average_size: 0, size_variation: 0, delay: 0 });
    const list = JSON.parse((await raw('GET', '/proxies/defaults/toxics')).text) as { name: string }[];
    expect(list.map((t) => t.name)).toEqual(['slicer_UPSTREAM', 'latency_downstream']);
    const shown = JSON.parse((await raw('GET', '/proxies/defaults')).text);
    expect(shown.toxics).toEqual(list);
    // Toxicity is a float32, printed as Go prints it.
    const f = JSON.parse((await raw('POST', '/proxies/defaults/toxics', { type: 'noop', toxicity: 0.123456789 })).text);
    expect(f.toxicity).toBe(0.12345679);
  });

  it('toxic errors: invalid stream, invalid type, duplicate name 409, missing toxic 404, bad attributes 400', async () => {
    await client.createProxy(proxyBody('terr'));
    const stream = await raw('POST', '/proxies/terr/toxics', { type: 'latency', stream: 'walrustream' });
    expect(stream.status).toBe(400);
    expect(JSON.parse(stream.text)).toEqual({ error: 'stream was invalid, can be either upstream or downstream', status: 400 });
    const type = await raw('POST', '/proxies/terr/toxics', { type: 'walrus' });
    expect(JSON.parse(type.text)).toEqual({ error: 'invalid toxic type', status: 400 });
    expect((await raw('POST', '/proxies/terr/toxics', { type: 'latency' })).status).toBe(200);
    const dup = await raw('POST', '/proxies/terr/toxics', { type: 'bandwidth', name: 'latency_downstream' });
    expect(dup.status).toBe(409);
    expect(JSON.parse(dup.text)).toEqual({ error: 'toxic already exists', status: 409 });
    for (const m of ['GET', 'POST', 'DELETE']) {
      const r = await raw(m, '/proxies/terr/toxics/none', m === 'POST' ? '{}' : undefined);
      expect(r.status).toBe(404);
      expect(JSON.parse(r.text)).toEqual({ error: 'toxic not found', status: 404 });
    }
    const frac = await raw('POST', '/proxies/terr/toxics', { type: 'latency', name: 'f', attributes: { latency: 1.5 } });
    expect(JSON.parse(frac.text)).toEqual({
      error: 'bad request body: json: cannot unmarshal number 1.5 into Go struct field LatencyToxic.attributes.latency of type int64',
      status: 400,
    });
    const notObj = await raw('POST', '/proxies/terr/toxics', { type: 'latency', name: 'g', attributes: 3 });
    expect(notObj.status).toBe(400);
    const badUpdate = await raw('POST', '/proxies/terr/toxics/latency_downstream', { toxicity: 'high' });
    expect(JSON.parse(badUpdate.text)).toEqual({
      error: 'bad request body: json: cannot unmarshal string into Go struct field .toxicity of type float32',
      status: 400,
    });
    const badJson = await raw('POST', '/proxies/terr/toxics', '{"type": "latency",');
    expect(JSON.parse(badJson.text)).toEqual({ error: 'bad request body: unexpected EOF', status: 400 });
  });

  it('update changes only attributes and toxicity, keeping the attributes it does not name', async () => {
    await client.createProxy(proxyBody('tu'));
    await raw('POST', '/proxies/tu/toxics', { type: 'slicer', attributes: { average_size: 10, size_variation: 2, delay: 5 } });
    const r = await raw('PATCH', '/proxies/tu/toxics/slicer_downstream', {
      name: 'renamed',
      stream: 'upstream',
      type: 'latency',
      attributes: { delay: 9 },
    });
    expect(JSON.parse(r.text)).toEqual({
      attributes: { average_size: 10, size_variation: 2, delay: 9 },
      name: 'slicer_downstream',
      type: 'slicer',
      stream: 'downstream',
      toxicity: 1,
    });
  });
});

describe('standalone server', () => {
  const NODE = process.execPath;
  const SERVER = path.resolve(import.meta.dirname, '../../chaos/toxiproxy/server.ts');

  it('prints its version', async () => {
    const out = await new Promise<string>((resolve) => {
      const p = spawn(NODE, [SERVER, '--version']);
      let s = '';
      p.stdout.on('data', (d) => (s += d));
      p.on('close', () => resolve(s));
    });
    expect(out).toBe(`toxiproxy-server version ${TOXIPROXY_VERSION}\n`);
  });

  it('listens where told, populates from --config, and stops on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'toxiproxy-'));
    const config = path.join(dir, 'proxies.json');
    fs.writeFileSync(config, JSON.stringify([{ name: 'from_file', listen: '127.0.0.1:0', upstream: upstream.address }]));
    const tp = await spawnToxiproxy(['-host', '127.0.0.1', '--port=0', '--config', config, '--seed', '7']);
    try {
      const remote = new Toxiproxy(tp.url);
      expect(Object.keys(await remote.getAll())).toEqual(['from_file']);
      expect(await remote.getVersion()).toContain(TOXIPROXY_VERSION);
    } finally {
      expect(await tp.stop()).toBe(0);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
