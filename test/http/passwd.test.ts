/**
 * The password and token commands on a state directory, and the first start
 * of a real daemon process: a random first password in a 0600 file (never in the log), only its hash stored.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { verifyPassword, setPassword, INITIAL_PASSWORD_FILE, PASSWORD_FILE } from '../../src/api/http/auth/password.js';
import { TokenVerifier, TOKENS_FILE } from '../../src/api/http/auth/tokens.js';
import { runNode } from '../helpers/process.js';

const ROOT = process.cwd();

async function run(bin: string, args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const r = await runNode([join(ROOT, 'src', 'bin', bin), ...args], { ts: true, cwd: ROOT, input: stdin });
  return { code: r.code ?? -1, out: r.stdout, err: r.stderr };
}

t.test('scardctl passwd sets a scrypt hash (mode 0600) the daemon verifies', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'scardgate-passwd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await run('scardctl.ts', ['passwd', '--state-dir', dir], 'a-new-long-password\n');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /web UI password changed/);
  const file = join(dir, PASSWORD_FILE);
  t.equal((await stat(file)).mode & 0o777, 0o600);
  const text = await readFile(file, 'utf8');
  t.notMatch(text, /a-new-long-password/, 'only the hash is stored');
  t.match(JSON.parse(text), { scheme: 'scrypt', N: 32768 });
  t.equal(await verifyPassword(dir, 'a-new-long-password'), true);
  t.equal(await verifyPassword(dir, 'a-new-long-passwore'), false);

  const short = await run('scardctl.ts', ['passwd', '--state-dir', dir], 'short\n');
  t.equal(short.code, 2);
  t.match(short.err, /at least 8 characters/);
  t.equal(await verifyPassword(dir, 'a-new-long-password'), true, 'refused change keeps the old password');

  const gen = await run('scardctl.ts', ['--json', 'passwd', '--generate', '--state-dir', dir]);
  t.equal(gen.code, 0, gen.err);
  const { password } = JSON.parse(gen.out) as { password: string };
  t.equal(password.length, 20);
  t.equal(await verifyPassword(dir, password), true);

  const cfgDir = join(dir, 'from-config');
  const cfg = join(dir, 'c.yaml');
  await writeFile(cfg, stringify({ state: { dir: cfgDir } }));
  const viaConfig = await run('scardctl.ts', ['passwd', '--config', cfg], 'config-dir-password\n');
  t.equal(viaConfig.code, 0, viaConfig.err);
  t.equal(await verifyPassword(cfgDir, 'config-dir-password'), true, '--config finds state.dir');
});

t.test('scardctl token create/list/revoke', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'scardgate-token-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const c = await run('scardctl.ts', ['--json', 'token', 'create', 'door-1', '--state-dir', dir]);
  t.equal(c.code, 0, c.err);
  const { token } = JSON.parse(c.out) as { token: string };
  t.match(token, /^sgt_[A-Za-z0-9_-]{43}$/);
  t.equal((await stat(join(dir, TOKENS_FILE))).mode & 0o777, 0o600);
  t.notMatch(await readFile(join(dir, TOKENS_FILE), 'utf8'), token.slice(4));
  t.equal((await new TokenVerifier(dir).verify(token))?.name, 'door-1');
  const dup = await run('scardctl.ts', ['token', 'create', 'door-1', '--state-dir', dir]);
  t.equal(dup.code, 2);
  t.match(dup.err, /already exists/);
  const bad = await run('scardctl.ts', ['token', 'create', 'bad name!', '--state-dir', dir]);
  t.equal(bad.code, 2);
  t.match(bad.err, /token name/);
  const list = await run('scardctl.ts', ['token', 'list', '--state-dir', dir]);
  t.match(list.out, /^door-1\t/);
  t.notMatch(list.out, new RegExp(token.slice(4)));
  t.equal((await run('scardctl.ts', ['token', 'revoke', 'door-1', '--state-dir', dir])).code, 0);
  t.equal(await new TokenVerifier(dir).verify(token), undefined);
  t.equal((await run('scardctl.ts', ['token', 'revoke', 'door-1', '--state-dir', dir])).code, 1);
  const sub = await run('scardctl.ts', ['token', 'frobnicate', '--state-dir', dir]);
  t.equal(sub.code, 2);
  t.match(sub.err, /expected create, list or revoke/);
});

/** Starts scardgated; resolves once "ready" with its URL, the initial-password file its log named (if any), and everything it printed. */
function startDaemon(config: string): Promise<{ url: string; initialFile?: string; output: () => string; stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'bin', 'scardgated.ts'), '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let initialFile: string | undefined;
    let err = '';
    let out = '';
    p.stderr.on('data', (d) => (err += d));
    p.stdout.on('data', (d) => (out += d));
    const stop = () =>
      new Promise<void>((r) => {
        if (p.exitCode !== null) return r();
        p.once('exit', () => r());
        p.kill('SIGTERM');
      });
    p.once('exit', (code) => reject(new Error(`daemon exited ${code}: ${err}`)));
    createInterface({ input: p.stdout }).on('line', (line) => {
      let j: { msg?: string; initialPasswordFile?: string; listen?: { http?: string } };
      try {
        j = JSON.parse(line);
      } catch {
        return;
      }
      if (j.initialPasswordFile) initialFile = j.initialPasswordFile;
      if (j.msg === 'ready') resolve({ url: j.listen?.http ?? '', initialFile, output: () => out + err, stop });
    });
  });
}

