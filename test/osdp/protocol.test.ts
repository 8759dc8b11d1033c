/**
 * CP and PD engines against each other over an in-memory line: install mode
 * and KEYSET, the secure session, card taps, LED/BUZ, COMSET, a wrong key,
 * ENFORCE_SECURE, repeated commands, broadcast, and 10,000 polls through a
 * line that corrupts 1 % of the bytes.
 */
import t from 'tap';
import { CpBus, type CpPdConfig } from '../../src/osdp/cp.js';
import { memoryLinkPair } from '../../src/osdp/link.js';
import { CMD, NAK, REPLY } from '../../src/osdp/codes.js';
import { encodePacket, decodePacket } from '../../src/osdp/packet.js';
import { decodeCom, encodeBuz, encodeCom, encodeLed } from '../../src/osdp/records.js';
import { decodeCredential } from '../../src/osdp/formats.js';
import { EmulatedPd, type EmulatedPdOptions } from '../../emulators/osdp/pd.js';
import { rng } from '../helpers/prng.js';
import { KEY, OTHER_KEY, waitFor } from './helpers.js';

const FAST = { pollIntervalMs: 2, replyTimeoutMs: 30, retries: 2, offlineAfterMs: 300, reconnectMs: 20 };

function rig(pd: EmulatedPdOptions, cp: Partial<CpPdConfig>, link: Parameters<typeof memoryLinkPair>[0] = {}, timing: Partial<typeof FAST> = {}) {
  const [a, b] = memoryLinkPair({ baudRate: 10_000_000, ...link });
  const emu = new EmulatedPd(b, pd);
  const bus = new CpBus(a, [{ address: pd.address ?? 1, secure: true, ...cp }], { ...FAST, ...timing });
  return { a, b, emu, bus };
}

t.test('install mode: SCBK-D session, KEYSET, then a session with the new key', async (t) => {
  const { emu, bus } = rig({}, { scbk: KEY, installKey: true });
  const keysets: number[] = [];
  bus.on('keyset', (a) => keysets.push(a));
  bus.start();
  t.teardown(() => bus.stop());
  await waitFor(() => bus.isOnline(1) && emu.engine.secureActive, 'PD online in a session after KEYSET', 30000);
  await emu.port.settled();
  t.same(emu.installedKey, KEY, 'the PD stored the CP key');
  t.equal(emu.engine.installMode, false, 'install mode over');
  t.ok(bus.info(1)?.secure);
  t.same(keysets, [1], 'one install, reported once');
  t.equal(emu.engine.counters.sessions, 2, 'one session with SCBK-D, then one with the new key');
  // The CP opens the new session right after the ACK (the line here delivers at once, before any timer): the key must
  // already be in force, so no NAK and no second connect (which used to meet install mode again and install twice).
  t.match(bus.diagnostics(), { pds: [{ address: 1, reconnects: 1 }] }, 'the new key opened a session without reconnecting');
});

t.test('install mode: the ACK to KEYSET is lost, the PD has the key; the next session with it reports the install', async (t) => {
  const { emu, bus } = rig({ faults: { dropRepliesTo: [CMD.KEYSET] } }, { scbk: KEY, installKey: true });
  const keysets: number[] = [];
  bus.on('keyset', (a) => keysets.push(a));
  bus.start();
  t.teardown(() => bus.stop());
  await waitFor(() => bus.isOnline(1) && emu.engine.secureActive, 'PD online in a session with the new key', 30000);
  t.ok(emu.injected.drop >= 1, `the KEYSET answer was lost (${emu.injected.drop} dropped)`);
  await emu.port.settled();
  t.same(emu.installedKey, KEY, 'the PD stored the CP key');
  t.same(keysets, [1], 'the install is reported once, when the new key opens a session');
  t.ok(bus.info(1)?.secure);
});

