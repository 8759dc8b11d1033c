/**
 * Issue 7, the daemon's side of Type=notify, against the real daemon process
 * and a NOTIFY_SOCKET this test listens on (as systemd would): READY=1 only
 * once readers are enumerated and every frontend listens, STATUS=, WATCHDOG=1
 * pings from the daemon's own pid, RELOADING=1/READY=1 around SIGHUP, and
 * SIGTERM -> STOPPING=1, cards unpowered, exit 0.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ControlClient } from '../../src/cli/client.js';
import { startDaemon } from '../helpers/daemon.js';
import { NotifyListener, type Notification } from './notify-listener.js';

/** Resolves true when something accepts a connection on the Unix socket `path`, false when nothing does. */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('READY=1 after readers and frontends, STATUS=, watchdog pings, SIGTERM -> STOPPING=1, cards unpowered, exit 0', async (t) => {
  const dir = tempDir(t);
  const listener = await NotifyListener.start(join(dir, 'notify.sock'));
  t.teardown(() => listener.close());
  const control = join(dir, 'ctl.sock');
  const pcsc = join(dir, 'pcscd.comm');

  // Checked the moment READY=1 arrives: a client started by systemd right after READY must find every socket listening.
  const atReady = listener
    .waitFor((n) => n.fields.READY === '1', 'READY=1', 30000)
    .then(async (n) => ({ n, control: await accepts(control), pcsc: await accepts(pcsc) }));

  // 1 s watchdog: a ping every 500 ms.
  const d = await startDaemon({
    services: ['pcsc'],
    config: { control: { socket: control }, pcsc: { socket: pcsc } },
    env: { NOTIFY_SOCKET: join(dir, 'notify.sock'), WATCHDOG_USEC: '1000000' },
  });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : d.stop().catch(() => undefined)));

  const ready = await atReady;
  t.equal(ready.n.pid, d.pid, 'READY=1 comes from the daemon itself (NotifyAccess=main)');
  t.ok(ready.control, 'the control socket accepts connections when READY=1 arrives');
  t.ok(ready.pcsc, 'the pcsc socket accepts connections when READY=1 arrives');
  t.equal(ready.n.seq, 0, 'READY=1 is the first notification');
  t.match(ready.n.fields.STATUS, /^4 readers, 3 cards; MQTT off; 0 PC\/SC clients, 0 control clients$/, 'STATUS= summarises readers, cards, MQTT and clients');
  t.equal(ready.n.fields.WATCHDOG, '1', 'the first watchdog ping rides with READY=1');
  t.equal(d.ready.readers, 4, 'the ready line counts the same readers');

  const pings = await listener.waitFor((n) => n.fields.WATCHDOG === '1' && n.seq >= 3, 'three more WATCHDOG=1 pings');
  t.ok(pings, 'watchdog pings keep coming');
  t.ok(listener.with('WATCHDOG').every((n) => n.pid === d.pid), 'every ping comes from the daemon pid');

  // Power a card through the control channel, and see STATUS follow a card removal.
  const c = await ControlClient.connect(control);
  const reader = d.ready.readerNames.find((n) => n.startsWith('Simulated Contact Reader B'))!;
  const res = await c.request<{ responses: Array<{ sw: string }> }>('transmit', { reader, apdus: ['00A4000C023F00'] });
  t.match(res.responses, [{ sw: /^[0-9A-F]{4}$/ }], 'an APDU went to the card and got an answer (it is powered now)');
  const contactless = d.ready.readerNames.find((n) => n.startsWith('Simulated Contactless Reader'))!;
  const mark = listener.received.length;
  await c.request('simulate/remove', { reader: contactless });
  const status = await listener.waitFor((n) => /2 cards/.test(n.fields.STATUS ?? ''), 'STATUS= after a card removal', 15000, mark);
  t.match(status.fields.STATUS, /^4 readers, 2 cards;/, 'STATUS= follows card removals');
  c.close();

  const before = listener.received.length;
  d.proc.kill('SIGTERM');
  const stopping = await listener.waitFor((n) => n.fields.STOPPING === '1', 'STOPPING=1', 15000, before);
  t.equal(stopping.pid, d.pid);
  t.match(stopping.fields.STATUS, /stopping \(SIGTERM\)/);
  const exit = await d.exited;
  stopped = true;
  t.same(exit, { code: 0, signal: null }, 'exit code 0');
  const closed = d.logs.find((l) => l.msg === 'readers closed, cards unpowered');
  t.ok(closed, 'logged that readers were closed');
  t.ok((closed?.unpowered as string[]).includes(reader), 'the card powered by the APDU was unpowered');
  t.notOk(d.logs.find((l) => /did not stop within/.test(String(l.msg))), 'nothing hung');
  t.ok(listener.received.filter((n) => n.seq > stopping.seq).every((n) => !('WATCHDOG' in n.fields) && !('READY' in n.fields)), 'no ping or READY after STOPPING=1');
  await d.stop();
});

