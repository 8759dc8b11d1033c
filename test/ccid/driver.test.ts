/**
 * The CCID driver through the real core against the emulated USB device:
 * the same APDU sequences give the same answers at every exchange level as
 * the in-process simulated reader; extended APDU chaining; a composite
 * ACR1252U (PICC + SAM) and a two-slot reader; escape, features, attributes,
 * feedback; faults (stale bSeq, short reads, stalls, time extensions, a
 * reader that stops answering, unplug mid-transfer).
 */
import t from 'tap';
import { ResourceManager } from '../../src/core/index.js';
import type { ReaderSnapshot } from '../../src/core/api.js';
import { SimDriver } from '../../drivers/sim/index.js';
import { ATTR, CM_IOCTL_GET_FEATURE_REQUEST, LIMITS, PROTOCOL, SCARD, SHARE, DISPOSITION } from '../../src/pcsc/constants.js';
import { IOCTL_CCID_ESCAPE } from '../../drivers/ccid/index.js';
import { EmulatedCcidDevice } from '../../emulators/ccid/device.js';
import { hex, log, rig, until, waitFor, type Rig } from './helpers.js';

const SCRIPT = [
  '00A4040C0AF0736361726467617465', // SELECT the demo application
  '00B0000000', // READ BINARY, Le 256
  '00B0830000', // READ BINARY of SFI 3
  '00B0000010', // READ BINARY 16 bytes
  '0020008104 31323335', // VERIFY, wrong PIN
  '0020008104 31323334', // VERIFY, right PIN
  '0020008100', // VERIFY status
  '00CA010000', // GET DATA
  '00FF000000', // unknown INS
  '80CA9F7F00', // proprietary class
].map(hex);

async function runScript(core: ResourceManager, name: string): Promise<string[]> {
  const ctx = core.establishContext('test');
  try {
    const c = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T0 | PROTOCOL.T1);
    const out: string[] = [];
    for (const a of SCRIPT) out.push((await core.transmit(c.handle, c.protocol, a)).toString('hex'));
    await core.disconnect(c.handle, DISPOSITION.RESET);
    return out;
  } finally {
    await core.releaseContext(ctx);
  }
}

const listed = (core: ResourceManager, part: string): ReaderSnapshot | undefined => core.readers().find((r) => r.name.includes(part));

async function reference(card: 'iso7816' | 'iso7816-t0' | 'iso7816-t1-tpdu'): Promise<string[]> {
  const core = new ResourceManager({ transmitTimeoutMs: 5000, log });
  const sim = new SimDriver({ readers: [{ name: 'Ref', card }] }, { log });
  await core.addDriver(sim);
  try {
    return await runScript(core, 'Ref 00 00');
  } finally {
    await core.stop();
  }
}

async function plug(r: Rig, profile: string, opts: Parameters<Rig['bus']['add']>[1] = {}, serial?: string): Promise<EmulatedCcidDevice> {
  const before = r.core.readers().length;
  const dev = r.bus.add(profile, { ...opts, serialNumber: serial ?? opts.serialNumber });
  await until(() => r.core.readers().length >= before + dev.functions.reduce((n, f) => n + f.slots.length, 0), `${profile} listed`);
  return dev;
}

t.test('same APDU sequence, same answers: TPDU (T=0, T=1), short APDU, extended APDU vs the simulated reader', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  for (const card of ['iso7816-t0', 'iso7816-t1-tpdu', 'iso7816'] as const) {
    const ref = await reference(card);
    t.ok(ref.every((x) => x.length >= 4), `${card}: reference answers`);
    for (const level of ['tpdu', 'short-apdu', 'extended-apdu'] as const) {
      const serial = `${card}-${level}`;
      const dev = await plug(r, 'omnikey-class', { level }, serial);
      dev.insert(card);
      await until(() => (listed(r.core, serial)?.atr.length ?? 0) > 0, `${serial}: card seen`);
      const name = listed(r.core, serial)!.name;
      t.same(await runScript(r.core, name), ref, `${card} at ${level} level: same answers as the in-process reader`);
      t.ok(dev.fn(0).counters.xfr >= SCRIPT.length, `${serial}: XfrBlocks reached the emulated reader`);
      t.equal(dev.fn(0).counters.errors, 0, `${serial}: no command the emulated reader refused`);
    }
  }
});

