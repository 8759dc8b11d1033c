/**
 * The install steps as the README gives them, on a DESTDIR tree:
 * `make install-files`, `systemd-sysusers --root`, `systemd-tmpfiles --create
 * --root`; then the installed daemon run as the scardgate user (setpriv, the
 * uid and gid sysusers chose) reads its configuration, starts, says READY on
 * a NOTIFY_SOCKET and stops cleanly. Catches a config the service user cannot
 * read, state or socket directories it cannot write, anything that needs root.
 */
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/daemon.js';
import { LogCapture } from '../helpers/log-capture.js';
import { NotifyListener } from './notify-listener.js';

function need(cmd: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) throw new Error(`${cmd} is missing: apt-get install ${pkg}`);
}

function idOf(file: string, name: string): number {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`${name} not in ${file}`);
  return Number(line.split(':')[2]);
}

t.test('after sysusers and tmpfiles, the scardgate user runs the installed daemon on the installed config', async (t) => {
  need('systemd-sysusers', 'systemd');
  need('systemd-tmpfiles', 'systemd');
  need('setpriv', 'util-linux');
  if (process.getuid?.() !== 0) throw new Error('this test installs into a DESTDIR and switches users: run it as root');
  const dest = mkdtempSync(join(tmpdir(), 'scardgate-perm-'));
  t.teardown(() => rmSync(dest, { recursive: true, force: true }));
  chmodSync(dest, 0o755); // the service user walks into the tree, as it would walk into /usr
  const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  run('make', ['--no-print-directory', 'install-files', `DESTDIR=${dest}`, 'PREFIX=/usr', 'SYSCONFDIR=/etc']);
  run('systemd-sysusers', [`--root=${dest}`, join(dest, 'usr/lib/sysusers.d/scardgate.conf')]);
  run('systemd-tmpfiles', [`--root=${dest}`, '--create', join(dest, 'usr/lib/tmpfiles.d/scardgate.conf')]);

  const uid = idOf(join(dest, 'etc/passwd'), 'scardgate');
  const gid = idOf(join(dest, 'etc/group'), 'scardgate');
  const members = (g: string): string[] => (readFileSync(join(dest, 'etc/group'), 'utf8').split('\n').find((l) => l.startsWith(`${g}:`)) ?? '').split(':')[3]?.split(',') ?? [];
  t.ok(members('dialout').includes('scardgate'), 'scardgate is in dialout (serial readers)');
  t.ok(members('plugdev').includes('scardgate'), 'scardgate is in plugdev (USB readers)');

  const etc = statSync(join(dest, 'etc/scardgate'));
  const cfg = statSync(join(dest, 'etc/scardgate/scardgate.yaml'));
  t.same([etc.uid, etc.gid, etc.mode & 0o777], [0, gid, 0o750], '/etc/scardgate: root:scardgate 0750');
  t.same([cfg.uid, cfg.gid, cfg.mode & 0o777], [0, gid, 0o660], 'scardgate.yaml: root:scardgate 0660 (read, and saved by the web UI)');
  for (const d of ['run/scardgate', 'var/lib/scardgate']) {
    const st = statSync(join(dest, d));
    t.same([st.uid, st.gid, st.mode & 0o777], [uid, gid, 0o750], `/${d}: scardgate:scardgate 0750`);
  }

  // What systemd gives a service: a clean environment (`env -i`: the test runner adds NODE_OPTIONS to every child it spawns).
  const asService = (vars: Record<string, string>): string[] => [
    '-i',
    `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`,
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    'setpriv', '--reuid', String(uid), '--regid', String(gid), '--clear-groups',
    join(dest, 'usr/bin/scardgated'),
  ];
  const check = spawnSync('env', [...asService({}), '--check-config', join(dest, 'etc/scardgate/scardgate.yaml')], { encoding: 'utf8' });
  t.equal(check.stderr, '', 'no warning');
  t.equal(check.stdout, 'ok\n', `the service user reads the installed config: ${check.stderr}`);

  // The real run: appliance config, state and sockets in the tmpfiles-made directories of the tree, ports moved off the host's.
  const notifyDir = join(dest, 'notify');
  mkdirSync(notifyDir);
  const listener = await NotifyListener.start(join(notifyDir, 'notify.sock'));
  t.teardown(() => listener.close());
  chmodSync(join(notifyDir, 'notify.sock'), 0o666); // like /run/systemd/notify: any service may send
  const env = {
    NOTIFY_SOCKET: join(notifyDir, 'notify.sock'),
    SCARDGATE_STATE_DIR: join(dest, 'var/lib/scardgate'),
    SCARDGATE_CONTROL_SOCKET: join(dest, 'run/scardgate/scardgate.ctl'),
    SCARDGATE_PCSC_SOCKET: join(dest, 'run/scardgate/pcscd.comm'),
    SCARDGATE_HTTP_PORT: '0',
    SCARDGATE_MQTT_EMBEDDED_PORT: '0',
  };
  const proc = spawn('env', [...asService(env), '--config', join(dest, 'etc/scardgate/scardgate.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = new LogCapture();
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => logs.push(d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  t.teardown(() => proc.kill('SIGKILL'));

  const ready = await Promise.race([
    listener.waitFor((n) => n.fields.READY === '1', 'READY=1 from the daemon run as scardgate', 30000),
    exited.then((code) => {
      throw new Error(`the daemon exited (${code}) before READY=1: ${stderr}\n${logs.raw}`);
    }),
  ]);
  t.equal(ready.pid, proc.pid, 'READY=1 from the main pid (env, setpriv and the wrapper each exec the next)');
  t.match(ready.fields.STATUS, /^0 readers, 0 cards; MQTT (connected|disconnected)/);
  t.ok(logs.find((l) => l.msg === 'ready'), 'ready line');
  t.equal(statSync(join(dest, 'run/scardgate/scardgate.ctl')).uid, uid, 'the control socket belongs to the service user');
  t.notOk(logs.find((l) => l.level === 'error' || l.level === 'fatal'), `no error lines: ${logs.lines.filter((l) => l.level === 'error').map((l) => l.msg).join('; ')}`);
  proc.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: exit 0');
});
