/**
 * Faults on the HSU path (real socat pty): 2,000 exchanges with multi-byte
 * faults, some passing the checksums (integrity.test.ts runs 10,000 over an
 * in-memory port), each targeted fault on its own (late ACK, garbage, lost
 * command, lost answer, module reset mid-exchange, a wedged module and the
 * RSTPDN pin), and the serial port vanishing and coming back.
 */
import t from 'tap';
import { SCARD } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import type { CardInfo } from '../../src/driver/contract.js';
import type { Pn532Reader } from '../../drivers/pn532/index.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { HsuAttachment, startPtyPair } from '../../emulators/pn532/hsu.js';
import { hex, hsuRig, sleep, waitFor, type HsuRig } from './helpers.js';

// the file runs longer than the runner's default per-file timeout
t.setTimeout(600000);

const CONTENT = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 31 + 7) & 0xff));
const card = () =>
  fieldCardOf({ type: 'iso14443-4', uid: '04C0FFEE000001', files: { fid: '3F00', children: [{ fid: '1001', sfi: 1, data: CONTENT.toString('hex') }] } });

async function tapped(rig: HsuRig): Promise<Pn532Reader> {
  const reader = rig.reader();
  if (reader.slots[0].isCardPresent()) return reader;
  const p = waitFor<[boolean, CardInfo]>(reader.slots[0], 'presence');
  if (!rig.chip.cardInField) rig.chip.tap(card());
  await p;
  return reader;
}

/** Wait until the slot has a card again (after a recovery dropped it). */
async function cardBack(reader: Pn532Reader): Promise<void> {
  for (let i = 0; i < 200 && !reader.slots[0].isCardPresent(); i++) await sleep(10);
}

t.test('2,000 exchanges over a pty with 1% of frames damaged in several bytes', async (t) => {
  t.setTimeout(600000);
  // shorter ACK wait than the default 60 ms: an emulator on a pty answers in well under 30 ms
  const rig = await hsuRig({ removalCheckMs: 200 }, { tuning: { dialogue: { ackTimeoutMs: 30, settleMs: 10 } } });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const reader = await tapped(rig);
  const slot = reader.slots[0];
  rig.chip.setSeed(20261125);
  rig.chip.faultRate = 0.01;
  rig.chip.silentShare = 0.2;
  const counts = { ok: 0, wrongData: 0, errors: {} as Record<string, number>, other: 0 };
  const N = 2000;
  for (let i = 0; i < N; i++) {
    // READ BINARY by SFI (no selection state needed); every 50th is 300 bytes with extended Le (chained answer)
    const long = i % 50 === 0;
    const off = long ? 0 : i % 200;
    const apdu = long ? hex('00 B0 81 00 00 01 2C') : Buffer.from([0x00, 0xb0, 0x81, off, 0x20]);
    const want = long ? CONTENT : CONTENT.subarray(off, off + 0x20);
    try {
      const r = await slot.transmit(apdu, 2);
      if (r.subarray(0, r.length - 2).equals(want) && r.readUInt16BE(r.length - 2) === 0x9000) counts.ok++;
      else {
        counts.wrongData++;
        if (counts.wrongData <= 3) t.comment(`wrong answer to ${apdu.toString('hex')}: ${r.length} bytes ${r.subarray(0, 6).toString('hex')}..${r.subarray(-4).toString('hex')}`);
      }
    } catch (e) {
      if (e instanceof PcscError) {
        counts.errors[e.codeName] = (counts.errors[e.codeName] ?? 0) + 1;
        if (e.code === SCARD.E_NO_SMARTCARD) await cardBack(reader);
      } else counts.other++;
    }
  }
  const chipFaults = rig.chip.counters.faultsInjected;
  rig.chip.faultRate = 0;
  t.comment(`exchanges: ${N}, ok: ${counts.ok}, wrong data: ${counts.wrongData}, PC/SC errors: ${JSON.stringify(counts.errors)}, other: ${counts.other}`);
  t.comment(`faults injected by the emulator: ${chipFaults}; driver: ${JSON.stringify(reader.dialogue.counters)}; recoveries ${reader.stats.recoveries}`);
  t.equal(counts.ok + Object.values(counts.errors).reduce((a, b) => a + b, 0) + counts.wrongData + counts.other, N, 'every call returned');
  t.equal(counts.wrongData, 0, 'no damaged answer delivered as data');
  t.equal(counts.other, 0, 'every failure is a PcscError');
  const allowed = new Set(['SCARD_F_COMM_ERROR', 'SCARD_E_NO_SMARTCARD', 'SCARD_W_REMOVED_CARD']);
  t.same(Object.keys(counts.errors).filter((k) => !allowed.has(k)), [], 'only communication / card-gone errors');
  t.ok(chipFaults >= 20, 'faults were injected');
  t.ok(counts.ok >= N * 0.97, `most exchanges succeed (${counts.ok})`);
  // recovered: faults off, every exchange works
  await cardBack(reader);
  let clean = 0;
  for (let i = 0; i < 100; i++) {
    const r = await slot.transmit(hex('00 B0 81 00 10'), 2);
    if (r.equals(Buffer.concat([CONTENT.subarray(0, 16), hex('9000')]))) clean++;
  }
  t.equal(clean, 100, 'the reader recovered by itself: 100 clean exchanges');
  t.equal(reader.available, true);
});