t.test('card tap, LED, BUZ in a secure session', async (t) => {
  const { emu, bus } = rig({ scbk: KEY, installMode: false }, { scbk: KEY });
  const cards: Buffer[] = [];
  bus.on('card', (_a, c) => cards.push(c.data));
  bus.start();
  t.teardown(() => bus.stop());
  await waitFor(() => bus.isOnline(1), 'PD online');
  emu.tap(Buffer.from('04a1b2c3', 'hex'), 'wiegand26');
  await waitFor(() => cards.length === 1, 'osdp_RAW at the CP');
  t.match(decodeCredential(26, cards[0]), { format: 'H10301', facility: 0xb2, card: 0xa104 });
  const led = {
    reader: 0,
    led: 0,
    temporary: { control: 2, onTime: 3, offTime: 3, onColor: 2, offColor: 0, timer: 20 },
    permanent: { control: 1, onTime: 1, offTime: 0, onColor: 1, offColor: 0 },
  };
  t.match(await bus.command(1, CMD.LED, encodeLed([led])), { code: REPLY.ACK });
  t.same(emu.led, [led]);
  t.match(await bus.command(1, CMD.BUZ, encodeBuz({ reader: 0, tone: 2, onTime: 2, offTime: 1, count: 3 })), { code: REPLY.ACK });
  t.same(emu.buzzer, [{ reader: 0, tone: 2, onTime: 2, offTime: 1, count: 3 }]);
  const nakOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'no NAK', (e: { nak?: number }) => e.nak);
  t.equal(await nakOf(bus.command(1, CMD.BUZ, Buffer.from([0, 9, 1, 1, 1]))), NAK.RECORD, 'bad tone code: NAK 0x09');
  t.equal(await nakOf(bus.command(1, 0x7e, Buffer.alloc(0))), NAK.UNKNOWN_COMMAND, 'unknown command: NAK 0x03');
  t.ok(emu.engine.secureActive);
});

t.test('a wrong key is refused and nothing gets through', async (t) => {
  const { emu, bus } = rig({ scbk: KEY, installMode: false, enforceSecure: true }, { scbk: OTHER_KEY });
  bus.start();
  t.teardown(() => bus.stop());
  await waitFor(() => (bus.diagnostics().pds as Array<{ reconnects: number }>)[0].reconnects >= 3, 'three connection attempts');
  t.notOk(bus.isOnline(1));
  t.equal(emu.engine.counters.sessions, 0, 'no session opened');
  emu.tap(Buffer.from('04a1b2c3', 'hex'));
  t.equal(emu.engine.pendingEvents(), 1, 'the card read stays with the PD');
});

t.test('ENFORCE_SECURE refuses SCBK-D and plain commands', async (t) => {
  const { bus } = rig({ scbk: KEY, installMode: true, enforceSecure: true }, { scbk: undefined, secure: true, installKey: true });
  bus.start();
  t.teardown(() => bus.stop());
  await waitFor(() => (bus.diagnostics().pds as Array<{ naks: number }>)[0].naks >= 2, 'NAKs from the PD');
  t.notOk(bus.isOnline(1), 'SCBK-D refused');
  const plain = rig({ scbk: KEY, enforceSecure: true }, { secure: false });
  plain.bus.start();
  t.teardown(() => plain.bus.stop());
  await waitFor(() => (plain.bus.diagnostics().pds as Array<{ naks: number }>)[0].naks >= 2, 'NAKs to plain LSTAT');
  t.notOk(plain.bus.isOnline(1));
});

