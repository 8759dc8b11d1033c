/**
 * Debian's libpcsclite clients through our pcsc socket see CCID readers on
 * the emulated USB bus: an ACR1252U (PICC + SAM interfaces), an OMNIKEY-class
 * contact reader at extended APDU level, and a TPDU-level reader with a T=0
 * and a T=1 card. The same APDUs give the same answers on every reader.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireTool, Watched } from '../pcsc/helpers/clients.js';
import { socketRig, until, type SocketRig } from './helpers.js';

const run = promisify(execFile);
const PY = join(dirname(fileURLToPath(import.meta.url)), 'clients', 'ccid_pyscard.py');

const APDUS = ['00A4040C0AF0736361726467617465', '00B0000000', '00B0830000', '0020008104 31323334', '00CA010000', '00FF000000'].map((s) => s.replace(/ /g, ''));

type Gateway = SocketRig;
const gateway = socketRig;

/** Plugged one after the other, so instance numbers follow this order. */
async function plugAll(g: Gateway): Promise<void> {
  const step = async (n: number, what: string) => until(() => g.core.readers().length === n && g.core.readers().every((r) => r.atr.length > 0), what);
  const acr = g.bus.add('acr1252u', { serialNumber: 'SN1252' });
  acr.insert({ type: 'iso14443-4', uid: '04A1B2C3D4E5F6' }, { interface: 0 });
  acr.insert('iso7816', { interface: 1 });
  await step(2, 'ACR1252U with its cards');
  g.bus.add('omnikey-class').insert('iso7816');
  await step(3, 'OMNIKEY-class reader with its card');
  g.bus.add('gempc-twin', { serialNumber: 'T0' }).insert('iso7816-t0');
  await step(4, 'TPDU reader with a T=0 card');
  g.bus.add('gempc-twin', { serialNumber: 'T1' }).insert('iso7816-t1-tpdu');
  await step(5, 'TPDU reader with a T=1 card');
}

const NAMES = [
  'ACS ACR1252 Dual Reader [ACR1252 Dual Reader PICC] (SN1252) 00 00',
  'ACS ACR1252 Dual Reader [ACR1252 Dual Reader SAM] (SN1252) 01 00',
  'HID Global OMNIKEY 3x21 Smart Card Reader [OMNIKEY 3x21 Smart Card Reader] (OKEMU0001) 02 00',
  'Gemalto USB GemPC Twin (T0) 03 00',
  'Gemalto USB GemPC Twin (T1) 04 00',
];

t.test('opensc-tool lists the CCID readers and gets the same answers from each contact reader', async (t) => {
  requireTool('/usr/bin/opensc-tool', 'opensc');
  const g = await gateway(t);
  await plugAll(g);
  const opensc = async (...args: string[]) => (await run('opensc-tool', args, { env: g.env, timeout: 30000 })).stdout;
  const list = await opensc('-l');
  NAMES.forEach((n, i) => t.match(list, new RegExp(`${i}\\s+Yes\\s+${n.replace(/[()[\]]/g, '\\$&')}`), `reader ${i} listed with its card`));
  const answers: string[] = [];
  for (const i of [1, 2, 3, 4]) {
    const out = await opensc('-r', String(i), ...APDUS.flatMap((a) => ['-s', a]));
    const received = out.split('\n').filter((l) => /^Received|^[0-9A-F]{2} /.test(l)).join('\n');
    t.match(received, /SW1=0x90, SW2=0x00/, `reader ${i}: SELECT answered 9000`);
    answers.push(received);
  }
  t.ok(answers.every((a) => a === answers[0]), 'SAM (short APDU), OMNIKEY (extended APDU), TPDU T=0 and TPDU T=1: identical answers');
  const uid = await opensc('-r', '0', '-s', 'FFCA000000');
  t.match(uid, /04 A1 B2 C3 D4 E5 F6/, 'part 3 GET DATA on the PICC interface');
  t.equal(g.server.diagnostics().protocolErrors, 0);
});

t.test('pcsc_scan sees the readers, a contactless card coming and going, and a reader plugged later', async (t) => {
  requireTool('/usr/bin/pcsc_scan', 'pcsc-tools');
  const g = await gateway(t);
  const acr = g.bus.add('acr1252u', { serialNumber: 'SN1252' });
  await until(() => g.core.readers().length === 2, 'ACR1252U listed');
  const scan = new Watched('pcsc_scan', ['-n'], g.env);
  t.teardown(() => scan.stop());
  let at = await scan.waitFor(/Reader 1: ACS ACR1252 Dual Reader \[ACR1252 Dual Reader SAM\] \(SN1252\) 01 00/);
  at = await scan.waitFor(/Card state: Card removed/, at);
  acr.insert({ type: 'iso14443-4', uid: '04A1B2C3D4E5F6' }, { interface: 0 });
  at = await scan.waitFor(/Reader 0: ACS ACR1252 Dual Reader \[ACR1252 Dual Reader PICC\] \(SN1252\) 00 00\s+Event number: 1\s+Card state: Card inserted/, at);
  at = await scan.waitFor(/ATR: 3B 8[0-9A-F]/, at);
  acr.remove({ interface: 0 });
  at = await scan.waitFor(/Event number: 2\s+Card state: Card removed/, at);
  // libpcsclite notices a new reader only while a client waits for a change (test/pcsc/helpers/sim-gateway.ts).
  while ((g.server.diagnostics().waiting as number) < 1) await new Promise((r) => setTimeout(r, 5));
  g.bus.add('gempc-twin', { serialNumber: 'LATE' });
  await scan.waitFor(/Reader 2: Gemalto USB GemPC Twin \(LATE\) 02 00/, at);
});

t.test('pyscard: connect and transmit on the OMNIKEY, the TPDU readers and the SAM: same answers', async (t) => {
  requireTool('/usr/bin/python3', 'python3');
  requireTool('/usr/lib/python3/dist-packages/smartcard/scard', 'python3-pyscard');
  const g = await gateway(t);
  await plugAll(g);
  const proc = spawn('/usr/bin/python3', [PY, NAMES[1], NAMES[2], NAMES[3], NAMES[4]], { env: g.env });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += String(d)));
  proc.stderr.on('data', (d) => (err += String(d)));
  proc.stdin.end(APDUS.join('\n') + '\n');
  const code = await new Promise<number>((resolve) => proc.on('close', (c) => resolve(c ?? -1)));
  t.equal(code, 0, `pyscard script ran (${err})`);
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { readers?: string[]; reader?: string; protocol?: number; answers?: string[] });
  t.same(lines[0].readers, NAMES, 'pyscard lists the five readers');
  const results = lines.slice(1);
  t.same(results.map((l) => l.reader), NAMES.slice(1));
  t.same(results.map((l) => l.protocol), [2, 2, 1, 2], 'T=1, T=1, T=0 (TPDU), T=1 (TPDU)');
  t.equal(results[0].answers![0], '9000');
  t.ok(results.every((l) => JSON.stringify(l.answers) === JSON.stringify(results[0].answers)), 'identical answers at every exchange level');
});