t.test('extended APDUs chain through a 271-byte message in both directions', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const ref = new ResourceManager({ transmitTimeoutMs: 5000, log });
  await ref.addDriver(new SimDriver({ readers: [{ name: 'Ref', card: 'iso7816' }] }, { log }));
  t.teardown(() => ref.stop());
  const dev = await plug(r, 'omnikey-class');
  dev.insert('iso7816');
  await until(() => (listed(r.core, 'OMNIKEY')?.atr.length ?? 0) > 0, 'card seen');
  const ask = async (core: ResourceManager, name: string, apdus: Buffer[]): Promise<string[]> => {
    const ctx = core.establishContext('t');
    const c = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T1);
    const out: string[] = [];
    for (const a of apdus) out.push((await core.transmit(c.handle, c.protocol, a)).toString('hex'));
    return out;
  };
  const body = Buffer.alloc(300, 0x5a);
  const apdus = [
    hex('00A4040C0AF0736361726467617465'),
    hex('0020008104 31323334'),
    Buffer.concat([hex('00D6830000012C'), body, hex('0000')]), // UPDATE BINARY 300 bytes, extended Lc (and Le)
    hex('00B0830000012C'), // READ BINARY 300 bytes, extended Le
  ];
  const xfrBefore = dev.fn(0).counters.xfr;
  const got = await ask(r.core, listed(r.core, 'OMNIKEY')!.name, apdus);
  t.same(got, await ask(ref, 'Ref 00 00', apdus), 'same answers as the in-process reader');
  t.ok(got[3].length > 600, 'a 300-byte answer came back whole');
  t.ok(dev.fn(0).counters.xfr - xfrBefore >= apdus.length + 2, 'command and response chaining took extra XfrBlocks');
  t.equal(dev.fn(0).counters.errors, 0);

  // A short-APDU reader refuses a command longer than its message, naming why.
  const short = await plug(r, 'two-slot');
  short.insert('iso7816');
  await until(() => (listed(r.core, 'Two-Slot')?.atr.length ?? 0) > 0, 'two-slot card seen');
  const ctx = r.core.establishContext('t');
  const c = await r.core.connect(ctx, listed(r.core, 'Two-Slot')!.name, SHARE.SHARED, PROTOCOL.T1);
  await t.rejects(r.core.transmit(c.handle, c.protocol, apdus[2]), /no extended APDU level/);
});

