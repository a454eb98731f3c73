// What each toxic does to real TCP traffic through chaos/toxiproxy, set up through
// toxiproxy-node-client against an echo or recording upstream. Effects are shown by bytes and
// closes (limit_data cuts at N, reset_peer resets, timeout swallows, a removed latency releases
// what it held); the proxy's byte counters are the sync points. No assertion depends on elapsed time.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { ICreateToxicBody, Proxy } from 'toxiproxy-node-client';
import { startToxiproxy } from '../../chaos/toxiproxy/server.ts';
import type { ToxiproxyServer } from '../../chaos/toxiproxy/server.ts';
import { connect, portOf, startUpstream, until } from './tcp.ts';
import type { TestUpstream } from './tcp.ts';

let server: ToxiproxyServer;
let client: Toxiproxy;
let echo: TestUpstream;
let sink: TestUpstream;

beforeAll(async () => {
  server = await startToxiproxy({ port: 0, seed: 42 });
  client = new Toxiproxy(server.url);
  echo = await startUpstream('echo');
  sink = await startUpstream('record');
});

afterAll(async () => {
  await server.close();
  await echo.close();
  await sink.close();
});

afterEach(async () => {
  for (const p of Object.values(await client.getAll())) await p.remove();
});

let seq = 0;
async function proxyTo(up: TestUpstream): Promise<Proxy> {
  return client.createProxy({ name: `p${++seq}`, listen: '127.0.0.1:0', upstream: up.address });
}

function stats(p: Proxy) {
  return server.api.proxies.get(p.name)!.stats;
}

function add<T extends object>(
  p: Proxy,
  type: ICreateToxicBody<T>['type'],
  attributes: T,
  opts: { stream?: 'upstream' | 'downstream'; toxicity?: number; name?: string } = {},
) {
  const stream = opts.stream ?? 'downstream';
  return p.addToxic<T>({ name: opts.name ?? `${type}_${stream}`, type, stream, toxicity: opts.toxicity ?? 1, attributes });
}

const payload = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

describe('no toxics', () => {
  it('carries 4 MiB both ways intact', async () => {
    const p = await proxyTo(echo);
    const c = await connect(portOf(p.listen));
    const data = payload(4 << 20);
    c.send(data);
    expect((await c.waitBytes(data.length)).equals(data)).toBe(true);
    c.destroy();
  });

  it('a client that closes closes the upstream connection too', async () => {
    const p = await proxyTo(sink);
    const before = sink.sockets.length;
    const c = await connect(portOf(p.listen));
    c.send('bye');
    await until(() => sink.received[before]?.length === 3, 'bytes at the upstream');
    c.socket.end();
    await until(() => sink.endings[before] !== undefined, 'upstream close');
    expect(sink.endings[before]).toBe('end');
  });

  it('an upstream that refuses: the client is accepted, then closed', async () => {
    const dead = await startUpstream('echo');
    const addr = dead.address;
    await dead.close();
    const p = await client.createProxy({ name: 'dead', listen: '127.0.0.1:0', upstream: addr });
    const c = await connect(portOf(p.listen));
    expect(['end', 'ECONNRESET']).toContain(await c.closed);
    expect(c.data.length).toBe(0);
  });
});

describe('latency', () => {
  it('data arrives, in order, with latency and jitter set; the toxic is reported', async () => {
    const p = await proxyTo(echo);
    await add(p, 'latency', { latency: 5, jitter: 3 });
    await add(p, 'latency', { latency: 2, jitter: 0 }, { stream: 'upstream' });
    expect((await p.getToxic('latency_downstream')).attributes).toEqual({ latency: 5, jitter: 3 });
    const c = await connect(portOf(p.listen));
    const parts = Array.from({ length: 20 }, (_, i) => `m${i};`);
    for (const part of parts) c.send(part);
    const all = parts.join('');
    expect((await c.waitBytes(all.length)).toString()).toBe(all);
    c.destroy();
  });

  it('removing it releases what it held at once', async () => {
    const p = await proxyTo(echo);
    await add(p, 'latency', { latency: 3_600_000, jitter: 0 });
    const c = await connect(portOf(p.listen));
    c.send('held');
    await until(() => stats(p).downstream.bytesIn === 4, 'echo back at the proxy');
    expect(c.data.length).toBe(0);
    await (await p.getToxic('latency_downstream')).remove();
    expect((await c.waitBytes(4)).toString()).toBe('held');
    c.destroy();
  });
});

