// scardctl end to end against the real daemon process over the control
// socket: the real scardctl executable for listing, watching and exit codes,
// the same code in process (cliMain) for the other cases (a process start per
// case would only add minutes); and every kind of bad argument.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { REPO_ROOT, startDaemon } from '../helpers/daemon.js';
import { runScardctl, type Finished } from '../helpers/process.js';
import { waitFor } from '../helpers/wait-for.js';
import { cliMain } from '../../src/cli/main.js';

const scardctl = (args: string[], env: Record<string, string> = {}): Promise<Finished> => runScardctl(args, { env: { ...process.env, ...env } });

/** In-process run for argument checks (no process start-up per case). */
async function run(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: Readable): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write: (c, _e, cb) => (f(c.toString()), cb()) });
  const code = await cliMain(args, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, stdin: stdin as unknown as NodeJS.ReadStream | undefined });
  return { code, stdout, stderr };
}

t.test('against a running daemon', async (t) => {
  const d = await startDaemon();
  t.teardown(() => d.stop());
  const S = ['--socket', d.controlSocket];

  t.test('readers', async (t) => {
    const r = await scardctl([...S, 'readers']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^1: Simulated Contact Reader A/m);
    t.match(r.stdout, /card iso7816-t0, ATR 3B/);
    t.match(r.stdout, /Simulated Empty Reader.*\n {4}no card/);
    t.match(r.stdout, /UID [0-9A-F]+/);
    const j = await run([...S, '--json', 'readers']);
    t.equal(JSON.parse(j.stdout).length, 4);
  });

  t.test('send prints responses with decoded status words, PIN redacted', async (t) => {
    const r = await run([...S, 'send', 'Contact Reader B', '00A4000C023F00', '00 20 00 81 08 31 32 33 34 FF FF FF FF', '00A4040007A0000000041010']);
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    t.match(lines[0], /^Simulated Contact Reader B .*\(T=1\)$/);
    t.equal(lines[1], '> 00 A4 00 0C 02 3F 00');
    t.equal(lines[2], '< 90 00  (9000 success)');
    t.equal(lines[3], '> 00 20 00 81 08 <8 bytes redacted>');
    t.match(lines[4], /^< 63 C\d {2}\(63C\d verification failed, \d retr(y|ies) left/);
    t.equal(lines[6], '< 6A 82  (6A82 file or application not found)');
    t.notOk(r.stdout.includes('31 32 33 34'), 'the PIN is not echoed');
    t.notOk(d.logs.raw.includes('31 32 33 34') || d.logs.raw.includes('31323334'), 'nor in the daemon log');
  });

  t.test('script: APDUs from a file with expected status words, reset, PIN redacted; stops at the first surprise', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'scardctl-script-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'check.apdu');
    writeFileSync(
      file,
      [
        '# select the MF, verify the PIN, check that a reset forgets it',
        '00 A4 00 0C 02 3F 00 = 9000',
        '00 20 00 81 04 31 32 33 34 = 9000               # VERIFY 1234',
        '00 20 00 81 00 = 9000                            # verified: no tries left to ask for',
        'reset',
        '00 20 00 81 00 = 63CX                            # after the reset, tries left',
        '',
      ].join('\n'),
    );
    const r = await scardctl([...S, 'script', 'Contact Reader B', file]);
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    t.match(lines[0], /^Simulated Contact Reader B .*\(T=1\), ATR 3B/);
    t.same(lines.filter((l) => l.startsWith('< ')).map((l) => l.replace(/^< .*\((\w{4}) .*$/, '$1')), ['9000', '9000', '9000', '63C3'], 'each status word, in order');
    t.match(r.stdout, /\n-- reset, ATR 3B/, 'the reset is shown with the ATR after it');
    t.match(r.stdout, /> 00 20 00 81 04 <4 bytes redacted>/, 'the VERIFY is redacted');
    t.notOk(r.stdout.includes('31 32 33 34'), 'the PIN is not echoed');
    t.notOk(d.logs.raw.includes('31 32 33 34') || d.logs.raw.includes('31323334'), 'nor in the daemon log');

    // from stdin, and a status word that is not the one expected: exit 1 naming the line, nothing after it runs
    const stdin = Readable.from(['00A4000C023F00\n', '00A4000C027F7F = 9000\n', '00A4000C023F00 = 9000\n']);
    const bad = await run([...S, 'script', 'Contact Reader B', '-'], {}, stdin);
    t.equal(bad.code, 1, 'exit 1 when the card answers otherwise');
    t.match(bad.stderr, /script line 2: expected 9000, the card answered 6A82 \(file or application not found\); stopped there/);
    t.equal(bad.stdout.split('\n').filter((l) => l.startsWith('> ')).length, 2, 'the line after the surprise is not sent');
    const j = await run([...S, '--json', 'script', 'Contact Reader B', '-'], {}, Readable.from(['00A4000C023F00 = 90XX\n']));
    t.equal(j.code, 0, j.stderr);
    t.match(JSON.parse(j.stdout), { ok: true, steps: [{ line: 1, expected: '90XX', met: true, exchange: { sw: '9000' } }] });

    // a bad script is refused before the card is touched, naming the line
    for (const [text, msg] of [
      ['00A4000C023F00\n00 A4 0G\n', /script: line 2: .*invalid hex/],
      ['00A4000C023F00 = 90\n', /script: line 1: expected status word "90" is not four hex digits/],
      ['# nothing\nreset\n', /script: no APDU in the script/],
      ['00A4000C023F00 = 9000 = 9000\n', /line 1: more than one "="/],
    ] as const) {
      const e = await run([...S, 'script', 'Contact Reader B', '-'], {}, Readable.from([text]));
      t.equal(e.code, 2, `refused: ${JSON.stringify(text)}`);
      t.match(e.stderr, msg);
    }
    const missing = await run([...S, 'script', 'Contact Reader B', join(dir, 'nope')]);
    t.equal(missing.code, 2);
    t.match(missing.stderr, /script: cannot read .*nope: ENOENT/);
  });

  t.test('insert, remove and watch', async (t) => {
    const w = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, join(REPO_ROOT, 'src/bin/scardctl.ts'), ...S, 'watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (re: RegExp): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (re.test(out)) {
            w.stdout.off('data', check);
            resolve();
          }
        };
        w.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          check();
        });
        check();
      });
    await seen(/waiting for events/);
    t.match(out, /readers:\n1: Simulated Contact Reader A/);
    const ins = await run([...S, 'insert', 'Empty', 'iso7816']);
    t.equal(ins.code, 0, ins.stderr);
    t.match(ins.stdout, /^card inserted in Simulated Empty Reader/);
    await seen(/card inserted: Simulated Empty Reader.*\n {4}card iso7816/);
    const rem = await run([...S, 'remove', 'Empty']);
    t.equal(rem.code, 0, rem.stderr);
    await seen(/card removed: Simulated Empty Reader/);
    const spec = await run([...S, 'insert', 'Empty', '{"type":"mifare-classic-1k"}']);
    t.equal(spec.code, 0, spec.stderr);
    await seen(/card inserted: Simulated Empty Reader.*\n.*mifare-classic-1k/);
    w.kill('SIGINT');
    const code = await new Promise((r) => w.on('close', r));
    t.equal(code, 0, 'watch ends cleanly on Ctrl-C');
  });

  t.test('diag', async (t) => {
    const r = await run([...S, 'diag']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /gatewayId: test-gw/);
    t.match(r.stdout, /control:\n {2}socket: /);
  });

  t.test('errors from the daemon: exit 1 with its message', async (t) => {
    const r = await run([...S, 'send', 'nosuch', '00A40000']);
    t.equal(r.code, 1);
    t.match(r.stderr, /^scardctl: SCARD_E_UNKNOWN_READER: .*no reader matches "nosuch" \(readers: 1: /);
    await run([...S, 'remove', 'Empty']);
    const e = await run([...S, 'send', 'Empty', '00A40000']);
    t.equal(e.code, 1);
    t.match(e.stderr, /^scardctl: SCARD_[EW]_\w+: /);
    const sock = await run([...S, 'readers'], { SCARDGATE_CONTROL_SOCKET: '/nonexistent' });
    t.equal(sock.code, 0, '--socket wins over SCARDGATE_CONTROL_SOCKET');
    const viaEnv = await run(['readers'], { SCARDGATE_CONTROL_SOCKET: d.controlSocket });
    t.equal(viaEnv.code, 0, 'SCARDGATE_CONTROL_SOCKET is used');
  });
});

