// Monitoring endpoints: nats-server's paths and JSON field names, and Prometheus text.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monitor, startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { RawClient } from '../support/raw.ts';
import { statszSubjects } from '../../src/server/system_client.ts';

/** The system client's own subscriptions, counted like nats-server counts its internal ones. */
const SYSTEM_SUBS = statszSubjects('N').length;

describe('monitoring', () => {
  let srv: RunningServer;
  const clients: RawClient[] = [];
  beforeAll(async () => {
    srv = await startServer({ workers: 2, config: 'server_name: mon-test\nserver_tags: ["az:1"]' });
    for (let i = 0; i < 3; i++) {
      const { c } = await RawClient.open(srv.port);
      c.send(`CONNECT {"name":"client-${i}","lang":"raw","version":"1.0"}\r\nSUB mon.${i} ${i + 1}\r\nSUB mon.all q${i} 9\r\n`);
      await c.flush();
      clients.push(c);
    }
    clients[0]!.send('PUB mon.1 3\r\nabc\r\nPUB mon.1 3\r\nabc\r\n');
    await clients[0]!.flush();
    await clients[1]!.expect(/^MSG mon\.1 2 3\r\nabc\r\nMSG mon\.1 2 3\r\nabc\r\n/);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await srv.stop();
  });

  it('/varz reports identity, limits and traffic with nats-server names', async () => {
    const v = await monitor(srv, '/varz');
    expect(v.server_name).toBe('mon-test');
    expect(v.port).toBe(srv.port);
    expect(v.http_port).toBe(srv.httpPort);
    expect(v.max_payload).toBe(1024 * 1024);
    expect(v.ping_interval).toBe(120 * 1e9);
    expect(v.connections).toBe(3);
    expect(v.total_connections).toBeGreaterThanOrEqual(3);
    expect(v.subscriptions).toBe(6 + SYSTEM_SUBS);
    expect(v.in_msgs).toBe(2);
    expect(v.out_msgs).toBe(2);
    expect(v.in_bytes).toBe(6);
    expect(v.tags).toEqual(['az:1']);
    for (const k of ['server_id', 'version', 'go', 'start', 'now', 'uptime', 'mem', 'cores', 'cpu', 'slow_consumers']) expect(v).toHaveProperty(k);
  });

  it('/connz lists connections with paging, sorting, subs and cid filters', async () => {
    const all = await monitor(srv, '/connz');
    expect(all.num_connections).toBe(3);
    expect(all.total).toBe(3);
    expect(all.connections.map((c: { name: string }) => c.name)).toEqual(['client-0', 'client-1', 'client-2']);
    const c0 = all.connections[0];
    for (const k of ['cid', 'ip', 'port', 'start', 'last_activity', 'uptime', 'idle', 'pending_bytes', 'in_msgs', 'out_msgs', 'subscriptions', 'lang', 'version', 'rtt']) {
      expect(c0).toHaveProperty(k);
    }
    expect(c0.in_msgs).toBe(2);
    const page = await monitor(srv, '/connz?limit=1&offset=1');
    expect(page.connections).toHaveLength(1);
    expect(page.connections[0].name).toBe('client-1');
    expect(page.limit).toBe(1);
    expect(page.offset).toBe(1);
    const sorted = await monitor(srv, '/connz?sort=msgs_from');
    expect(sorted.connections[0].name).toBe('client-0');
    const subs = await monitor(srv, `/connz?subs=1&cid=${c0.cid}`);
    expect(subs.connections).toHaveLength(1);
    expect(subs.connections[0].subscriptions_list.sort()).toEqual(['mon.0', 'mon.all']);
  });

  it('/connz?state=closed remembers closed connections with a reason', async () => {
    const { c } = await RawClient.open(srv.port);
    c.send('CONNECT {"name":"short-lived"}\r\n');
    await c.flush();
    c.close();
    await c.whenClosed();
    // The close is processed asynchronously by the worker: poll a bounded number of times.
    let found: { reason: string } | undefined;
    for (let i = 0; i < 50 && !found; i++) {
      const closed = await monitor(srv, '/connz?state=closed');
      found = closed.connections.find((x: { name: string }) => x.name === 'short-lived');
      if (!found) await new Promise((r) => setTimeout(r, 20));
    }
    expect(found?.reason).toBe('Client Closed');
  });

  it('/subsz counts and lists subscriptions, and filters by test subject', async () => {
    const s = await monitor(srv, '/subsz');
    expect(s.num_subscriptions).toBe(6 + SYSTEM_SUBS);
    const list = await monitor(srv, '/subsz?subs=1&test=mon.all');
    expect(list.subscriptions_list.map((x: { subject: string }) => x.subject)).toEqual(['mon.all', 'mon.all', 'mon.all']);
    expect(list.subscriptions_list[0]).toHaveProperty('qgroup');
  });

  it('/healthz, /routez and /metrics', async () => {
    expect(await monitor(srv, '/healthz')).toEqual({ status: 'ok' });
    const r = await monitor(srv, '/routez');
    expect(r.num_routes).toBe(0);
    const text: string = await monitor(srv, '/metrics');
    expect(text).toMatch(/^# HELP gnatsd_varz_connections/m);
    expect(text).toMatch(/^gnatsd_varz_connections\{server_id="N[A-Z2-7]+"\} 3$/m);
    expect(text).toMatch(/^gnatsd_varz_in_msgs\{[^}]*\} 2$/m);
  });

  it('answers 404 for unknown paths', async () => {
    const res = await fetch(`http://127.0.0.1:${srv.httpPort}/nope`);
    expect(res.status).toBe(404);
  });
});

describe('monitoring port at shutdown', () => {
  it('a scraper holding a keep-alive connection does not hold up a graceful stop', async () => {
    const srv = await startServer({ workers: 1 });
    const sock = net.connect(srv.httpPort, '127.0.0.1');
    const answered = new Promise<string>((resolve) => {
      let got = '';
      sock.on('data', (d) => {
        got += d;
        if (got.includes('"server_id"')) resolve(got);
      });
    });
    sock.write('GET /varz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await answered).toMatch(/^HTTP\/1\.1 200/);
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    // stop() falls back to SIGKILL after 5 s, which would leave no exit code.
    expect(await srv.stop()).toBe(0);
    await closed;
  });
});
