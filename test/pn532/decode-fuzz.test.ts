/**
 * Seeded fuzz of what else parses bytes: the driver's response decoders
 * (target data, firmware) and the emulator's command interpreter (any
 * well-framed command body gets ACK + an answer or the error frame, never a throw).
 */
import t from 'tap';
import { ACK_FRAME, ERROR_FRAME, TFI_HOST, encodeFrame, parseFrame } from '../../drivers/pn532/frame.js';
import { HSU_WAKEUP } from '../../drivers/pn532/link.js';
import { decodeFirmware, decodeListPassiveTarget } from '../../drivers/pn532/protocol.js';
import { Pn532Chip } from '../../emulators/pn532/chip.js';
import { rng } from '../helpers/prng.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';

t.test('decoders: random answers decode or throw a plain Error naming the problem', async (t) => {
  const rnd = rng(99);
  let decoded = 0;
  let refused = 0;
  for (let i = 0; i < 20000; i++) {
    const n = Math.floor(rnd() * 40);
    const b = Buffer.from(Array.from({ length: n }, () => (rnd() < 0.3 ? [0x00, 0x01, 0x04, 0x07, 0x20][Math.floor(rnd() * 5)] : Math.floor(rnd() * 256))));
    b[0] = 0x4b;
    try {
      const targets = decodeListPassiveTarget(b);
      for (const x of targets) {
        if (![4, 7, 10].includes(x.uid.length) || x.atqa.length !== 2) throw new Error('out of range result');
        if (x.ats && x.ats.length !== x.ats[0]) throw new Error('ATS length mismatch');
      }
      decoded++;
    } catch (e) {
      if (!(e instanceof Error) || e.message === 'out of range result' || e.message === 'ATS length mismatch') {
        t.fail(`input ${b.toString('hex')}: ${String(e)}`);
        return;
      }
      if (!/target data|too short/.test(e.message)) {
        t.fail(`input ${b.toString('hex')}: unexpected message ${e.message}`);
        return;
      }
      refused++;
    }
  }
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(Array.from({ length: Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256)));
    try {
      decodeFirmware(b);
    } catch (e) {
      if (!/too short/.test((e as Error).message)) t.fail(String(e));
    }
  }
  t.ok(decoded > 100 && refused > 100, `decoded ${decoded}, refused ${refused} with a message naming the problem`);
});

t.test('emulator: any framed command gets ACK then an answer or the error frame', async (t) => {
  const rnd = rng(2026);
  const chip = new Pn532Chip('hsu', { wakeGuardMs: 0 });
  const out: Buffer[] = [];
  chip.on('output', (b) => out.push(b));
  chip.hostBytes(Buffer.concat([HSU_WAKEUP, encodeFrame(TFI_HOST, Buffer.from([0x14, 0x01]))]));
  chip.hostBytes(encodeFrame(TFI_HOST, Buffer.from([0x32, 0x05, 0xff, 0x01, 0x01]))); // finite retries: no endless waits
  out.length = 0;
  const codes = [0x00, 0x02, 0x04, 0x06, 0x08, 0x12, 0x14, 0x32, 0x40, 0x42, 0x44, 0x4a, 0x52, 0x54, 0x60, 0x16, 0x8a, 0xff];
  let answered = 0;
  let errors = 0;
  for (let i = 0; i < 5000; i++) {
    if (i % 100 === 0) chip.tap(fieldCardOf(['iso14443-4', 'mifare-classic-1k', 'mifare-ultralight'][i % 3]));
    const code = codes[Math.floor(rnd() * codes.length)];
    if (code === 0x16 || code === 0x60 || code === 0x4a) continue; // sleep / endless polls are covered elsewhere
    const body = Buffer.from([code, ...Array.from({ length: Math.floor(rnd() * 20) }, () => Math.floor(rnd() * 256))]);
    if (code === 0x32 && body[1] === 0x05) body[4] = 0x01; // keep passive retries finite
    if (code === 0x32 && body[1] === 0x04) body[2] = 0x00; // MaxRtyCOM 0: a silent card is reported after one try
    if (code === 0x32 && body[1] === 0x02) body[4] = 0x0a; // retry timeout 51.2 ms
    chip.hostBytes(encodeFrame(TFI_HOST, body));
    // an exchange with a card that is not there is answered only after the chip's retries (docs/pn532.md §8)
    if (out.length === 1) await new Promise((r) => chip.once('output', r));
    const got = Buffer.concat(out.splice(0));
    if (!got.subarray(0, 6).equals(ACK_FRAME)) {
      t.fail(`command ${body.toString('hex')}: no ACK (${got.toString('hex')})`);
      return;
    }
    const rest = got.subarray(6);
    if (rest.equals(ERROR_FRAME)) errors++;
    else {
      const r = parseFrame(rest);
      if (r.status !== 'frame' || r.frame.kind !== 'info' || r.frame.body[0] !== ((code + 1) & 0xff)) {
        t.fail(`command ${body.toString('hex')}: bad answer ${rest.toString('hex')}`);
        return;
      }
      answered++;
    }
  }
  t.pass(`${answered} answers, ${errors} error frames, no throw`);
});
