/**
 * simulate/pinpad: a technician types on an emulated reader's PIN pad through
 * the gateway while a PC/SC program waits in VERIFY_PIN_DIRECT. The real
 * daemon with an emulated Gemalto Ezio Shield (drivers.ccid.emulate), pyscard
 * on its pcsc socket, the real scardctl; then the HTTP route, what happens
 * with no prompt, the PIN's absence from logs, answers and events, and the
 * refusals (no PIN pad, a reader nobody emulates).
 */
import t from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { FEATURE, PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { featureIoctl } from '../../drivers/ccid/slot.js';
import { CcidDriver } from '../../drivers/ccid/index.js';
import { EmulatedUsbBinding } from '../../emulators/ccid/binding.js';
import { ResourceManager } from '../../src/core/index.js';
import { GatewayApi } from '../../src/gateway/api.js';
import { ControlClient } from '../../src/cli/client.js';
import { runScardctl, type Finished } from '../helpers/process.js';
import { startDaemon } from '../helpers/daemon.js';
import { waitFor, WaitTimeout } from '../helpers/wait-for.js';
import { requireTool } from '../pcsc/helpers/clients.js';
import { startTestGateway, Client } from '../http/harness.js';
import { ccidConfig, hex, modifyStructure, rig, verifyStructure } from './helpers.js';

const PY = join(dirname(fileURLToPath(import.meta.url)), 'clients', 'ccid_pinpad.py');
const V = FEATURE.VERIFY_PIN_DIRECT;

/** Digits that appear nowhere else in a log (not 1234): the card's PIN, and a wrong one. */
const PIN = '480371';
const WRONG = '905162';
const CARD = { type: 'iso7816', pins: [{ ref: 0x81, pin: PIN }] };
/** Anywhere they could show: as typed, as the ASCII bytes of the VERIFY the pad builds. */
const leaks = (text: string): string[] =>
  [PIN, WRONG, Buffer.from(PIN).toString('hex'), Buffer.from(WRONG).toString('hex')].filter((s) => text.toLowerCase().includes(s));

type Answer = { rv?: number; out?: string; missing?: boolean; error?: string };

/** ccid_pinpad.py kept open: one operation in, its answer out, so a control can wait on the pad while we type. */
function pyscard(env: NodeJS.ProcessEnv): { ask(op: object, what: string): Promise<Answer>; end(): Promise<number> } {
  const proc: ChildProcessWithoutNullStreams = spawn('/usr/bin/python3', [PY], { env });
  let buf = '';
  let err = '';
  const lines: string[] = [];
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number>((resolve) => proc.on('close', (c) => resolve(c ?? -1)));
  return {
    async ask(op, what) {
      proc.stdin.write(`${JSON.stringify(op)}\n`);
      const line = await waitFor(() => lines.shift() ?? (proc.exitCode !== null ? `{"error":"exited ${proc.exitCode}: ${err.replace(/"/g, "'")}"}` : undefined), what, 20000);
      return JSON.parse(line) as Answer;
    },
    async end() {
      proc.stdin.end();
      return closed;
    },
  };
}

/** The real scardctl executable, `input` on its stdin. */
const scardctl = (args: string[], input = ''): Promise<Finished> => runScardctl(args, { input });

t.test('the daemon: pyscard waits in VERIFY_PIN_DIRECT, scardctl pinpad types on the emulated pad', async (t) => {
  requireTool('/usr/bin/python3', 'python3');
  requireTool('/usr/lib/python3/dist-packages/smartcard/scard', 'python3-pyscard');
  const d = await startDaemon({
    services: ['pcsc'],
    config: { drivers: { ccid: { emulate: [{ profile: 'ezio-pinpad', cards: [{ card: CARD }] }, { profile: 'omnikey-class', cards: [{ card: 'iso7816' }] }] } } },
  });
  t.teardown(() => d.stop());
  const S = ['--socket', d.controlSocket];
  const ctl = await ControlClient.connect(d.controlSocket);
  t.teardown(() => ctl.close());
  type R = { name: string; atr: string | null; capabilities: { pinpad: boolean; simulate: boolean } };
  const readers = await waitFor(
    async () => {
      const list = await ctl.request<R[] | { readers: R[] }>('readers', {});
      const rs = Array.isArray(list) ? list : list.readers;
      return rs.filter((r) => r.name.startsWith('Gemalto Ezio') || r.name.includes('OMNIKEY')).every((r) => r.atr) && rs.some((r) => r.name.startsWith('Gemalto Ezio')) ? rs : undefined;
    },
    'the emulated Ezio Shield with its card',
  );
  const pad = readers.find((r) => r.name.startsWith('Gemalto Ezio'))!;
  t.equal(pad.name, 'Gemalto Ezio Shield (EZIOEMU1) 00 00');
  t.match(pad.capabilities, { simulate: true, pinpad: true }, 'the pad reader offers simulate/pinpad');
  t.equal(readers.find((r) => r.name.startsWith('Simulated Contact Reader A'))?.capabilities.pinpad, false, 'a sim reader does not');

  const py = pyscard({ ...process.env, PCSCLITE_CSOCK_NAME: (d.config.pcsc as { socket: string }).socket });
  const verify = { reader: pad.name, feature: V, data: verifyStructure(30).toString('hex') };

  // The program prompts; the technician types from stdin (the PIN is not on the command line).
  let answer = py.ask(verify, 'VERIFY_PIN_DIRECT answer (right PIN)');
  const right = await scardctl([...S, 'pinpad', 'Ezio', '-'], `${PIN}\n`);
  t.equal(right.code, 0, right.stderr);
  t.equal(right.stdout, 'PIN typed on Gemalto Ezio Shield (EZIOEMU1) 00 00\n');
  t.same(await answer, { rv: 0, out: '9000' }, 'right PIN typed through scardctl: the card answers 90 00');

  answer = py.ask(verify, 'VERIFY_PIN_DIRECT answer (wrong PIN)');
  const wrong = await scardctl([...S, '--json', 'pinpad', 'Ezio', WRONG]);
  t.equal(wrong.code, 0, wrong.stderr);
  t.same(JSON.parse(wrong.stdout), { reader: pad.name, entered: 'pin' }, 'the answer says what was pressed, not the digits');
  t.same(await answer, { rv: 0, out: '63c2' }, 'wrong PIN (the argument form): 63 C2, two tries left');

  answer = py.ask(verify, 'VERIFY_PIN_DIRECT answer (Cancel)');
  const cancel = await scardctl([...S, 'pinpad', 'Ezio', '--cancel']);
  t.equal(cancel.code, 0, cancel.stderr);
  t.equal(cancel.stdout, 'Cancel pressed on Gemalto Ezio Shield (EZIOEMU1) 00 00\n');
  t.same(await answer, { rv: 0, out: '6401' }, 'Cancel on the pad: 64 01, as the driver answers a cancelled entry');
  t.equal(await py.end(), 0, 'pyscard released its card and context');

  const omnikey = await scardctl([...S, 'pinpad', 'OMNIKEY', '-'], `${PIN}\n`);
  t.equal(omnikey.code, 1);
  t.match(omnikey.stderr, /^scardctl: SCARD_E_UNSUPPORTED_FEATURE: .*reader "[^"]*OMNIKEY[^"]*" has no emulated PIN pad \(driver ccid\)/);
  const sim = await scardctl([...S, 'pinpad', 'Contact Reader A', '--cancel']);
  t.equal(sim.code, 1);
  t.match(sim.stderr, /SCARD_E_UNSUPPORTED_FEATURE: .*reader "Simulated Contact Reader A[^"]*" has no emulated PIN pad \(driver sim\)/);

  for (const [what, text] of [['scardctl output', right.stdout + right.stderr + wrong.stdout + wrong.stderr + omnikey.stderr], ['the daemon log (debug level)', d.logs.raw]] as const) {
    t.same(leaks(text), [], `no PIN in ${what}`);
  }
  t.ok(d.logs.lines.some((l) => l.msg === 'PIN pad keys pressed' && l.level === 'debug'), 'the calls were logged at debug level, without the digits');
});

t.test('HTTP: POST /api/readers/:name/simulate/pinpad; no prompt: E_TIMEOUT and nothing kept; the PIN in no log, answer or event', async (t) => {
  const g = await startTestGateway({ config: { drivers: { ccid: { emulate: [{ profile: 'ezio-pinpad', cards: [{ card: CARD }] }] } } } });
  t.teardown(() => g.stop());
  const core = g.gw.core;
  const c = new Client(g.url);
  await c.login();
  const pad = (await waitFor(() => core.readers().find((r) => r.name.startsWith('Gemalto Ezio') && r.atr.length > 0), 'the Ezio Shield with its card')).name;
  const url = `/api/readers/${encodeURIComponent(pad)}/simulate/pinpad`;
  const ctx = core.establishContext('t');
  const { handle } = await core.connect(ctx, pad, SHARE.SHARED, PROTOCOL.ANY);
  const ioctl = featureIoctl(V);

  let verifying = core.control(handle, ioctl, verifyStructure(30));
  const ok = await c.req('POST', url, { pin: PIN });
  t.equal(ok.status, 200, ok.text);
  t.same(ok.json, { reader: pad, entered: 'pin' });
  t.same(await verifying, hex('9000'), 'right PIN over HTTP: 90 00');
  verifying = core.control(handle, ioctl, verifyStructure(30));
  t.equal((await c.req('POST', url, { pin: WRONG })).status, 200);
  t.same(await verifying, hex('63C2'), 'wrong PIN: 63 C2');
  verifying = core.control(handle, ioctl, verifyStructure(30));
  t.same((await c.req('POST', url, { cancel: true })).json, { reader: pad, entered: 'cancel' });
  t.same(await verifying, hex('6401'), 'Cancel: 64 01');

  // Keys with no prompt showing: refused once the wait is over, and not kept for the next program's prompt.
  const early = await c.req('POST', url, { pin: PIN, waitMs: 0 });
  t.equal(early.status, 504);
  t.match(early.json, { name: 'SCARD_E_TIMEOUT', message: /reader "Gemalto Ezio Shield \(EZIOEMU1\) 00 00" showed no PIN prompt within 0 ms: .*nothing was kept/ });
  t.same(await core.control(handle, ioctl, verifyStructure(1)), hex('6400'), 'the next prompt gets nothing typed: it times out (64 00)');

  const bad: Array<[unknown, RegExp]> = [
    [{}, /needs either "pin" \(the digits\) or "cancel": true/],
    [{ pin: PIN, cancel: true }, /needs either "pin" \(the digits\) or "cancel": true/],
    [{ pin: '48a371' }, / pin: must match pattern/],
    [{ pin: 480371 }, /pin: must be string, got number/],
    [{ cancel: false }, /cancel: /],
  ];
  for (const [body, re] of bad) {
    const r = await c.req('POST', url, body);
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.json.message, re, JSON.stringify(body));
    t.notOk(r.text.includes('48a371') || r.text.includes('480371'), 'the refusal does not quote the PIN');
  }
  const simA = core.readers().find((r) => r.name.startsWith('Sim A'))!.name;
  const noPad = await c.req('POST', `/api/readers/${encodeURIComponent(simA)}/simulate/pinpad`, { pin: PIN });
  t.equal(noPad.status, 501);
  t.match(noPad.json, { name: 'SCARD_E_UNSUPPORTED_FEATURE', message: /reader "Sim A[^"]*" has no emulated PIN pad/ });

  // A frontend that logged the parameters as they came would still not show the PIN: "pin" is a redacted field.
  g.gw.context.log.debug({ op: 'simulate/pinpad', params: { reader: pad, pin: PIN } }, 'parameters as received');
  const lines = g.ring.tail();
  const logged = lines.find((l) => l.includes('parameters as received'));
  t.match(logged, /"pin":"\[redacted\]"/, 'the field "pin" is redacted by the logger');
  t.ok(lines.some((l) => l.includes('PIN pad keys pressed') && l.includes('"level":"debug"')), 'the calls were logged at debug level');
  const events = await c.req('GET', '/api/events?limit=1000');
  t.equal(events.status, 200);
  for (const [what, text] of [['the log', lines.join('\n')], ['the events', events.text], ['the answers', ok.text + early.text + noPad.text]] as const) t.same(leaks(text), [], `no PIN in ${what}`);
  await core.disconnect(handle, 0);
  await core.releaseContext(ctx);
});

/** What a host without emulation sees: USB devices, no simulation (the libusb binding has none). */
class UsbOnly extends EmulatedUsbBinding {
  override simulation(): undefined {
    return undefined;
  }
}

t.test('a reader nobody emulates: even with a PIN pad, its keys cannot be pressed from the gateway', async (t) => {
  const log = pino({ level: 'silent' });
  const bus = new UsbOnly();
  const core = new ResourceManager({ transmitTimeoutMs: 10000, log });
  await core.addDriver(new CcidDriver(ccidConfig(), { log }, { binding: bus }));
  const api = new GatewayApi({ core, log, gatewayId: 't', version: '0', startedAt: new Date() });
  t.teardown(async () => {
    await api.close();
    await core.stop();
  });
  bus.add('ezio-pinpad').insert('iso7816');
  const r = await waitFor(() => core.readers().find((x) => x.atr.length > 0), 'the Ezio Shield with its card');
  t.match(r.capabilities, { simulate: false, pinpad: false }, 'neither simulate nor pinpad offered');
  const err = await api.call('simulate/pinpad', { reader: 'Ezio', pin: PIN }, { owner: 't' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(err, { code: SCARD.E_UNSUPPORTED_FEATURE, message: /reader "Gemalto Ezio Shield \(EZIOEMU1\) 00 00" is not emulated: nobody can press its keys from here \(driver ccid\)/ });
  t.notOk(err instanceof WaitTimeout);
});

t.test('MODIFY_PIN_DIRECT: three prompts, each entry typed through the gateway as the pad asks for it', async (t) => {
  const r = await rig();
  const api = new GatewayApi({ core: r.core, log: pino({ level: 'silent' }), gatewayId: 't', version: '0', startedAt: new Date() });
  t.teardown(async () => {
    await api.close();
    await r.close();
  });
  const dev = r.bus.add('ezio-pinpad');
  dev.insert('iso7816'); // PIN 1234
  const name = (await waitFor(() => r.core.readers().find((x) => x.atr.length > 0), 'the Ezio Shield with its card')).name;
  const ctx = r.core.establishContext('t');
  const { handle } = await r.core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  const modifying = r.core.control(handle, featureIoctl(FEATURE.MODIFY_PIN_DIRECT), modifyStructure(30));
  // One call per prompt, as a technician answers each: current PIN, new PIN, the new one again.
  for (const pin of ['1234', '5678', '5678']) t.same(await api.call('simulate/pinpad', { reader: 'Ezio', pin }, { owner: 't' }), { reader: name, entered: 'pin' });
  t.same(await modifying, hex('9000'), 'CHANGE REFERENCE DATA with the three entries: 90 00');
  t.equal(dev.pinpad.counters.prompts, 3, 'three prompts');
  t.equal(dev.pinpad.pending, 0, 'every entry taken by its prompt');
  const verifying = r.core.control(handle, featureIoctl(V), verifyStructure(30));
  await api.call('simulate/pinpad', { reader: 'Ezio', pin: '5678' }, { owner: 't' });
  t.same(await verifying, hex('9000'), 'the new PIN verifies');
  await r.core.disconnect(handle, 0);
  await r.core.releaseContext(ctx);
});