t.test('ACR1252U: two interfaces (PICC, SAM), UID in card events, no deadlock between them, feedback', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const dev = await plug(r, 'acr1252u');
  const names = r.core.readers().map((x) => x.name);
  t.same(names, ['ACS ACR1252 Dual Reader [ACR1252 Dual Reader PICC] 00 00', 'ACS ACR1252 Dual Reader [ACR1252 Dual Reader SAM] 01 00'], 'pcscd-style names');
  const inserted = waitFor<[ReaderSnapshot]>(r.core, 'card-inserted');
  dev.insert({ type: 'iso14443-4', uid: '04A1B2C3D4E5F6' }, { interface: 0 });
  const [snap] = await inserted;
  t.equal(snap.name, names[0]);
  t.same(snap.card?.uid, hex('04A1B2C3D4E5F6'), 'the UID rides on the card event');
  t.equal(snap.card?.contactless, true);
  dev.insert('iso7816-t0', { interface: 1 });
  await until(() => (r.core.reader(names[1])?.atr.length ?? 0) > 0, 'SAM card seen');
  t.equal(r.core.reader(names[1])?.card?.contactless, false);

  const ctx = r.core.establishContext('t');
  const picc = await r.core.connect(ctx, names[0], SHARE.SHARED, PROTOCOL.ANY);
  const sam = await r.core.connect(ctx, names[1], SHARE.SHARED, PROTOCOL.ANY);
  t.same(await r.core.transmit(picc.handle, picc.protocol, hex('FFCA000000')), hex('04A1B2C3D4E5F6 9000'), 'part 3 GET DATA answered by the firmware');
  // Both interfaces at once: the device lock serialises them, every call is answered.
  const calls = [];
  for (let i = 0; i < 40; i++) {
    calls.push(r.core.transmit(picc.handle, picc.protocol, hex('00A4040C0AF0736361726467617465')));
    calls.push(r.core.transmit(sam.handle, sam.protocol, hex('00A4040C0AF0736361726467617465')));
  }
  const answers = await Promise.all(calls);
  t.ok(answers.every((a) => a.equals(hex('9000'))), '80 interleaved calls on two interfaces, all answered 9000');

  await r.core.feedback(names[0], { led: 'green', buzzer: { ms: 100 } });
  t.same(dev.fn(0).feedback, [{ kind: 'led', value: 2 }, { kind: 'buzzer', value: 100 }], 'LED and buzzer escapes reached the PICC interface');

  const removed = waitFor<[ReaderSnapshot]>(r.core, 'card-removed');
  dev.remove({ interface: 0 });
  t.equal((await removed)[0].name, names[0]);
});

t.test('a card in the reader when it is plugged: listed present, powered once, no removal; later changes are events', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const dev = new EmulatedCcidDevice('omnikey-class', { serialNumber: 'BOOTCARD1' });
  dev.insert('iso7816');
  const seen: string[] = [];
  for (const ev of ['card-inserted', 'card-removed'] as const) r.core.on(ev, (x) => x.name.includes('BOOTCARD1') && seen.push(ev));
  r.bus.plug(dev);
  await until(() => (listed(r.core, 'BOOTCARD1')?.atr.length ?? 0) > 0, 'the reader listed with its card');
  // Its first NotifySlotChange says "present, changed since power-on" for the card it had when plugged.
  const reader = () => (r.driver.diagnostics().readers as Array<{ name: string; notifications: number }>).find((x) => x.name.includes('OMNIKEY'))!;
  await until(() => reader().notifications >= 1, 'the first NotifySlotChange');
  const name = listed(r.core, 'BOOTCARD1')!.name;
  // an exchange through the core: the notification's presence changes, if any, have reached the core by then
  await runScript(r.core, name);
  t.same(seen, [], 'no removal and no insertion: the card was there all along');
  t.equal(listed(r.core, 'BOOTCARD1')!.eventCounter, 0, 'no card event counted');
  t.equal(dev.fn(0).counters.powerOn, 2, 'powered once when listed, once more by the script (no power-up for a made-up swap)');
  // Cards that come and go after that are events as ever.
  const notes = reader().notifications;
  dev.remove();
  dev.insert('iso7816-t0');
  await until(() => seen.length >= 2, 'the swap reported');
  t.same(seen.slice(0, 2), ['card-removed', 'card-inserted'], 'later: removal then insertion');
  t.ok(reader().notifications > notes, 'reported by NotifySlotChange');
});

t.test('two slots without an interrupt endpoint: GetSlotStatus polling; each slot a reader', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const dev = await plug(r, 'two-slot');
  const names = r.core.readers().map((x) => x.name);
  t.same(names, ['scardgate Emulated Two-Slot Reader (EMU2SLOT) 00 00', 'scardgate Emulated Two-Slot Reader (EMU2SLOT) 00 01']);
  const inserted = waitFor<[ReaderSnapshot]>(r.core, 'card-inserted');
  dev.insert('iso7816', { slot: 1 });
  t.equal((await inserted)[0].name, names[1], 'insertion in slot 1 found by polling');
  t.ok(r.driver.readers()[0].counters.polls > 0);
  t.same(await runScript(r.core, names[1]), await reference('iso7816'));
});