t.test('SIGHUP: RELOADING=1 then READY=1, and the new log level takes effect', async (t) => {
  const dir = tempDir(t);
  const listener = await NotifyListener.start(join(dir, 'notify.sock'));
  t.teardown(() => listener.close());
  const d = await startDaemon({ config: { log: { level: 'info' } }, env: { NOTIFY_SOCKET: join(dir, 'notify.sock') } });
  await listener.waitFor((n) => n.fields.READY === '1', 'READY=1');
  t.notOk(d.logs.find((l) => l.level === 'debug'), 'no debug line at level info');

  const raw = parse(readFileSync(d.configPath, 'utf8'));
  raw.log.level = 'debug';
  writeFileSync(d.configPath, stringify(raw));
  const mark = listener.received.length;
  d.proc.kill('SIGHUP');
  const reloading = await listener.waitFor((n) => n.fields.RELOADING === '1', 'RELOADING=1', 15000, mark);
  t.match(reloading.fields.MONOTONIC_USEC, /^\d+$/, 'RELOADING=1 carries MONOTONIC_USEC (systemd >= 253 wants it)');
  const again: Notification = await listener.waitFor((n) => n.fields.READY === '1', 'READY=1 after the reload', 15000, reloading.seq + 1);
  t.match(again.fields.STATUS, /^4 readers, 3 cards;/, 'READY=1 again with a fresh STATUS=');
  const reloaded = await d.logs.waitFor((l) => l.msg === 'configuration reloaded');
  t.same(reloaded.applied, ['log.level']);

  // The stop now logs at debug what it stopped: proof that the level changed in the running process.
  await d.stop();
  t.ok(d.logs.find((l) => l.level === 'debug' && l.part === 'service control'), 'debug lines appear after the reload');
});

t.test('SIGHUP restarts a frontend whose section changed and names what needs a daemon restart', async (t) => {
  const dir = tempDir(t);
  const listener = await NotifyListener.start(join(dir, 'notify.sock'));
  t.teardown(() => listener.close());
  const control = join(dir, 'ctl.sock');
  const d = await startDaemon({ services: ['pcsc'], config: { control: { socket: control }, pcsc: { socket: join(dir, 'old.comm') } }, env: { NOTIFY_SOCKET: join(dir, 'notify.sock') } });
  t.teardown(() => d.stop());
  await listener.waitFor((n) => n.fields.READY === '1', 'READY=1');
  const c = await ControlClient.connect(control);
  t.teardown(() => c.close());

  const raw = parse(readFileSync(d.configPath, 'utf8'));
  raw.pcsc.socket = join(dir, 'new.comm');
  raw.core = { ...raw.core, transmitTimeoutMs: 5000 };
  writeFileSync(d.configPath, stringify(raw));
  const mark = listener.received.length;
  d.proc.kill('SIGHUP');
  const reloaded = await d.logs.waitFor((l) => l.msg === 'configuration reloaded');
  t.same(reloaded.restarted, ['pcsc'], 'the pcsc frontend restarted with its new section');
  t.same(reloaded.restartNeeded, ['core'], 'the core needs a daemon restart, and the log says so');
  await listener.waitFor((n) => n.fields.READY === '1', 'READY=1 after the reload', 15000, mark);
  t.ok(await accepts(join(dir, 'new.comm')), 'PC/SC clients find the new socket');
  t.notOk(await accepts(join(dir, 'old.comm')), 'the old one is gone');
  t.ok(await c.request('ping'), 'the control channel connection survived the reload');
});