t.test('first start: a random password in a file only the service user reads, never in the log; only its hash stored', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'scardgate-first-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'scardgate.yaml');
  await writeFile(
    config,
    stringify({
      state: { dir: join(dir, 'state') },
      control: { socket: join(dir, 'ctl.sock') },
      pcsc: { enabled: false, socket: join(dir, 'pcsc.comm') },
      mqtt: { enabled: false },
      http: { port: 0 },
      drivers: { sim: { readers: [{ name: 'Sim' }] } },
    }),
  );
  const d1 = await startDaemon(config);
  t.teardown(() => d1.stop());
  t.equal(d1.initialFile, join(dir, 'state', INITIAL_PASSWORD_FILE), 'the log names the file');
  t.equal((await stat(d1.initialFile!)).mode & 0o777, 0o600, 'the file is the service user\'s alone');
  const pw = (await readFile(d1.initialFile!, 'utf8')).trim();
  t.ok(pw.length >= 16);
  t.notOk(d1.output().includes(pw), 'the password is nowhere in what the daemon printed (journald)');
  const text = await readFile(join(dir, 'state', PASSWORD_FILE), 'utf8');
  t.notMatch(text, pw, 'state holds the hash only');
  t.equal((await stat(join(dir, 'state', PASSWORD_FILE))).mode & 0o777, 0o600);
  const login = await fetch(d1.url + 'api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: pw }) });
  t.equal(login.status, 200, 'the printed password logs in');
  const cookie = login.headers.getSetCookie()[0].split(';')[0];
  const logs = (await (await fetch(d1.url + 'api/logs?limit=1000', { headers: { cookie } })).json()) as { lines: string[] };
  t.notOk(logs.lines.some((l) => l.includes(pw)), 'the password is not in the logs view');
  await d1.stop();

  const d2 = await startDaemon(config);
  t.teardown(() => d2.stop());
  t.equal(d2.initialFile, undefined, 'no new password on the next start');
  t.equal((await readFile(d1.initialFile!, 'utf8')).trim(), pw, 'the first one still there to read until it is changed');
  await d2.stop();
  await setPassword(join(dir, 'state'), 'a-password-of-my-own');
  await t.rejects(stat(d1.initialFile!), { code: 'ENOENT' }, 'changing the password deletes the clear copy');
});