describe('bandwidth', () => {
  it('passes everything at a limited rate', async () => {
    const p = await proxyTo(echo);
    await add(p, 'bandwidth', { rate: 1000 });
    const c = await connect(portOf(p.listen));
    const data = payload(150_000);
    c.send(data);
    expect((await c.waitBytes(data.length)).equals(data)).toBe(true);
    expect(stats(p).downstream.writes).toBeGreaterThan(1);
    c.destroy();
  });

  it('rate 0 lets nothing through until removed, then everything in order', async () => {
    const p = await proxyTo(echo);
    await add(p, 'bandwidth', { rate: 0 });
    const c = await connect(portOf(p.listen));
    c.send('abc');
    c.send('def');
    await until(() => stats(p).downstream.bytesIn === 6, 'echo back at the proxy');
    expect(stats(p).downstream.bytesOut).toBe(0);
    await (await p.getToxic('bandwidth_downstream')).remove();
    expect((await c.waitBytes(6)).toString()).toBe('abcdef');
    c.destroy();
  });
});

describe('slow_close', () => {
  it('holds back the close while data flows; removal lets the close through', async () => {
    const p = await proxyTo(sink);
    await add(p, 'slow_close', { delay: 3_600_000 }, { stream: 'upstream' });
    const before = sink.sockets.length;
    const c = await connect(portOf(p.listen));
    c.send('data');
    c.socket.end();
    await until(() => stats(p).upstream.inputsEnded === 1, 'client FIN at the proxy');
    expect(sink.received[before]!.toString()).toBe('data');
    expect(sink.endings[before]).toBeUndefined();
    expect(stats(p).upstream.outputsEnded).toBe(0);
    await (await p.getToxic('slow_close_upstream')).remove();
    await until(() => sink.endings[before] !== undefined, 'upstream sees the close');
    expect(sink.endings[before]).toBe('end');
  });

  it('a short delay still delivers the data and then the close', async () => {
    const p = await proxyTo(echo);
    await add(p, 'slow_close', { delay: 10 });
    const c = await connect(portOf(p.listen));
    c.send('x');
    await c.waitBytes(1);
    c.socket.end();
    expect(await c.closed).toBe('end');
  });
});

describe('timeout', () => {
  it('0: swallows everything and keeps the connection open; removal closes it (Toxiproxy cleanup)', async () => {
    const p = await proxyTo(echo);
    await add(p, 'timeout', { timeout: 0 });
    const c = await connect(portOf(p.listen));
    c.send('swallowed');
    await until(() => stats(p).downstream.bytesIn === 9, 'echo back at the proxy');
    expect(stats(p).downstream.bytesOut).toBe(0);
    expect(c.ending).toBeUndefined();
    await (await p.getToxic('timeout_downstream')).remove();
    expect(await c.closed).toBe('end');
    expect(c.data.length).toBe(0);
  });

  it('> 0: closes the connection without delivering anything', async () => {
    const p = await proxyTo(sink);
    await add(p, 'timeout', { timeout: 20 }, { stream: 'upstream' });
    const before = sink.sockets.length;
    const c = await connect(portOf(p.listen));
    c.send('never');
    expect(await c.closed).toBe('end');
    await until(() => sink.endings[before] !== undefined, 'upstream closed');
    expect(sink.received[before]!.length).toBe(0);
  });
});

describe('reset_peer', () => {
  it('resets both sides once data flows (ECONNRESET), dropping the data', async () => {
    const p = await proxyTo(echo);
    await add(p, 'reset_peer', { timeout: 0 });
    const before = echo.sockets.length;
    const c = await connect(portOf(p.listen));
    c.send('boom');
    expect(await c.closed).toBe('ECONNRESET');
    expect(c.data.length).toBe(0);
    await until(() => echo.endings[before] !== undefined, 'upstream reset');
    expect(echo.endings[before]).toBe('ECONNRESET');
  });

  it('added to a live connection, resets it on the next bytes after its timeout', async () => {
    const p = await proxyTo(echo);
    const c = await connect(portOf(p.listen));
    c.send('a');
    await c.waitBytes(1);
    await add(p, 'reset_peer', { timeout: 5 }, { stream: 'upstream' });
    c.send('b');
    expect(await c.closed).toBe('ECONNRESET');
    expect(c.data.toString()).toBe('a');
  });
});