t.test('PD engine: repeats, sequence errors, broadcast, COMSET', async (t) => {
  const [, b] = memoryLinkPair();
  const emu = new EmulatedPd(b, { secureChannel: false });
  const e = emu.engine;
  const cmd = (sqn: number, code: number, data: Buffer, address = 1) => decodePacket(encodePacket({ address, reply: false, sqn, crc: true, code, data }));
  const reply = (r: ReturnType<typeof e.handle>) => (r ? decodePacket(r.bytes).packet : undefined);
  t.match(reply(e.handle(cmd(0, CMD.ID, Buffer.from([0])))), { code: REPLY.PDID, sqn: 0, reply: true, address: 1 });
  const led = encodeLed([{ reader: 0, led: 0, temporary: { control: 0, onTime: 0, offTime: 0, onColor: 0, offColor: 0, timer: 0 }, permanent: { control: 1, onTime: 1, offTime: 0, onColor: 2, offColor: 0 } }]);
  const r1 = e.handle(cmd(1, CMD.LED, led));
  const r2 = e.handle(cmd(1, CMD.LED, led));
  t.same(r2?.bytes, r1?.bytes, 'a repeated command gets the same reply bytes');
  t.equal(emu.led.length, 1, 'and is acted on once');
  t.match(reply(e.handle(cmd(3, CMD.POLL, Buffer.alloc(0)))), { code: REPLY.NAK, data: Buffer.from([NAK.SEQUENCE]) }, 'skipped number: NAK 0x04');
  t.match(reply(e.handle(cmd(2, CMD.POLL, Buffer.from([1])))), { code: REPLY.NAK, data: Buffer.from([NAK.LENGTH]) }, 'POLL with data: NAK 0x02');
  t.match(reply(e.handle(cmd(3, CMD.LSTAT, Buffer.alloc(0)))), { code: REPLY.LSTATR });
  t.equal(e.handle(cmd(1, CMD.POLL, Buffer.alloc(0), 0x7f)), undefined, 'broadcast POLL: silence');
  t.equal(e.handle(cmd(1, CMD.POLL, Buffer.alloc(0), 2)), undefined, 'another address: silence');
  t.match(reply(e.handle(cmd(1, CMD.ID, Buffer.from([0]), 0x7f))), { code: REPLY.PDID, address: 0x7f }, 'broadcast ID answered from 0x7F');
  t.match(reply(e.handle(cmd(2, CMD.CHLNG, Buffer.alloc(8)))), { code: REPLY.NAK, data: Buffer.from([NAK.SC_UNSUPPORTED]) }, 'no secure channel: NAK 0x05');
  const refused = e.handle(cmd(3, CMD.COMSET, encodeCom({ address: 0x7f, baudRate: 9600 })));
  t.same(decodeCom(reply(refused)!.data, 'osdp_COM'), { address: 1, baudRate: 115200 }, 'refused COMSET: osdp_COM with the settings that stay');
  const ok = e.handle(cmd(1, CMD.COMSET, encodeCom({ address: 9, baudRate: 19200 })));
  t.same(decodeCom(reply(ok)!.data, 'osdp_COM'), { address: 9, baudRate: 19200 });
  t.equal(e.address, 1, 'the old address until the reply is out');
  await ok?.after?.();
  t.equal(e.address, 9);
  t.same(emu.comsets, [{ address: 9, baudRate: 19200 }]);
  t.equal(b.baudRate, 19200, 'line speed changed');
  t.match(reply(e.handle(cmd(0, CMD.POLL, Buffer.alloc(0), 9))), { code: REPLY.ACK, address: 9 });
});

t.test('10,000 polls through a line corrupting 1 % of the bytes', async (t) => {
  t.setTimeout(300000);
  const random = rng(1414);
  const { a, b, emu, bus } = rig({ scbk: KEY, installMode: false }, { scbk: KEY }, { corruptRate: 0.01, random }, { pollIntervalMs: 0, replyTimeoutMs: 10 });
  const got: string[] = [];
  bus.on('card', (_a, c) => got.push(c.data.toString('hex')));
  let offline = 0;
  bus.on('offline', () => offline++);
  bus.start();
  t.teardown(() => bus.stop());
  const sent: string[] = [];
  const uids = ['04a1b2c3', '11223344', 'deadbeef', '01020304'];
  let next = 1000;
  await waitFor(
    () => {
      const polls = (bus.diagnostics().pds as Array<{ polls: number }>)[0].polls;
      if (polls >= next && emu.engine.pendingEvents() === 0) {
        const u = Buffer.from(uids[sent.length % uids.length], 'hex');
        emu.tap(u, 'wiegand34');
        sent.push(u.toString('hex'));
        next += 1000;
      }
      return polls >= 10000;
    },
    '10,000 polls',
    240000,
  );
  const corrupted = (a as { corrupted: number }).corrupted + (b as { corrupted: number }).corrupted;
  t.ok(corrupted > 1000, `the line corrupted ${corrupted} bytes`);
  // no wrong card: every delivered credential decodes with good parity to a tapped UID's number
  const expected = new Set(sent.map((u) => decodeCredentialHex(u)));
  for (const g of got) t.ok(expected.has(g), `delivered ${g} was tapped`);
  await waitFor(() => emu.engine.pendingEvents() === 0, 'the last card read delivered');
  t.ok(got.length >= sent.length, `card reads delivered: ${got.length} of ${sent.length} (repeats allowed, losses not)`);
  t.same([...new Set(got)].sort(), [...new Set(sent.map((u) => decodeCredentialHex(u)))].sort(), 'every tapped card arrived');
  (a as unknown as { o: { corruptRate: number } }).o.corruptRate = 0;
  (b as unknown as { o: { corruptRate: number } }).o.corruptRate = 0;
  const polls0 = (bus.diagnostics().pds as Array<{ polls: number }>)[0].polls;
  await waitFor(() => bus.isOnline(1) && (bus.diagnostics().pds as Array<{ polls: number }>)[0].polls > polls0 + 50, 'PD online and polled on a clean line');
  t.pass(`went offline ${offline} times, back online by itself`);
});

