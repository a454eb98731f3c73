// Random and mutated protocol bytes thrown at a running server: it must stay up, keep serving
// well-behaved clients, and never deliver a corrupted message to them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { RawClient } from '../support/raw.ts';

const VALID = [
  'CONNECT {"verbose":false,"headers":true}\r\n',
  'SUB fuzz.> 1\r\n',
  'SUB fuzz.a q 2\r\n',
  'UNSUB 1 3\r\n',
  'PUB fuzz.a 5\r\nhello\r\n',
  'PUB fuzz.b reply.x 3\r\nabc\r\n',
  'HPUB fuzz.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
  'PING\r\n',
  'PONG\r\n',
];

function mutate(text: string, rnd: () => number): string {
  const chars = [...text];
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (chars.length + 1));
    const kind = Math.floor(rnd() * 4);
    const ch = String.fromCharCode(Math.floor(rnd() * 256));
    if (kind === 0) chars.splice(at, 1);
    else if (kind === 1) chars.splice(at, 0, ch);
    else if (kind === 2) chars[at] = ch;
    else chars.splice(at, 0, ...['\r\n', ' ', '9999999', '-1', '>', '*'][Math.floor(rnd() * 6)]!);
  }
  return chars.join('');
}

describe('protocol fuzzing', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer({ workers: 2, config: 'max_payload: 4KB' });
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('survives random and mutated input and keeps serving others', async () => {
    const { c: watcher } = await RawClient.open(srv.port);
    watcher.send('CONNECT {}\r\nSUB fuzz.> 1\r\n');
    await watcher.flush();
    let received = '';
    watcher.sock.on('data', (d: string) => (received += d));

    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 12 }), async (seeds) => {
        const c = await RawClient.connect(srv.port);
        for (const seed of seeds) {
          let s = seed || 1;
          const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
          const pick = VALID[Math.floor(rnd() * VALID.length)]!;
          const text = rnd() < 0.2 ? Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256))).toString('latin1') : mutate(pick, rnd);
          c.send(Buffer.from(text, 'latin1'));
        }
        c.close();
      }),
      { seed: 7, numRuns: 150 },
    );

    // The server is still up and routes correctly for a well-behaved client.
    const { c: pub } = await RawClient.open(srv.port);
    pub.send('CONNECT {}\r\nPUB fuzz.check 2\r\nok\r\n');
    await pub.flush();
    await watcher.flush();
    expect(received).toContain('MSG fuzz.check 1 2\r\nok\r\n');
    // Everything the watcher got is a sequence of well-formed frames whose sizes add up.
    expect(parseFrames(received)).toBe(received.length);
    const health = await fetch(`http://127.0.0.1:${srv.httpPort}/healthz`).then((r) => r.json() as Promise<any>);
    expect(health).toEqual({ status: 'ok' });
    pub.close();
    watcher.close();
  });
});

/** Consumes MSG/HMSG/PONG frames strictly; returns how many bytes were well-formed. */
function parseFrames(text: string): number {
  let at = 0;
  while (at < text.length) {
    const eol = text.indexOf('\r\n', at);
    if (eol < 0) return at;
    const line = text.slice(at, eol);
    if (line === 'PONG' || line === 'PING') {
      at = eol + 2;
      continue;
    }
    const m = /^(MSG|HMSG) \S+ 1 (?:\S+ )?(?:(\d+) )?(\d+)$/.exec(line);
    if (!m) return at;
    const size = Number(m[3]);
    const end = eol + 2 + size;
    if (text.slice(end, end + 2) !== '\r\n') return at;
    at = end + 2;
  }
  return at;
}
