import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.ts';
import { USAGE, parseFlags } from '../../../src/config/flags.ts';

describe('parseFlags', () => {
  it('takes one or two dashes, with = or a separate value', () => {
    for (const argv of [['-p', '4333'], ['--port', '4333'], ['-p=4333'], ['--port=4333'], ['-port', '4333']]) {
      expect(parseFlags(argv).port).toBe(4333);
    }
  });
  it('reads every spelling of the server flags', () => {
    const f = parseFlags([
      '-a', '127.0.0.1', '-n', 'srv', '-P', '/tmp/p.pid', '-m', '8222', '-ms', '8443', '-l', '/tmp/log',
      '--client_advertise', 'h:1', '--ports_file_dir', '/tmp/ports', '--max_payload', '2048', '--no_advertise',
      '--user', 'u', '--pass', 'p', '--auth', 'tok', '--cluster', 'nats://0.0.0.0:6222', '--routes', 'nats://a:1',
      '--cluster_name', 'c1', '--workers', '3', '--pretty',
    ]);
    expect(f).toMatchObject({
      host: '127.0.0.1', serverName: 'srv', pidFile: '/tmp/p.pid', httpPort: 8222, httpsPort: 8443, logFile: '/tmp/log',
      clientAdvertise: 'h:1', portsFileDir: '/tmp/ports', maxPayload: 2048, noAdvertise: true, user: 'u', pass: 'p',
      auth: 'tok', cluster: 'nats://0.0.0.0:6222', routes: 'nats://a:1', clusterName: 'c1', workers: 3, pretty: true,
    });
    expect(parseFlags(['--addr', 'x']).host).toBe('x');
    expect(parseFlags(['--net', 'y']).host).toBe('y');
    expect(parseFlags(['--name', 'a']).serverName).toBe('a');
    expect(parseFlags(['--server_name', 'b']).serverName).toBe('b');
    expect(parseFlags(['--pid', 'f']).pidFile).toBe('f');
    expect(parseFlags(['--http_port', '1']).httpPort).toBe(1);
    expect(parseFlags(['--log', 'l']).logFile).toBe('l');
  });
  it('treats -DV, -DVV and -VV as whole flags', () => {
    expect(parseFlags(['-DV'])).toMatchObject({ debug: true, trace: true });
    expect(parseFlags(['-DVV'])).toMatchObject({ debug: true, trace: true });
    expect(parseFlags(['-VV'])).toMatchObject({ trace: true });
    expect(parseFlags(['-VV']).debug).toBeUndefined();
    expect(parseFlags(['-D', '-V'])).toMatchObject({ debug: true, trace: true });
    expect(parseFlags(['-DV=false'])).toMatchObject({ debug: false, trace: false });
  });
  it('treats -js and -sd as whole flags', () => {
    expect(parseFlags(['-js', '-sd', './data'])).toMatchObject({ jetstream: true, storeDir: './data' });
    expect(parseFlags(['--jetstream', '--store_dir=/d'])).toMatchObject({ jetstream: true, storeDir: '/d' });
  });
  it('reads booleans as Go does: -T=false, -D=1, -tls=f', () => {
    expect(parseFlags(['-T=false']).logtime).toBe(false);
    expect(parseFlags(['-T']).logtime).toBe(true);
    expect(parseFlags(['--logtime=FALSE']).logtime).toBe(false);
    expect(parseFlags(['-D=1']).debug).toBe(true);
    expect(parseFlags(['--tls=f']).tls).toBe(false);
    expect(() => parseFlags(['-D=maybe'])).toThrow('invalid boolean value "maybe" for -D: parse error');
  });
  it('records how each flag was spelled', () => {
    const f = parseFlags(['--port', '1', '-DV', '-c=x.conf']);
    expect(f.spelledAs).toEqual({ port: '--port', debug: '-DV', trace: '-DV', config: '-c' });
  });
  it('splits -sl <command>=<pid|pidfile>', () => {
    expect(parseFlags(['-sl=reload=123']).signal).toEqual({ command: 'reload', pid: '123' });
    expect(parseFlags(['--signal', 'ldm=/var/run/nats.pid']).signal).toEqual({ command: 'ldm', pid: '/var/run/nats.pid' });
    expect(parseFlags(['-sl', 'stop']).signal).toEqual({ command: 'stop' });
    expect(() => parseFlags(['-sl', 'explode'])).toThrow('unknown signal "explode"');
    expect(() => parseFlags(['-sl=reload=1=2'])).toThrow('invalid signal parameters: [2]');
  });
  it('reads -c, -t, -h, -v and the version/help words', () => {
    expect(parseFlags(['-c', 'a.conf', '-t'])).toMatchObject({ config: 'a.conf', testConfig: true });
    expect(parseFlags(['-h']).help).toBe(true);
    expect(parseFlags(['--help']).help).toBe(true);
    expect(parseFlags(['-v']).version).toBe(true);
    expect(parseFlags(['version']).version).toBe(true);
    expect(parseFlags(['-p', '1', 'help']).help).toBe(true);
  });
  it('accepts TLS flags', () => {
    expect(parseFlags(['--tls', '--tlscert', 'c', '--tlskey', 'k', '--tlscacert', 'ca', '--tlsverify'])).toMatchObject({
      tls: true, tlsCert: 'c', tlsKey: 'k', tlsCaCert: 'ca', tlsVerify: true,
    });
  });
  it('accepts nats-server flags Petrel ignores', () => {
    const f = parseFlags(['--profile', '6060', '-s', '--logtime_utc']);
    expect(f.ignored).toEqual(['--profile', '--logtime_utc']);
    expect(f.syslog).toBe(true);
  });
  it('stops at -- and treats a bool followed by a word as a command', () => {
    expect(() => parseFlags(['-D', 'true'])).toThrow('unrecognized command: "true"');
    expect(parseFlags(['-D', '--', 'version']).version).toBe(true);
  });
  it.each([
    [['-x'], 'flag provided but not defined: -x'],
    [['--bogus=1'], 'flag provided but not defined: -bogus'],
    [['-p'], 'flag needs an argument: -p'],
    [['-p', 'abc'], 'invalid value "abc" for flag -p: parse error'],
    [['---p'], 'bad flag syntax: ---p'],
    [['-=1'], 'bad flag syntax: -=1'],
  ])('rejects %j with usage', (argv, message) => {
    let caught: unknown;
    try {
      parseFlags(argv);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(message);
    expect((caught as ConfigError).usage).toBe(USAGE);
  });
  it('has a usage text listing the flags', () => {
    expect(USAGE).toMatch(/Usage: nats-server \[options\]/);
    for (const flag of ['--addr', '-js, --jetstream', '-sd, --store_dir', '-sl,--signal', '--workers']) expect(USAGE).toContain(flag);
  });
  it('lists every cluster flag nats-server 2.9 prints, and parses each', () => {
    const cluster = USAGE.slice(USAGE.indexOf('Cluster Options:'), USAGE.indexOf('Common Options:'));
    const names = ['--routes', '--cluster', '--cluster_name', '--no_advertise', '--cluster_advertise', '--connect_retries', '--cluster_listen'];
    for (const flag of names) expect(cluster).toMatch(new RegExp(`^ +${flag} `, 'm'));
    const parsed = parseFlags(['--cluster_listen', 'nats://h:1', '--cluster_advertise', 'a:2', '--connect_retries', '3']);
    expect(parsed).toMatchObject({ cluster: 'nats://h:1', clusterAdvertise: 'a:2', connectRetries: 3 });
  });
});