describe('limit_data', () => {
  it('downstream: the client gets exactly N bytes, then the connection closes', async () => {
    const p = await proxyTo(echo);
    await add(p, 'limit_data', { bytes: 10 });
    const c = await connect(portOf(p.listen));
    c.send(payload(100));
    expect(await c.closed).toBe('end');
    expect(c.data.equals(payload(100).subarray(0, 10))).toBe(true);
  });

  it('upstream: the server gets exactly N bytes', async () => {
    const p = await proxyTo(sink);
    await add(p, 'limit_data', { bytes: 7 }, { stream: 'upstream' });
    const before = sink.sockets.length;
    const c = await connect(portOf(p.listen));
    c.send('0123456789');
    expect(await c.closed).toBe('end');
    await until(() => sink.endings[before] !== undefined, 'upstream closed');
    expect(sink.received[before]!.toString()).toBe('0123456');
  });

  it('counts across an update of the limit on a live connection', async () => {
    const p = await proxyTo(echo);
    const t = await add(p, 'limit_data', { bytes: 5 });
    const c = await connect(portOf(p.listen));
    c.send('abc');
    await c.waitBytes(3);
    await t.update({ ...t.toJson(), attributes: { bytes: 8 } });
    c.send('defghijk');
    expect(await c.closed).toBe('end');
    expect(c.data.toString()).toBe('abcdefgh');
  });

  it('added to a live connection, applies from then on', async () => {
    const p = await proxyTo(echo);
    const c = await connect(portOf(p.listen));
    c.send('12');
    await c.waitBytes(2);
    await add(p, 'limit_data', { bytes: 3 });
    c.send('3456');
    expect(await c.closed).toBe('end');
    expect(c.data.toString()).toBe('12345');
  });
});

describe('slicer', () => {
  it('delivers everything in slices of at most average + variation bytes', async () => {
    const p = await proxyTo(echo);
    await add(p, 'slicer', { average_size: 10, size_variation: 5, delay: 0 });
    const c = await connect(portOf(p.listen));
    const data = payload(3000);
    c.send(data);
    expect((await c.waitBytes(data.length)).equals(data)).toBe(true);
    expect(stats(p).downstream.writes).toBeGreaterThanOrEqual(Math.ceil(3000 / 15));
    c.destroy();
  });

  it('with a delay between slices, still in order', async () => {
    const p = await proxyTo(echo);
    await add(p, 'slicer', { average_size: 100, size_variation: 0, delay: 100 }, { stream: 'upstream' });
    const c = await connect(portOf(p.listen));
    const data = payload(1000);
    c.send(data);
    expect((await c.waitBytes(data.length)).equals(data)).toBe(true);
    // Halving 1000 until a piece is within 100 ± 0 gives pieces of 62-63 bytes: 16 writes per read.
    expect(stats(p).upstream.writes).toBeGreaterThanOrEqual(16);
    c.destroy();
  });
});

describe('toxicity and direction', () => {
  it('toxicity 0 never applies, 1 always does', async () => {
    const p = await proxyTo(echo);
    await add(p, 'limit_data', { bytes: 0 }, { toxicity: 0 });
    const spared = await connect(portOf(p.listen));
    spared.send('safe');
    expect((await spared.waitBytes(4)).toString()).toBe('safe');
    spared.destroy();

    const t = await p.getToxic('limit_data_downstream');
    await t.update({ ...t.toJson(), toxicity: 1 });
    const hit = await connect(portOf(p.listen));
    hit.send('lost');
    expect(await hit.closed).toBe('end');
    expect(hit.data.length).toBe(0);
  });

  it('toxicity 0.5 affects some connections and spares others (seeded)', async () => {
    const p = await proxyTo(echo);
    await add(p, 'limit_data', { bytes: 0 }, { toxicity: 0.5 });
    let cut = 0;
    for (let i = 0; i < 16; i++) {
      const c = await connect(portOf(p.listen));
      c.send('?');
      const ok = await c.waitBytes(1).then(
        () => true,
        () => false,
      );
      if (!ok) cut++;
      c.destroy();
    }
    expect(cut).toBeGreaterThan(0);
    expect(cut).toBeLessThan(16);
  });

  it('an upstream toxic leaves the downstream alone and vice versa', async () => {
    const p = await proxyTo(echo);
    await add(p, 'bandwidth', { rate: 0 }, { stream: 'upstream' });
    const c = await connect(portOf(p.listen));
    c.send('up');
    await until(() => stats(p).upstream.bytesIn === 2, 'client bytes at the proxy');
    expect(stats(p).upstream.bytesOut).toBe(0);
    await add(p, 'bandwidth', { rate: 0 }, { stream: 'downstream' });
    await (await p.getToxic('bandwidth_upstream')).remove();
    await until(() => stats(p).upstream.bytesOut === 2, 'released upstream');
    await until(() => stats(p).downstream.bytesIn === 2, 'echo back at the proxy');
    expect(stats(p).downstream.bytesOut).toBe(0);
    expect(c.data.length).toBe(0);
    c.destroy();
  });

  it('reset removes toxics from live connections', async () => {
    const p = await proxyTo(echo);
    await add(p, 'bandwidth', { rate: 0 });
    const c = await connect(portOf(p.listen));
    c.send('wait');
    await until(() => stats(p).downstream.bytesIn === 4, 'echo back at the proxy');
    await client.reset();
    expect((await c.waitBytes(4)).toString()).toBe('wait');
    c.destroy();
  });
});