function decodeCredentialHex(uid: string): string {
  // the wiegand34 frame of this UID, as the emulator sends it
  const n = Buffer.from(uid, 'hex').readUInt32LE(0);
  const ones = (v: number): number => v.toString(2).split('').filter((c) => c === '1').length;
  const even = ones(n >>> 16) % 2;
  const odd = ones(n & 0xffff) % 2 === 0 ? 1 : 0;
  const v = (BigInt(even) << 33n) | (BigInt(n) << 1n) | BigInt(odd);
  return (v << 6n).toString(16).padStart(10, '0');
}

t.test('injected faults: wrong MACs, bad CRCs, dropped replies; every card arrives right', async (t) => {
  const faults = { wrongMac: 0.1, badCrc: 0.1, drop: 0.1, random: rng(9) };
  const { emu, bus } = rig({ scbk: KEY, installMode: false, faults }, { scbk: KEY });
  const got: string[] = [];
  bus.on('card', (_a, c) => got.push(c.data.toString('hex')));
  bus.start();
  t.teardown(() => bus.stop());
  await waitFor(() => bus.isOnline(1), 'PD online despite the faults');
  const uids = ['04a1b2c3', '11223344', 'deadbeef'];
  for (const u of uids) {
    emu.tap(Buffer.from(u, 'hex'), 'wiegand34');
    await waitFor(() => emu.engine.pendingEvents() === 0 && got.includes(decodeCredentialHex(u)), `card ${u} delivered`);
  }
  t.ok(emu.injected.wrongMac > 0 && emu.injected.badCrc > 0 && emu.injected.drop > 0, `faults injected: ${JSON.stringify(emu.injected)}`);
  t.ok(got.every((g) => uids.map(decodeCredentialHex).includes(g)), 'nothing but the tapped cards');
  t.ok(emu.engine.counters.sessions > 1, 'wrong MACs ended sessions and new ones were opened');
});

t.test('slow replies: beyond the reply timeout the PD never comes online; within it, it does', async (t) => {
  const slow = rig({ scbk: KEY, installMode: false, faults: { slowMs: 80 } }, { scbk: KEY }, {}, { replyTimeoutMs: 30, retries: 0 });
  slow.bus.start();
  t.teardown(() => slow.bus.stop());
  await waitFor(() => (slow.bus.diagnostics().pds as Array<{ reconnects: number }>)[0].reconnects >= 3, 'three attempts');
  t.notOk(slow.bus.isOnline(1), '80 ms replies against a 30 ms timeout');
  const patient = rig({ scbk: KEY, installMode: false, faults: { slowMs: 80 } }, { scbk: KEY }, {}, { replyTimeoutMs: 150 });
  patient.bus.start();
  t.teardown(() => patient.bus.stop());
  await waitFor(() => patient.bus.isOnline(1), 'online with a 150 ms timeout');
});

t.test('secure session timeout: the PD ends an idle session, the CP opens a new one', async (t) => {
  const { emu, bus } = rig({ scbk: KEY, installMode: false, sessionTimeoutMs: 100 }, { scbk: KEY }, {}, { pollIntervalMs: 200, offlineAfterMs: 5000 });
  bus.start();
  t.teardown(() => bus.stop());
  await waitFor(() => emu.engine.counters.sessions >= 3, 'three sessions (each poll came after the timeout)', 15000);
  t.ok(emu.engine.counters.naks >= 2, 'the stale-session commands were NAKed');
});
