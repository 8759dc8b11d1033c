/**
 * Issue 7: the appliance install. `make install-files` into a temporary DESTDIR
 * must lay out the application, config, units and rules; the unit must pass
 * `systemd-analyze verify` and score <= 2.0 in `systemd-analyze security`;
 * `make uninstall` must take it all away again.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, statSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

function need(cmd: string, pkg: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`]);
  if (r.status !== 0) throw new Error(`${cmd} is missing: apt-get install ${pkg}`);
}

t.test('make install into DESTDIR, verify the unit, uninstall', async (t) => {
  need('systemd-analyze', 'systemd');
  if (!existsSync(join(root, 'dist/src/bin/scardgated.js'))) {
    throw new Error('dist/ is not built: run `make build` (make test does it) before this test');
  }
  const dest = mkdtempSync(join(tmpdir(), 'scardgate-install-'));
  t.teardown(() => rmSync(dest, { recursive: true, force: true }));
  const make = (target: string) =>
    execFileSync('make', ['--no-print-directory', target, `DESTDIR=${dest}`, 'PREFIX=/usr', 'SYSCONFDIR=/etc'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  make('install-files');
  const expectFiles = [
    'usr/bin/scardgated',
    'usr/bin/scardctl',
    'usr/lib/scardgate/dist/src/bin/scardgated.js',
    'usr/lib/scardgate/dist/src/bin/scardctl.js',
    'usr/lib/scardgate/package.json',
    'usr/lib/scardgate/node_modules/pino/package.json',
    'etc/scardgate/scardgate.yaml',
    'usr/lib/systemd/system/scardgate.service',
    'usr/lib/udev/rules.d/60-scardgate.rules',
    'usr/lib/tmpfiles.d/scardgate.conf',
    'usr/lib/sysusers.d/scardgate.conf',
    'usr/share/doc/scardgate/README.md',
  ];
  for (const f of expectFiles) t.ok(existsSync(join(dest, f)), `installed ${f}`);
  t.notOk(existsSync(join(dest, 'usr/lib/scardgate/node_modules/tap')), 'dev dependencies are not installed');
  t.notOk(existsSync(join(dest, 'usr/lib/scardgate/dist/test')), 'tests are not installed');
  t.equal(statSync(join(dest, 'usr/bin/scardgated')).mode & 0o777, 0o755, 'scardgated is executable');
  t.equal(statSync(join(dest, 'etc/scardgate')).mode & 0o777, 0o750, '/etc/scardgate is 0750');
  t.equal(statSync(join(dest, 'etc/scardgate/scardgate.yaml')).mode & 0o777, 0o640, 'config is 0640');

  const unit = readFileSync(join(dest, 'usr/lib/systemd/system/scardgate.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/bin\/scardgated --config \/etc\/scardgate\/scardgate\.yaml$/m, 'ExecStart points at the installed daemon and config');
  t.match(unit, /^Type=notify$/m);
  t.match(unit, /^User=scardgate$/m, 'runs as the dedicated user');
  t.notMatch(unit, /@[A-Z]+@/, 'every placeholder was filled in');

  // The installed wrapper really starts the installed daemon.
  const ver = spawnSync(join(dest, 'usr/bin/scardgated'), ['--version'], { encoding: 'utf8' });
  t.equal(ver.status, 0, `installed scardgated --version runs: ${ver.stderr}`);
  t.match(ver.stdout, /\d+\.\d+\.\d+/);

  // verify needs the ExecStart binary on this host; point a copy of the unit at DESTDIR.
  const probe = join(dest, 'scardgate.service');
  writeFileSync(probe, unit.replaceAll('/usr/bin/scardgated', join(dest, 'usr/bin/scardgated')));
  const verify = spawnSync('systemd-analyze', ['verify', probe], { encoding: 'utf8' });
  t.equal(verify.status, 0, `systemd-analyze verify is clean: ${verify.stderr}`);
  t.equal(verify.stderr.trim(), '', 'verify printed no warning');

  const sec = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', probe], { encoding: 'utf8' });
  const m = /Overall exposure level for [^:]+: (\d+(?:\.\d+)?)/.exec(sec.stdout + sec.stderr);
  t.ok(m, 'systemd-analyze security printed an exposure level');
  const exposure = m ? Number(m[1]) : Infinity;
  t.comment(`systemd-analyze security exposure: ${exposure}`);
  t.ok(exposure <= 2.0, `exposure ${exposure} <= 2.0`);

  make('uninstall');
  const left: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p !== probe) left.push(p.slice(dest.length + 1));
    }
  };
  walk(dest);
  t.same(left, [], 'uninstall removed every installed file (an unmodified config too)');
});

t.test('uninstall keeps a configuration the technician changed', async (t) => {
  const dest = mkdtempSync(join(tmpdir(), 'scardgate-install-'));
  t.teardown(() => rmSync(dest, { recursive: true, force: true }));
  const args = [`DESTDIR=${dest}`, 'PREFIX=/usr', 'SYSCONFDIR=/etc'];
  execFileSync('make', ['--no-print-directory', 'install-files', ...args], { cwd: root, stdio: 'ignore' });
  const cfg = join(dest, 'etc/scardgate/scardgate.yaml');
  writeFileSync(cfg, readFileSync(cfg, 'utf8') + '\n# changed on site\n');
  execFileSync('make', ['--no-print-directory', 'uninstall', ...args], { cwd: root, stdio: 'ignore' });
  t.ok(existsSync(cfg), 'modified config kept');
  t.notOk(existsSync(join(dest, 'usr/bin/scardgated')), 'application removed');
});