t.test('events: the recorded history, oldest first, with sequence numbers; none without a journal', async (t) => {
  const d = await startDaemon({ services: ['http'] });
  t.teardown(() => d.stop());
  const S = ['--socket', d.controlSocket];
  const empty = await run([...S, 'events']);
  t.equal(empty.code, 0, empty.stderr);
  t.match(empty.stdout, /^no events recorded in that range\n$/, 'a fresh gateway: the readers it started with are no news');
  t.equal((await run([...S, 'insert', 'Empty Reader', '{"type":"mifare-classic-1k","uid":"0A0B0C0D"}'])).code, 0);
  t.equal((await run([...S, 'remove', 'Empty Reader'])).code, 0);
  const got = await waitFor(
    async () => {
      const r = await run([...S, 'events', '--last', '2']);
      return r.stdout.includes('card.removed') ? r : undefined;
    },
    'the removal in scardctl events',
    10_000,
  );
  const lines = got.stdout.trim().split('\n');
  t.equal(lines.length, 2, got.stdout);
  t.match(lines[0], /^(\d+) \d{4}-\d\d-\d\dT[\d:.]+Z card\.inserted Simulated Empty Reader .*: mifare-classic-1k, UID 0A0B0C0D$/);
  t.match(lines[1], /^\d+ .* card\.removed Simulated Empty Reader .*: mifare-classic-1k, UID 0A0B0C0D, present \d+\.\d s$/);
  const seq = Number(lines[0].split(' ')[0]);
  const after = await run([...S, '--json', 'events', '--after', String(seq)]);
  t.match(JSON.parse(after.stdout), [{ seq: seq + 1, type: 'card.removed', data: { uid: '0A0B0C0D' } }], '--after: only what came after');
  t.equal((await run([...S, 'events', '--after', String(seq + 1)])).stdout, 'no events recorded in that range\n');

  const lean = await startDaemon();
  t.teardown(() => lean.stop());
  const none = await run(['--socket', lean.controlSocket, 'events']);
  t.equal(none.code, 1, 'exit 1 without a journal');
  t.match(none.stderr, /SCARD_E_NO_SERVICE.*the event journal is not running/);
});