t.test('ACR122U: short APDU level, UID, feedback by the FF 00 40 pseudo-APDU; escape and features behind the switch', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const dev = await plug(r, 'acr122u');
  const [name] = r.core.readers().map((x) => x.name);
  t.equal(name, 'ACS ACR122U PICC Interface 00 00');
  const inserted = waitFor<[ReaderSnapshot]>(r.core, 'card-inserted');
  dev.insert({ type: 'mifare-classic-1k', uid: 'DEADBEEF' });
  t.same((await inserted)[0].card?.uid, hex('DEADBEEF'));
  await r.core.feedback(name, { led: 'red', buzzer: { ms: 200, count: 2 } });
  t.same(dev.fn(0).feedback, [{ kind: 'led', value: 0x05 }, { kind: 'buzzer', value: 200 }]);
  const ctx = r.core.establishContext('t');
  const c = await r.core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  const features = await r.core.control(c.handle, CM_IOCTL_GET_FEATURE_REQUEST, Buffer.alloc(0));
  t.equal(features[0], 0x12, 'GET_TLV_PROPERTIES listed');
  t.notOk(features.includes(0x13), 'no escape feature while drivers.ccid.escape is off');
  await t.rejects(r.core.control(c.handle, IOCTL_CCID_ESCAPE, hex('FF00400C0400000000')), { code: SCARD.E_UNSUPPORTED_FEATURE }, 'escape refused by default');
  const ioctl = features.readUInt32BE(2);
  const tlv = await r.core.control(c.handle, ioctl, Buffer.alloc(0));
  t.same(tlv.subarray(-8), hex('0B022F07 0C020022'), 'wIdVendor 072F, wIdProduct 2200');
  t.equal((await r.core.getAttrib(c.handle, ATTR.VENDOR_NAME)).toString('latin1'), 'ACS\0');
  t.equal((await r.core.getAttrib(c.handle, ATTR.VENDOR_IFD_VERSION)).readUInt32LE(), 0x02060000, 'firmware 2.06');

  const r2 = await rig({ escape: true });
  t.teardown(() => r2.close());
  await plug(r2, 'acr122u');
  const ctx2 = r2.core.establishContext('t');
  const c2 = await r2.core.connect(ctx2, name, SHARE.DIRECT, 0);
  const f2 = await r2.core.control(c2.handle, CM_IOCTL_GET_FEATURE_REQUEST, Buffer.alloc(0));
  t.ok(f2.includes(0x13), 'CCID_ESC_COMMAND listed when enabled');
  t.same(await r2.core.control(c2.handle, IOCTL_CCID_ESCAPE, hex('FF00400E0400000000')), hex('9002'), 'escape reaches the firmware');
});

t.test('GetAttrib: vendor, product, serial, channel of an OMNIKEY-class reader', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  await plug(r, 'omnikey-class');
  const [snap] = r.core.readers();
  const ctx = r.core.establishContext('t');
  const c = await r.core.connect(ctx, snap.name, SHARE.DIRECT, 0);
  const str = async (a: number) => (await r.core.getAttrib(c.handle, a)).toString('latin1');
  t.equal(await str(ATTR.VENDOR_NAME), 'HID Global\0');
  t.equal(await str(ATTR.VENDOR_IFD_TYPE), 'OMNIKEY 3x21 Smart Card Reader\0');
  t.equal(await str(ATTR.VENDOR_IFD_SERIAL_NO), 'OKEMU0001\0');
  t.equal((await r.core.getAttrib(c.handle, ATTR.CHANNEL_ID)).readUInt32LE() >>> 16, 0x0020, 'USB channel');
  t.equal((await r.core.getAttrib(c.handle, ATTR.MAXINPUT)).readUInt32LE(), LIMITS.MAX_BUFFER_SIZE_EXTENDED, 'extended level: extended APDU size');
});

