// How fast bytes cross the Toxiproxy server, against the same traffic sent directly:
//
//   node chaos/toxiproxy/throughput.ts [--mb 256] [--write-kb 64] [--rounds 3] [--pingpongs 5000]
//
// The proxy runs as its own process (as it does beside a cluster under test); this process holds
// the sender, the receiving sink and an echo server. Streams: one connection sending --mb MiB in
// --write-kb writes until the sink has counted them all (median of --rounds). Round trips: 1 KiB
// echoed --pingpongs times, one at a time. "noop toxic" measures the toxic path (a chain of one
// toxic that passes everything) that a proxy takes once any toxic is set on its direction.

import net from 'node:net';
import { Toxiproxy } from 'toxiproxy-node-client';
import { spawnToxiproxy } from './spawn.ts';

interface Args {
  mb: number;
  writeKb: number;
  rounds: number;
  pingpongs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { mb: 256, writeKb: 64, rounds: 3, pingpongs: 5000 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`bad value for ${argv[i]}`);
    if (argv[i] === '--mb') a.mb = v;
    else if (argv[i] === '--write-kb') a.writeKb = v;
    else if (argv[i] === '--rounds') a.rounds = v;
    else if (argv[i] === '--pingpongs') a.pingpongs = v;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return a;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** A sink that reports when `expect` bytes have arrived on a connection. */
function sinkServer(): { server: net.Server; arrived: (bytes: number) => Promise<void> } {
  let want = 0;
  let got = 0;
  let done: (() => void) | null = null;
  const server = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (done && got >= want) {
        const d2 = done;
        done = null;
        d2();
      }
    });
    s.on('error', () => undefined);
  });
  return {
    server,
    arrived: (bytes) =>
      new Promise<void>((resolve) => {
        want = bytes;
        got = 0;
        done = resolve;
      }),
  };
}

async function stream(port: number, sink: ReturnType<typeof sinkServer>, a: Args): Promise<number> {
  const total = a.mb * 1024 * 1024;
  const chunk = Buffer.alloc(a.writeKb * 1024, 0x61);
  const sock = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((r) => sock.once('connect', r));
  const arrived = sink.arrived(total);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const n = Math.min(chunk.length, total - sent);
    sent += n;
    if (!sock.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise((r) => sock.once('drain', r));
  }
  await arrived;
  const secs = (performance.now() - start) / 1000;
  sock.destroy();
  return a.mb / secs;
}

async function pingpong(port: number, count: number): Promise<number> {
  const msg = Buffer.alloc(1024, 0x62);
  const sock = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((r) => sock.once('connect', r));
  let got = 0;
  let next: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= msg.length && next) {
      got -= msg.length;
      const n = next;
      next = null;
      n();
    }
  });
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const back = new Promise<void>((r) => (next = r));
    sock.write(msg);
    await back;
  }
  const us = ((performance.now() - start) * 1000) / count;
  sock.destroy();
  return us;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const sink = sinkServer();
  const sinkPort = await listen(sink.server);
  const echo = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  const echoPort = await listen(echo);
  const proxy = await spawnToxiproxy();
  try {
    const tp = new Toxiproxy(proxy.url);
    const toSink = await tp.createProxy({ name: 'sink', listen: '127.0.0.1:0', upstream: `127.0.0.1:${sinkPort}` });
    const toEcho = await tp.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echoPort}` });
    const sinkProxyPort = Number(toSink.listen.split(':').pop());
    const echoProxyPort = Number(toEcho.listen.split(':').pop());

    const measure = async (label: string, port: number, rtPort: number): Promise<void> => {
      const rates: number[] = [];
      for (let i = 0; i < a.rounds; i++) rates.push(await stream(port, sink, a));
      const rtt = await pingpong(rtPort, a.pingpongs);
      console.log(
        `${label.padEnd(22)} ${median(rates).toFixed(0).padStart(6)} MiB/s  (rounds: ${rates.map((r) => r.toFixed(0)).join(', ')})` +
          `   1 KiB round trip ${rtt.toFixed(0).padStart(5)} µs`,
      );
    };

    console.log(`${a.mb} MiB per round in ${a.writeKb} KiB writes, ${a.rounds} rounds; ${a.pingpongs} round trips`);
    await measure('direct', sinkPort, echoPort);
    await measure('proxy, no toxics', sinkProxyPort, echoProxyPort);
    for (const p of [toSink, toEcho]) {
      for (const stream of ['upstream', 'downstream'] as const) {
        await p.addToxic({ name: `noop_${stream}`, type: 'noop' as 'latency', stream, toxicity: 1, attributes: {} });
      }
    }
    await measure('proxy, noop toxic', sinkProxyPort, echoProxyPort);
  } finally {
    await proxy.stop();
    sink.server.close();
    echo.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