t.test('SIGTERM during start-up: the start finishes, then everything it opened is closed, exit 0', async (t) => {
  const dir = tempDir(t);
  const listener = await NotifyListener.start(join(dir, 'notify.sock'));
  t.teardown(() => listener.close());
  const control = join(dir, 'ctl.sock');
  const pcsc = join(dir, 'pcscd.comm');
  // startDaemon waits for "ready"; this one is signalled at "starting", while the frontends are still coming up.
  const { spawn } = await import('node:child_process');
  const { REPO_ROOT } = await import('../helpers/daemon.js');
  const cfg = join(dir, 'scardgate.yaml');
  writeFileSync(cfg, stringify({ gatewayId: 'gw', log: { level: 'debug' }, state: { dir: join(dir, 'state') }, control: { socket: control }, pcsc: { socket: pcsc }, mqtt: { enabled: false }, http: { enabled: true, host: '127.0.0.1', port: 0 } }));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, NOTIFY_SOCKET: join(dir, 'notify.sock') };
  const proc = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, join(REPO_ROOT, 'src/bin/scardgated.ts'), '--config', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => proc.kill('SIGKILL'));
  let out = '';
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  await new Promise<void>((resolve) =>
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"starting"')) resolve();
    }),
  );
  proc.kill('SIGTERM');
  t.equal(await exited, 0, 'exit 0');
  const msgs = out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);
  t.ok(msgs.includes('stopped'), 'logged "stopped"');
  t.notOk(msgs.includes('ready'), 'never said ready');
  t.notOk(listener.received.some((n) => n.fields.READY === '1'), 'no READY=1 after STOPPING=1');
  t.ok(listener.received.some((n) => n.fields.STOPPING === '1'), 'STOPPING=1 sent');
  t.notOk(await accepts(control), 'nothing listens on the control socket');
  t.notOk((await import('node:fs')).existsSync(control), 'the control socket file was removed');
  t.notOk((await import('node:fs')).existsSync(pcsc), 'the pcsc socket file was removed');
});

t.test('an abstract NOTIFY_SOCKET (@name) is served too', async (t) => {
  const name = `@scardgate-test-${process.pid}-${Date.now()}`;
  const listener = await NotifyListener.start(name);
  t.teardown(() => listener.close());
  const d = await startDaemon({ env: { NOTIFY_SOCKET: name } });
  t.teardown(() => d.stop());
  const ready = await listener.waitFor((n) => n.fields.READY === '1', 'READY=1 on the abstract socket');
  t.match(ready.fields.STATUS, /^4 readers/);
  // With the compiled addon the datagram leaves the daemon itself; without it systemd-notify carries it, and the log says what that needs.
  const warn = d.logs.find((l) => /abstract NOTIFY_SOCKET/.test(String(l.msg)));
  if (warn) t.match(String(warn.msg), /NotifyAccess=all/, 'the fallback is named with what it needs');
  else t.equal(ready.pid, d.pid, 'sent from the daemon pid');
});

t.test('a NOTIFY_SOCKET that is neither a path nor @name: the daemon runs and logs the problem', async (t) => {
  const d = await startDaemon({ env: { NOTIFY_SOCKET: 'relative/notify.sock' } });
  t.teardown(() => d.stop());
  const warn = d.logs.find((l) => /NOTIFY_SOCKET must be an absolute path/.test(String(l.msg)));
  t.ok(warn, 'the problem is logged with the value');
  t.equal(d.ready.readers, 4, 'and the daemon still comes up');
});