t.test('faults: stale bSeq, short read, stall, time extensions, storm, a silent reader, unplug mid-transfer', async (t) => {
  const r = await rig({ commandTimeoutMs: 300 });
  t.teardown(() => r.close());
  const dev = await plug(r, 'gempc-twin');
  dev.insert('iso7816-t0');
  await until(() => (r.core.readers()[0]?.atr.length ?? 0) > 0, 'card seen');
  const name = r.core.readers()[0].name;
  const ctx = r.core.establishContext('t');
  const c = await r.core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T0);
  const sel = hex('00A4040C0AF0736361726467617465');
  const send = () => r.core.transmit(c.handle, c.protocol, sel);
  const ch = () => r.driver.readers()[0].channel.counters;

  dev.inject('wrong-bseq');
  t.same(await send(), hex('9000'), 'a stale frame is discarded and the real answer used');
  t.equal(ch().staleFrames, 1);

  dev.inject('wrong-bseq-flood');
  await t.rejects(send(), /frames with another bSeq/, 'too many stale frames: communication error');
  t.same(await send(), hex('9000'), 'the next command works (its stale predecessors are discarded)');

  dev.inject('short-read');
  await t.rejects(send(), { code: SCARD.F_COMM_ERROR }, 'a short read is a communication error');
  t.same(await send(), hex('9000'));

  dev.inject('stall');
  await t.rejects(send(), /endpoint stalled/);
  t.same(await send(), hex('9000'), 'halt cleared, the stale answer skipped');

  dev.fn(0).timeExtensions = 3;
  t.same(await send(), hex('9000'), 'time extensions honoured');
  t.ok(ch().timeExtensions >= 3);
  dev.fn(0).timeExtensions = 0;

  dev.inject('time-extension-storm');
  await t.rejects(send(), /time extensions; command aborted/, 'a time-extension storm ends in Abort');
  t.ok(ch().aborts >= 1);
  t.same(await send(), hex('9000'), 'the reader answers after the Abort');

  // A reader that stops answering: timeout, Abort fails, USB reset, re-enumeration.
  const gone = waitFor<[ReaderSnapshot]>(r.core, 'reader-removed', 5000);
  const back = waitFor<[ReaderSnapshot]>(r.core, 'reader-added', 8000, 'the reader back after its USB reset');
  dev.inject('hang');
  // The timeout's Abort fails, so the reader is reset: the call ends with the reader's removal.
  await t.rejects(send(), { code: SCARD.E_READER_UNAVAILABLE });
  t.equal((await gone)[0].name, name);
  t.equal((await back)[0].name, name, 'same name after the reset');
  t.equal(dev.counters.resets, 1);
  const ctx2 = r.core.establishContext('t2');
  await until(() => (r.core.reader(name)?.atr.length ?? 0) > 0, 'card powered again');
  const c2 = await r.core.connect(ctx2, name, SHARE.SHARED, PROTOCOL.T0);
  t.same(await r.core.transmit(c2.handle, c2.protocol, sel), hex('9000'));

  // Unplugged while a command is on the wire: the call fails at once with a defined error.
  const removed = waitFor<[ReaderSnapshot]>(r.core, 'reader-removed');
  dev.inject('unplug-mid-transfer');
  const t0 = Date.now();
  await t.rejects(r.core.transmit(c2.handle, c2.protocol, sel), { code: SCARD.E_READER_UNAVAILABLE });
  const elapsed = Date.now() - t0;
  t.ok(elapsed < 1000, `pending call answered within 1 s of the unplug (${elapsed} ms)`);
  await removed;
  t.equal(r.core.readers().length, 0);
});

t.test('hardware error on the interrupt endpoint: reported, the reader keeps working', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const dev = await plug(r, 'gempc-twin');
  const errored = waitFor(r.core, 'reader-error');
  dev.inject('hardware-error');
  const [, err] = (await errored) as [ReaderSnapshot, Error];
  t.match(err.message, /overcurrent/);
  dev.insert('iso7816-t1-tpdu');
  await until(() => (r.core.readers()[0]?.atr.length ?? 0) > 0, 'card seen after the error');
});