t.test('no daemon: exit 1 saying so', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scardctl-'));
  const r = await run(['--socket', join(dir, 'none.sock'), 'readers']);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot connect to the control socket .*none\.sock: no such socket \(is scardgated running\?/);
});

t.test('bad arguments: a usage error naming the problem, exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['frobnicate'], /unknown command "frobnicate" \(commands: readers, watch, events, send, script, insert, remove, pinpad, diag/],
    [['--bogus', 'readers'], /unknown option "--bogus"/],
    [['--socket'], /--socket needs a socket path/],
    [['readers', 'extra'], /readers: unexpected argument "extra" \(usage: scardctl readers\)/],
    [['send'], /send: missing <reader> \(usage: scardctl send <reader> <hex APDU>\.\.\.\)/],
    [['send', '0'], /send: missing <hex APDU>\.\.\./],
    [['send', '0', '00A4zz00'], /send: APDU 1 \("00A4zz00"\): invalid hex character "z" at position 4/],
    [['send', '0', '00A40000', '00A'], /send: APDU 2 \("00A"\): odd number of hex digits/],
    [['send', '0', '00A4'], /send: APDU 1 \("00A4"\): .*APDU too short/],
    [['send', '0', '00A4000005AABB'], /send: APDU 1 .*Lc=5/],
    [['insert', 'r'], /insert: missing <card-type>/],
    [['events', '--last', '0'], /events: --last needs a whole number of at least 1, not "0"/],
    [['events', '--after'], /events: --after needs a whole number, not ""/],
    [['events', '--last', '3', '--after', '9'], /events: --last and --after do not go together/],
    [['events', 'everything'], /events: unexpected argument "everything"/],
    [['insert', 'r', '{bad json'], /insert: card spec is not valid JSON/],
    [['remove'], /remove: missing <reader>/],
    [['remove', 'a', 'b'], /remove: unexpected argument "b"/],
    [['pinpad', 'r'], /pinpad: missing -\|<digits>\|--cancel \(usage: scardctl pinpad <reader> -\|<digits>\|--cancel\)/],
    [['pinpad', 'r', '48a371'], /pinpad: the PIN must be 1 to 16 digits 0-9/],
    [['pinpad', 'r', '12345678901234567'], /pinpad: the PIN must be 1 to 16 digits 0-9/],
    [['pinpad', 'r', '1234', 'x'], /pinpad: unexpected argument "x"/],
  ];
  for (const [args, re] of cases) {
    const r = await run(['--socket', '/nonexistent/never-used', ...args]);
    t.equal(r.code, 2, `exit 2: ${args.join(' ')}`);
    t.match(r.stderr, re, args.join(' '));
    if (args[0] === 'pinpad') t.notOk(r.stderr.includes('48a371') || r.stderr.includes('12345678901234567'), 'a refused PIN is not echoed');
    t.match(r.stderr, /Try 'scardctl --help'/);
  }
  const real = await scardctl(['send', '0', 'xyz']);
  t.equal(real.code, 2, 'the real executable exits 2 too');
  t.match(real.stderr, /send: APDU 1 \("xyz"\): invalid hex character/);
  const version = await run(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /^scardctl \d+\.\d+\.\d+\n$/);
  const help = await run(['--help']);
  t.equal(help.code, 0);
  for (const c of ['readers', 'watch', 'send <reader> <hex APDU>...', 'insert <reader> <card-type>', 'remove <reader>', 'pinpad <reader> -|<digits>|--cancel', 'diag']) t.match(help.stdout, c);
  const wide = help.stdout.split('\n').filter((l) => l.length > 80);
  t.same(wide, [], 'the help fits an 80-column terminal');
  t.match(help.stdout, /\n {2}fleet --broker URL .*\n {6}\[--password-file FILE/, 'a long usage goes on, indented, on the next line');
});
