// The real daemon process: start on simulated readers, ready line, control
// socket, clean stop on SIGTERM/SIGINT, SIGHUP reload, refusal of bad configs
// and bad arguments.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify, parse } from 'yaml';
import { startDaemon, runDaemonCommand } from '../helpers/daemon.js';
import { ControlClient } from '../../src/cli/client.js';
import { Writable } from 'node:stream';
import { main } from '../../src/daemon/main.js';

/** scardgated's non-running modes in process (check-config, usage, version): same code, no process start per case. */
async function inProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write: (c, _e, cb) => (f(c.toString()), cb()) });
  const code = await main(args, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env });
  return { code, stdout, stderr };
}

t.test('starts on 4 simulated readers, says ready, stops cleanly on SIGTERM', async (t) => {
  const d = await startDaemon();
  t.equal(d.ready.readers, 4);
  t.equal(d.ready.readerNames.length, 4);
  t.ok(d.ready.readerNames.some((n) => n.startsWith('Simulated Contact Reader A')));
  t.equal(d.ready.listen.control, d.controlSocket);
  const st = statSync(d.controlSocket);
  t.ok(st.isSocket(), 'control socket exists');
  t.equal(st.mode & 0o777, 0o660, 'control socket is mode 0660');
  const starting = d.logs.find((l) => l.msg === 'starting');
  t.equal(starting?.gatewayId, 'test-gw');
  t.ok(d.logs.lines.every((l) => typeof l.level === 'string' && typeof l.time === 'string'), 'every line is JSON with level and time');

  const c = await ControlClient.connect(d.controlSocket);
  const ping = await c.request<{ pid: number }>('ping');
  t.equal(ping.pid, d.pid);
  const gone = c.closed();
  const exit = await d.stop();
  t.same(exit, { code: 0, signal: null });
  await gone;
  t.ok(d.logs.find((l) => l.msg === 'stopped'), 'logged "stopped"');
  t.notOk(existsSync(d.controlSocket), 'control socket removed');
});

t.test('SIGINT stops it cleanly too', async (t) => {
  const d = await startDaemon();
  d.proc.kill('SIGINT');
  const exit = await d.exited;
  t.same(exit, { code: 0, signal: null });
  await d.stop();
});

t.test('SIGHUP applies a new log level and refuses an invalid file', async (t) => {
  const d = await startDaemon({ config: { log: { level: 'info' } } });
  t.teardown(() => d.stop());
  const raw = parse(readFileSync(d.configPath, 'utf8'));
  raw.log.level = 'debug';
  writeFileSync(d.configPath, stringify(raw));
  d.proc.kill('SIGHUP');
  const reloaded = await d.logs.waitFor((l) => l.msg === 'configuration reloaded');
  t.same(reloaded.applied, ['log.level']);

  raw.http.port = 'eighty';
  writeFileSync(d.configPath, stringify(raw));
  d.proc.kill('SIGHUP');
  const refused = await d.logs.waitFor((l) => String(l.msg).startsWith('reload refused'));
  t.match(refused.problems, [/^http\.port: wrong type/]);
  const c = await ControlClient.connect(d.controlSocket);
  t.ok(await c.request('ping'), 'still running');
  c.close();
});

t.test('an invalid configuration stops start-up with exit 1 and key paths', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-bad-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, stringify({ http: { port: 70000 }, mqtt: { baseTopik: 'x' }, control: { socket: join(dir, 'c.sock') } }));
  const r = await runDaemonCommand(['--config', file]);
  t.equal(r.code, 1);
  t.match(r.stderr, /http\.port: 70000 is out of range \(expected integer 0\.\.65535\)/);
  t.match(r.stderr, /mqtt\.baseTopik: unknown key/);
  t.notOk(existsSync(join(dir, 'c.sock')), 'nothing was started');
  const env = await runDaemonCommand(['--config', file], { env: { SCARDGATE_HTTP_PORT: 'x' } });
  t.equal(env.code, 1);
  t.match(env.stderr, /SCARDGATE_HTTP_PORT="x": not an integer/);
});

t.test('--check-config: 0 and "ok" when valid, 1 and every problem when not', async (t) => {
  const ok = await runDaemonCommand(['--check-config', 'config/default.yaml']);
  t.equal(ok.code, 0);
  t.equal(ok.stdout, 'ok\n');
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-check-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'log:\n  level: loud\nhttp:\n  port: -1\nfoo: 1\n');
  const r = await inProcess(['--check-config', bad]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /log\.level: "loud" is not allowed \(expected one of: fatal, error, warn, info, debug, trace, silent\)/);
  t.match(r.stderr, /http\.port: -1 is out of range/);
  t.match(r.stderr, /foo: unknown key/);
  const missing = await inProcess(['--check-config', join(dir, 'nope.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /nope\.yaml: file not found/);
  const envBad = await inProcess(['--check-config', 'config/default.yaml'], { SCARDGATE_LOG_LEVEL: 'loud' });
  const realBad = await runDaemonCommand(['--check-config', bad]);
  t.equal(realBad.code, 1, 'the real executable exits 1 too');
  t.match(realBad.stderr, /log\.level: "loud"/);
  t.equal(envBad.code, 1);
  t.match(envBad.stderr, /SCARDGATE_LOG_LEVEL="loud"/);
});

t.test('bad arguments: usage error naming the problem, exit 2', async (t) => {
  for (const [args, msg] of [
    [['--confg', 'x'], /Unknown option '--confg'/],
    [['extra'], /Unexpected argument 'extra'/],
    [['--config'], /--config/],
    [['--check-config', 'a', '--config', 'b'], /do not combine/],
  ] as const) {
    const r = await inProcess([...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, msg, args.join(' '));
    t.match(r.stderr, /Usage: scardgated/);
  }
  const real = await runDaemonCommand(['--confg', 'x']);
  t.equal(real.code, 2, 'the real executable exits 2');
  const v = await runDaemonCommand(['--version']);
  t.equal(v.code, 0);
  t.match(v.stdout, /^scardgated \d+\.\d+\.\d+\n$/);
  const h = await inProcess(['--help']);
  t.equal(h.code, 0);
  t.match(h.stdout, /--check-config FILE/);
});

t.test('a stale control socket is replaced; a live one is not taken over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-stale-'));
  const sock = join(dir, 'ctl.sock');
  // A process that dies without unlinking leaves a stale socket file.
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => holder.stdout.once('data', r));
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  t.ok(statSync(sock).isSocket(), 'stale socket left behind');
  const d = await startDaemon({ config: { control: { socket: sock } } });
  const c = await ControlClient.connect(sock);
  t.ok(await c.request('ping'), 'daemon answers on the replaced socket');
  c.close();

  const second = await runDaemonCommand(['--config', d.configPath], { cwd: d.dir });
  t.equal(second.code, 1, 'a second daemon on the same socket refuses to start');
  t.match(second.stderr, /in use by another running process/);
  const c2 = await ControlClient.connect(sock);
  t.ok(await c2.request('ping'), 'the first daemon still answers');
  c2.close();
  await d.stop();
});