t.test('targeted faults', async (t) => {
  t.setTimeout(60000);
  // no presence checks: each one-shot fault must hit the exchange under test
  const rig = await hsuRig({ resetPin: 24, removalCheckMs: 60000 });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const reader = await tapped(rig);
  const slot = reader.slots[0];
  const read = (): Promise<Buffer> => slot.transmit(hex('00 B0 81 00 08'), 2);
  const good = Buffer.concat([CONTENT.subarray(0, 8), hex('9000')]);

  rig.chip.inject({ kind: 'late-ack', ms: 30 });
  t.same(await read(), good, 'late ACK within the ACK timeout');
  const resends = reader.dialogue.counters.resends;
  rig.chip.inject({ kind: 'late-ack', ms: 150 });
  t.same(await read(), good, 'slow ACK (150 ms): an APDU waits for it rather than run twice');
  t.equal(reader.dialogue.counters.resends, resends, 'not sent again');
  rig.chip.inject({ kind: 'late-ack', ms: 400 });
  t.same(await read(), good, 'no ACK for 400 ms: the command is sent again');
  t.ok(reader.dialogue.counters.resends > resends);
  rig.chip.inject({ kind: 'garbage', bytes: 12 });
  t.same(await read(), good, 'garbage before the answer is skipped');
  rig.chip.inject({ kind: 'silent' });
  t.same(await read(), good, 'lost command: resent');
  rig.chip.inject({ kind: 'corrupt' });
  t.same(await read(), good, 'corrupted answer: NACK, answer again');
  rig.chip.inject({ kind: 'drop' });
  t.same(await read(), good, 'truncated answer: NACK, answer again');

  rig.chip.inject({ kind: 'no-response' });
  await t.rejects(read(), { code: SCARD.F_COMM_ERROR }, 'lost answer to an APDU: F_COMM_ERROR (an APDU is not sent twice)');
  await sleep(50);
  t.same(await read(), good, 'next APDU works (module answered the probe)');

  // the module resets itself mid-exchange: no answer, LowVbat; the driver wakes and configures it again
  const gone = waitFor<[boolean]>(slot, 'presence');
  rig.chip.inject({ kind: 'reset' });
  await t.rejects(read(), { code: SCARD.F_COMM_ERROR });
  t.same(await gone, [false], 'the card session did not survive: removal reported');
  const back = waitFor<[boolean, CardInfo]>(slot, 'presence');
  t.equal((await back)[0], true, 'card found again after resync');
  t.same(await read(), good);
  t.ok(rig.chip.counters.resets >= 1 && reader.stats.recoveries >= 1);

  // wedged module: wake-up and SAMConfiguration get nothing; RSTPDN is pulsed
  const rst = rig.board.line(512 + 24);
  const writes = rst.writes.length;
  rig.chip.inject({ kind: 'hang' });
  await t.rejects(read(), { code: SCARD.F_COMM_ERROR });
  await waitFor(slot, 'presence'); // removal
  await waitFor(slot, 'presence'); // found again
  t.ok(reader.stats.hardResets >= 1, 'hard reset through RSTPDN');
  t.same(rst.writes.slice(writes).map((w) => w.value).slice(0, 2), [0, 1], 'RSTPDN pulsed low then high');
  t.same(await read(), good);
});

t.test('a module that stops answering: slot unavailable, back when it answers again', async (t) => {
  const rig = await hsuRig({ removalCheckMs: 50 }, { tuning: { recoverBackoffMs: { initial: 30, max: 100 } } });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const reader = await tapped(rig);
  const slot = reader.slots[0];
  const unavailable = waitFor<[boolean, string]>(slot, 'availability');
  rig.chip.inject({ kind: 'hang' });
  const [av, why] = await unavailable;
  t.equal(av, false);
  t.match(why, /does not answer/);
  await t.rejects(slot.transmit(hex('00 B0 81 00 08'), 2), { code: SCARD.E_NO_SMARTCARD }, 'card gone with the module');
  const available = waitFor<[boolean]>(slot, 'availability');
  rig.chip.reset(); // power comes back
  t.equal((await available)[0], true, 'available again');
  t.equal(rig.driver.readers()[0], reader, 'same reader, no restart');
});

t.test('the serial port vanishes and comes back', async (t) => {
  const rig = await hsuRig();
  await rig.driver.start();
  const reader = await tapped(rig);
  const slot = reader.slots[0];
  const removed = waitFor<[Pn532Reader]>(rig.driver, 'reader-removed');
  const unavailable = waitFor<[boolean]>(slot, 'availability');
  const cardOut = waitFor<[boolean]>(slot, 'presence');
  await rig.hsu.close();
  await rig.pty.stop(); // the adapter is pulled
  t.equal((await removed)[0], reader, 'reader-removed');
  t.same(await cardOut, [false], 'card reported gone');
  t.equal((await unavailable)[0], false, 'slot unavailable');
  await t.rejects(slot.transmit(hex('00 B0 81 00 08'), 2), { code: SCARD.E_NO_SMARTCARD });
  await sleep(300); // a few reopen attempts fail meanwhile
  t.equal(rig.driver.readers().length, 0);
  const pty = await startPtyPair({ host: rig.pty.host, device: rig.pty.device, removeDirOnStop: true });
  const hsu = new HsuAttachment(rig.chip, pty.device, { pace: false });
  await hsu.open();
  rig.chip.reset(); // the module was unpowered with the adapter
  t.teardown(async () => {
    await rig.driver.stop();
    await hsu.close();
    await pty.stop();
  });
  const [again] = await waitFor<[Pn532Reader]>(rig.driver, 'reader-added');
  t.equal(again.id, reader.id, 'reader-added for the same port');
  t.not(again, reader, 'a fresh reader object');
  const present = waitFor<[boolean, CardInfo]>(again.slots[0], 'presence');
  const [p] = await present;
  t.equal(p, true, 'the card still in the field is found');
  t.same(await again.slots[0].transmit(hex('00 B0 81 00 08'), 2), Buffer.concat([CONTENT.subarray(0, 8), hex('9000')]));
});
