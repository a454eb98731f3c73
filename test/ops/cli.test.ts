// Operating Petrel like nats-server: flags, -t, exit codes, signals, reload, lame duck, ports file.
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, startServer, tempDir } from '../support/server.ts';
import type { RunningServer } from '../support/server.ts';
import { RawClient } from '../support/raw.ts';

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, out: stdout + stderr });
    });
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

describe('command line', () => {
  it('-t checks a good config and says so', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ok.conf');
    fs.writeFileSync(file, 'port: 4333\nauthorization { token: "x" }\n');
    const r = await run(['-t', '-c', file]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`configuration file ${file} test is successful`);
  });

  it('a bad config fails with exit 1 naming file, line and key', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.conf');
    fs.writeFileSync(file, 'port: 4333\nmax_payload: "lots"\n');
    const r = await run(['-t', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${file}:2`);
    expect(r.out).toContain('max_payload');
  });

  it('a syntax error fails with exit 1 and the position', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'syntax.conf');
    fs.writeFileSync(file, 'port: 4333\nauthorization {\n  token: "x"\n');
    const r = await run(['-c', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(file);
  });

  it('an unknown flag fails with exit 1 and usage', async () => {
    const r = await run(['--definitely-not-a-flag']);
    expect(r.code).toBe(1);
    expect(r.out.toLowerCase()).toContain('usage');
  });

  it('--version prints a nats-server style version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^nats-server: v2\.\d+\.\d+/);
  });

  it('starts from Go-style single-dash flags and writes the ports file', async () => {
    srv = await startServer({ args: ['-DV', '-n', 'flagged', '--no_advertise'] });
    const { c, info } = await RawClient.open(srv.port);
    expect(info.server_name).toBe('flagged');
    c.close();
  });
});

describe('test-launcher configs', () => {
  it('starts from the config the nats.js test launcher writes, warning about the block not served yet', async () => {
    const dir = tempDir();
    srv = await startServer({
      dir,
      config: [
        'server_tags: ["a", "b"]',
        'leafnodes {',
        '  listen: "127.0.0.1:-1"',
        '}',
        'websocket {',
        '  port: -1',
        '  no_tls: true',
        '}',
      ].join('\n'),
    });
    const { c, info } = await RawClient.open(srv.port);
    expect(info.headers).toBe(true);
    c.send('CONNECT {}\r\n');
    await c.flush();
    c.close();
    // Leaf nodes are served; websocket is not yet.
    expect(srv.output()).toMatch(/Listening for leafnode connections on 127\.0\.0\.1:\d+/);
    expect(srv.output()).not.toMatch(/'leafnodes' block is parsed and validated, but not served/);
    expect(srv.output()).toMatch(/'websocket' block is parsed and validated, but not served/);
  });
});

describe('signals and lifecycle', () => {
  it('SIGTERM stops gracefully with exit 0 and removes the ports and pid files', async () => {
    const dir = tempDir();
    const pidFile = path.join(dir, 'petrel.pid');
    srv = await startServer({ dir, config: `pid_file: "${pidFile}"` });
    expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(srv.pid));
    const code = await srv.stop();
    expect(code).toBe(0);
    expect(fs.existsSync(pidFile)).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'ports'))).toEqual([]);
  });

  it('restarts on the same ports after SIGKILL', async () => {
    const first = await startServer({});
    const port = first.port;
    await first.kill();
    srv = await startServer({ dir: first.dir, port });
    expect(srv.port).toBe(port);
  });

  it('SIGHUP reloads authorization: new credentials work, revoked clients are cut', async () => {
    const dir = tempDir();
    srv = await startServer({ dir, config: 'authorization { token: "old" }' });
    const { c: old } = await RawClient.open(srv.port);
    old.send('CONNECT {"auth_token":"old"}\r\n');
    await old.flush();
    const text = fs.readFileSync(srv.configFile, 'utf8').replace('token: "old"', 'token: "new"');
    fs.writeFileSync(srv.configFile, text);
    srv.signal('SIGHUP');
    await old.expect(/-ERR 'Authorization Violation'\r\n/);
    await old.whenClosed();
    const { c: fresh } = await RawClient.open(srv.port);
    fresh.send('CONNECT {"auth_token":"new"}\r\n');
    await fresh.flush();
    fresh.close();
  });

  it('-sl reload=<pid> reaches a running server', async () => {
    const dir = tempDir();
    srv = await startServer({ dir, config: 'max_payload: 1KB' });
    fs.writeFileSync(srv.configFile, fs.readFileSync(srv.configFile, 'utf8').replace('max_payload: 1KB', 'max_payload: 2KB'));
    const r = await run(['-sl', `reload=${srv.pid}`]);
    expect(r.code).toBe(0);
    await until(async () => {
      const v = await fetch(`http://127.0.0.1:${srv!.httpPort}/varz`).then((x) => x.json() as Promise<any>);
      return v.max_payload === 2048;
    }, 'max_payload to become 2KB');
  });

  it('a reload that changes the port is refused and the server keeps running', async () => {
    srv = await startServer({ config: 'max_payload: 1KB' });
    fs.writeFileSync(srv.configFile, fs.readFileSync(srv.configFile, 'utf8').replace('port: -1', 'port: 1'));
    srv.signal('SIGHUP');
    await until(() => /reload not supported for: port/.test(srv!.output()), 'the refusal in the log');
    const { c } = await RawClient.open(srv.port);
    c.send('CONNECT {}\r\n');
    await c.flush();
    c.close();
  });

  it('a reload that changes the cluster block is refused with the key that changed', async () => {
    srv = await startServer({ config: 'cluster { name: east, listen: "127.0.0.1:-1" }' });
    fs.writeFileSync(srv.configFile, fs.readFileSync(srv.configFile, 'utf8').replace('name: east', 'name: west'));
    srv.signal('SIGHUP');
    await until(() => /reload not supported for: cluster name \(old=east, new=west\)/.test(srv!.output()), 'the refusal in the log');
    const { c } = await RawClient.open(srv.port);
    c.send('CONNECT {}\r\n');
    await c.flush();
    c.close();
  });

  it('SIGUSR1 reopens the log file', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'petrel.log');
    srv = await startServer({ dir, config: `log_file: "${log}"` });
    await until(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('Server is ready'), 'log file');
    fs.renameSync(log, `${log}.1`);
    srv.signal('SIGUSR1');
    await until(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('Reopened log file'), 'reopened log');
  });

  it('SIGUSR2 enters lame duck: clients are told (ldm), closed, and the server exits 0', async () => {
    srv = await startServer({ config: 'lame_duck_duration: "30s"\nlame_duck_grace_period: "100ms"' });
    const { c } = await RawClient.open(srv.port);
    c.send('CONNECT {}\r\n');
    await c.flush();
    srv.signal('SIGUSR2');
    const m = await c.expect(/INFO (\{.*\})\r\n/);
    expect(JSON.parse(m[1]!).ldm).toBe(true);
    await c.whenClosed();
    expect(await srv.waitExit()).toBe(0);
    await expect(RawClient.connect(srv.port)).rejects.toThrow();
  });

  it('never logs passwords or tokens', async () => {
    srv = await startServer({ args: ['-DV'], config: 'authorization { users: [ { user: u, password: "hunter2-secret" } ] }' });
    const { c } = await RawClient.open(srv.port);
    c.send('CONNECT {"user":"u","pass":"hunter2-secret"}\r\n');
    await c.flush();
    c.send('CONNECT {"user":"u","pass":"wrong-secret-xyz"}\r\n');
    c.close();
    await srv.stop();
    expect(srv.output()).not.toContain('hunter2-secret');
    expect(srv.output()).not.toContain('wrong-secret-xyz');
  });
});
