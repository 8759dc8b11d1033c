/**
 * Data integrity beyond the PN532's 8-bit checksum (docs/pn532.md §2.4):
 * 10,000 exchanges with an ISO 14443-4 card while 1 % of frames (both ways)
 * are damaged in several bytes, a share of them so that LCS and DCS still
 * pass. Repeatable reads (READ BINARY, GET UID) must never return wrong data;
 * every failure is a defined PC/SC code; the reader recovers by itself.
 * The long run uses an in-memory serial port (the same HSU link code, no
 * pty, no pacing) to keep the wall time reasonable; faults.test.ts runs a
 * shorter one over a real pty.
 */
import t from 'tap';
import { PcscError } from '../../src/pcsc/error.js';
import { createPn532Driver } from '../../drivers/pn532/index.js';
import { Pn532Chip } from '../../emulators/pn532/chip.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { memorySerialPort } from '../../emulators/pn532/memory-port.js';
import { hex, log, presence, sleep } from './helpers.js';

t.setTimeout(600000);

const CONTENT = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 31 + 7) & 0xff));
const UID = hex('04C0FFEE000001');

t.test('10,000 exchanges at 1 % multi-byte corruption: no wrong answer to a repeatable read', async (t) => {
  const chip = new Pn532Chip('hsu', { seed: 7 });
  const ports = memorySerialPort(chip);
  const driver = createPn532Driver({ readers: [{ transport: { type: 'hsu', path: '/dev/mem-pn532', baudRate: 115200 }, removalCheckMs: 200 }] } as never, { log }, {
    serialPort: ports as never,
    reopenMs: { initial: 50, max: 400 },
    tuning: { dialogue: { ackTimeoutMs: 20, settleMs: 5 } },
  });
  t.teardown(() => driver.stop());
  await driver.start();
  const reader = driver.readers()[0];
  t.ok(reader, 'reader attached over the in-memory port');
  const slot = reader.slots[0];
  const tapped = presence(slot, true, 5000);
  chip.tap(fieldCardOf({ type: 'iso14443-4', uid: UID.toString('hex'), files: { fid: '3F00', children: [{ fid: '1001', sfi: 1, data: CONTENT.toString('hex') }] } }));
  await tapped;

  chip.setSeed(20261202);
  chip.faultRate = 0.01;
  chip.silentShare = 0.25;
  const counts = { ok: 0, wrong: 0, other: 0, errors: {} as Record<string, number> };
  const allowed = new Set(['SCARD_F_COMM_ERROR', 'SCARD_E_NO_SMARTCARD', 'SCARD_W_REMOVED_CARD', 'SCARD_E_READER_UNAVAILABLE']);
  const N = 10000;
  for (let i = 0; i < N; i++) {
    let apdu: Buffer;
    let want: Buffer;
    if (i % 10 === 9) {
      apdu = hex('FF CA 00 00 00');
      want = Buffer.concat([UID, hex('9000')]);
    } else if (i % 50 === 0) {
      apdu = hex('00 B0 81 00 00 01 2C'); // 300 bytes: a chained answer
      want = Buffer.concat([CONTENT, hex('9000')]);
    } else {
      const off = i % 200;
      apdu = Buffer.from([0x00, 0xb0, 0x81, off, 0x20]);
      want = Buffer.concat([CONTENT.subarray(off, off + 0x20), hex('9000')]);
    }
    try {
      const r = await slot.transmit(apdu, 2);
      if (r.equals(want)) counts.ok++;
      else {
        counts.wrong++;
        if (counts.wrong <= 3) t.comment(`wrong answer to ${apdu.toString('hex')}: ${r.toString('hex')}`);
      }
    } catch (e) {
      if (e instanceof PcscError) {
        counts.errors[e.codeName] = (counts.errors[e.codeName] ?? 0) + 1;
        // a card dropped by a recovery comes back by itself
        if (!slot.isCardPresent()) await presence(slot, true, 5000, 'the card found again').catch(() => undefined);
      } else {
        counts.other++;
        if (counts.other <= 3) t.comment(`not a PcscError: ${(e as Error).stack}`);
      }
    }
  }
  const c = chip.counters;
  chip.faultRate = 0;
  t.comment(`exchanges ${N}: ok ${counts.ok}, wrong ${counts.wrong}, errors ${JSON.stringify(counts.errors)}, other ${counts.other}`);
  t.comment(`emulator: faults ${c.faultsInjected}, checksum-passing corruptions ${c.silentCorruptions}; driver ${JSON.stringify(reader.dialogue.counters)}; stats ${JSON.stringify(reader.stats)}`);
  t.ok(c.silentCorruptions >= 20, `frames that passed LCS/DCS with wrong content were injected (${c.silentCorruptions})`);
  t.equal(counts.wrong, 0, 'no wrong answer to a repeatable read');
  t.equal(counts.other, 0, 'every failure is a PcscError');
  t.same(Object.keys(counts.errors).filter((k) => !allowed.has(k)), [], `only defined codes: ${Object.keys(counts.errors).join(', ')}`);
  t.ok(counts.ok >= N * 0.95, `most exchanges succeed (${counts.ok})`);

  // faults off: the reader is back by itself
  if (!slot.isCardPresent()) await presence(slot, true, 5000, 'the card after the run');
  let clean = 0;
  for (let i = 0; i < 100; i++) {
    const r = await slot.transmit(hex('00 B0 81 00 10'), 2);
    if (r.equals(Buffer.concat([CONTENT.subarray(0, 16), hex('9000')]))) clean++;
  }
  t.equal(clean, 100, '100 clean exchanges after the faults stop');
  t.equal(reader.available, true);
  await sleep(0);
});