t.test('parameters: PPS and SetParameters only where the reader leaves them to the host; voltage selection', async (t) => {
  // T=0 first, T=1 offered too: choosing T=1 needs a PPS.
  const card = { type: 'iso7816', atr: '3B80800101' };
  const sel = hex('00A4040C0AF0736361726467617465');
  const connectT1 = async (r: Rig, part: string): Promise<void> => {
    await until(() => (listed(r.core, part)?.atr.length ?? 0) > 0, `${part}: card seen`);
    const ctx = r.core.establishContext('t');
    const c = await r.core.connect(ctx, listed(r.core, part)!.name, SHARE.SHARED, PROTOCOL.T1);
    t.equal(c.protocol, PROTOCOL.T1);
    t.same(await r.core.transmit(c.handle, c.protocol, sel), hex('9000'), `${part}: exchange after the parameters`);
  };
  const r = await rig();
  t.teardown(() => r.close());
  const tpdu = await plug(r, 'gempc-twin', {}, 'NEG');
  tpdu.insert(card);
  await connectT1(r, 'NEG');
  t.equal(tpdu.fn(0).counters.pps, 1, 'TPDU reader without automatic PPS: the host sent one');
  t.equal(tpdu.fn(0).counters.setParameters, 1, 'and SetParameters');
  t.ok(tpdu.fn(0).powerSelects.every((v) => v === 1), 'no automatic voltage: 5 V asked explicitly');

  const auto = await plug(r, 'omnikey-class', { level: 'tpdu' }, 'AUTOPPS');
  auto.insert(card);
  await connectT1(r, 'AUTOPPS');
  t.equal(auto.fn(0).counters.pps, 0, 'reader does PPS (dwFeatures 80): none from the host');
  t.equal(auto.fn(0).counters.setParameters, 1, 'SetParameters still sent');
  t.ok(auto.fn(0).powerSelects.every((v) => v === 0), 'automatic voltage: bPowerSelect 0');

  const neg = await plug(r, 'acr1252u', {}, 'SELF');
  neg.insert({ type: 'iso14443-4' }, { interface: 0 });
  await connectT1(r, 'PICC');
  t.equal(neg.fn(0).counters.setParameters, 0, 'reader negotiates (dwFeatures 40): neither PPS nor SetParameters');

  const r3 = await rig({ voltage: '3V' });
  t.teardown(() => r3.close());
  const v3 = await plug(r3, 'gempc-twin');
  v3.insert('iso7816-t0');
  await until(() => (r3.core.readers()[0]?.atr.length ?? 0) > 0, 'card seen at 3 V');
  t.ok(v3.fn(0).powerSelects.length > 0 && v3.fn(0).powerSelects.every((v) => v === 2), 'voltage: 3V configured -> bPowerSelect 2');
});

t.test('T=1 at TPDU level: a reader with a small dwMaxIFSD gets its own IFSD announced, long answers still arrive', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const dev = await plug(r, 'gempc-twin', { descriptor: { maxIfsd: 64 } }, 'IFSD64');
  dev.insert('iso7816-t1-tpdu');
  await until(() => (r.core.readers()[0]?.atr.length ?? 0) > 0, 'card seen');
  const ctx = r.core.establishContext('t');
  const c = await r.core.connect(ctx, r.core.readers()[0].name, SHARE.SHARED, PROTOCOL.T1);
  t.same(await r.core.transmit(c.handle, c.protocol, hex('00A4040C0AF0736361726467617465')), hex('9000'));
  const rb = await r.core.transmit(c.handle, c.protocol, hex('00B0830000'));
  t.equal(rb.length, 258, '256 bytes and SW through blocks of at most 64');
  t.same(dev.fn(0).ifsRequests, [64], 'S(IFS request) carried dwMaxIFSD, not 254');
  t.equal(dev.fn(0).counters.errors, 0, 'no block overran the reader');
});
