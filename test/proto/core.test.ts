// Raw-bytes protocol tests: every client op and the error texts nats-server sends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { RawClient } from '../support/raw.ts';

for (const workers of [1, 2]) {
  describe(`core protocol (workers: ${workers})`, () => {
    let srv: RunningServer;
    const open: RawClient[] = [];
    const client = async (connect = '{"verbose":false,"pedantic":false,"headers":true,"protocol":1}') => {
      const { c, info } = await RawClient.open(srv.port);
      open.push(c);
      if (connect) c.send(`CONNECT ${connect}\r\n`);
      return { c, info };
    };

    beforeAll(async () => {
      srv = await startServer({ workers, config: 'max_payload: 1024\nmax_subscriptions: 5' });
    });
    afterAll(async () => {
      for (const c of open) c.close();
      await srv.stop();
    });

    it('sends INFO with nats-server fields first', async () => {
      const { info } = await client(null as unknown as string);
      expect(info.server_id).toMatch(/^N[A-Z2-7]{55}$/);
      expect(info.version).toMatch(/^2\.\d+\.\d+/);
      expect(info.proto).toBe(1);
      expect(info.headers).toBe(true);
      expect(info.max_payload).toBe(1024);
      expect(info.port).toBe(srv.port);
      expect(typeof info.client_id).toBe('number');
      expect(info.client_ip).toBe('127.0.0.1');
      expect(info.auth_required).toBeUndefined();
    });

    it('answers +OK in verbose mode and PONG to PING', async () => {
      const { c } = await client('{"verbose":true}');
      await c.expect(/^\+OK\r\n/);
      c.send('SUB foo 1\r\n');
      await c.expect(/^\+OK\r\n/);
      c.send('PING\r\n');
      await c.expect(/^PONG\r\n/);
    });

    it('delivers PUB as MSG, with reply subject, and HPUB as HMSG', async () => {
      const { c: sub } = await client();
      sub.send('SUB orders.> 7\r\n');
      await sub.flush();
      const { c: pub } = await client();
      pub.send('PUB orders.us.created 5\r\nhello\r\nPUB orders.eu _INBOX.x 3\r\nabc\r\n');
      pub.send('HPUB orders.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n');
      await pub.flush();
      await sub.expect(/^MSG orders\.us\.created 7 5\r\nhello\r\n/);
      await sub.expect(/^MSG orders\.eu 7 _INBOX\.x 3\r\nabc\r\n/);
      await sub.expect(/^HMSG orders\.h 7 12 14\r\nNATS\/1\.0\r\n\r\nhi\r\n/);
    });

    it('matches * and > wildcards exactly', async () => {
      const { c: sub } = await client();
      sub.send('SUB a.* 1\r\nSUB a.> 2\r\nSUB a.b.c 3\r\n');
      await sub.flush();
      const { c: pub } = await client();
      pub.send('PUB a.b 1\r\nx\r\nPUB a.b.c 1\r\ny\r\nPUB b.c 1\r\nz\r\n');
      await pub.flush();
      const got: string[] = [];
      for (let i = 0; i < 4; i++) {
        const m = await sub.expect(/^MSG (\S+) (\d+) 1\r\n(.)\r\n/);
        got.push(`${m[1]}:${m[2]}:${m[3]}`);
      }
      expect(got.sort()).toEqual(['a.b.c:2:y', 'a.b.c:3:y', 'a.b:1:x', 'a.b:2:x']);
      expect(await sub.flush()).toBe('');
    });

    it('auto-unsubscribes after UNSUB max', async () => {
      const { c } = await client();
      c.send('SUB m 9\r\nUNSUB 9 2\r\n');
      for (let i = 0; i < 4; i++) c.send(`PUB m 1\r\n${i}\r\n`);
      const before = await c.flush();
      expect(before).toBe('MSG m 9 1\r\n0\r\nMSG m 9 1\r\n1\r\n');
    });

    it('honours echo:false', async () => {
      const { c } = await client('{"echo":false}');
      c.send('SUB e 1\r\nPUB e 1\r\nx\r\n');
      expect(await c.flush()).toBe('');
    });

    it('replies Invalid Subject to a bad SUB and keeps the connection', async () => {
      const { c } = await client();
      c.send('SUB foo..bar 1\r\n');
      await c.expect(/^-ERR 'Invalid Subject'\r\n/);
      expect(await c.flush()).toBe('');
    });

    it('replies Invalid Publish Subject in pedantic mode', async () => {
      const { c } = await client('{"pedantic":true}');
      c.send('SUB x.* 1\r\nPUB x.* 1\r\na\r\n');
      await c.expect(/^-ERR 'Invalid Publish Subject'\r\n/);
      expect(await c.flush()).toBe('');
    });

    it('closes on an unknown operation with the nats-server text', async () => {
      const { c } = await client();
      c.send('FOO bar\r\n');
      await c.expect(/^-ERR 'Unknown Protocol Operation'\r\n/);
      await c.whenClosed();
    });

    it('closes on a payload above max_payload', async () => {
      const { c } = await client();
      c.send('PUB big 2048\r\n');
      await c.expect(/^-ERR 'Maximum Payload Violation'\r\n/);
      await c.whenClosed();
    });

    it('limits subscriptions per connection', async () => {
      const { c } = await client();
      for (let i = 0; i < 6; i++) c.send(`SUB s.${i} ${i}\r\n`);
      await c.expect(/^-ERR 'maximum subscriptions exceeded'\r\n/);
    });

    it('answers a no-responders request with a 503 status message', async () => {
      const { c } = await client('{"headers":true,"no_responders":true,"protocol":1}');
      c.send('SUB _INBOX.r.* 1\r\nPUB nobody.home _INBOX.r.1 2\r\nhi\r\n');
      await c.expect(/^HMSG _INBOX\.r\.1 1 16 16\r\nNATS\/1\.0 503\r\n\r\n\r\n/);
    });

    it('refuses no_responders without headers', async () => {
      const { c } = await client('{"headers":false,"no_responders":true}');
      await c.expect(/^-ERR 'no responders requires headers support'\r\n/);
      await c.whenClosed();
    });

    it('gives each queue group message to exactly one member', async () => {
      const members: RawClient[] = [];
      for (let i = 0; i < 3; i++) {
        const { c } = await client();
        c.send('SUB work workers 1\r\n');
        await c.flush();
        members.push(c);
      }
      const { c: mon } = await client();
      mon.send('SUB work 1\r\n');
      await mon.flush();
      const { c: pub } = await client();
      for (let i = 0; i < 30; i++) pub.send(`PUB work 2\r\n${String(i).padStart(2, '0')}\r\n`);
      await pub.flush();
      // Barrier through every member so everything sent is delivered.
      const seen: string[] = [];
      for (const m of members) {
        const text = await m.flush();
        for (const x of text.matchAll(/MSG work 1 2\r\n(\d\d)\r\n/g)) seen.push(x[1]!);
      }
      let monCount = 0;
      while (monCount < 30) {
        await mon.expect(/^MSG work 1 2\r\n\d\d\r\n/);
        monCount++;
      }
      expect(seen.sort()).toEqual(Array.from({ length: 30 }, (_, i) => String(i).padStart(2, '0')));
    });

    it('makes a SUB visible node-wide once its PING is answered', async () => {
      // Across many fresh connections (spread over the workers) the PONG barrier must hold every time.
      for (let i = 0; i < 10; i++) {
        const { c: sub } = await client();
        sub.send(`SUB barrier.${i} 1\r\n`);
        await sub.flush();
        const { c: pub } = await client();
        pub.send(`PUB barrier.${i} 2\r\nok\r\n`);
        await pub.flush();
        await sub.expect(/^MSG barrier\.\d+ 1 2\r\nok\r\n/);
        sub.close();
        pub.close();
      }
    });
  });
}
