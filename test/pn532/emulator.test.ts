/**
 * The emulated PN532, byte for byte against docs/pn532.md: wake-up,
 * ACK then response, NACK, host ACK abort, error frame, I2C status byte,
 * IRQ line, and the commands a reader driver uses.
 */
import t from 'tap';
import { ACK_FRAME, ERROR_FRAME, NACK_FRAME, TFI_HOST, encodeFrame, parseFrame } from '../../drivers/pn532/frame.js';
import { HSU_WAKEUP } from '../../drivers/pn532/link.js';
import { Pn532Chip, risingEdges, type ChipOptions } from '../../emulators/pn532/chip.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const cmd = (body: string): Buffer => encodeFrame(TFI_HOST, hex(body));

/** An HSU chip and everything it sent (no oscillator guard unless asked: these tests send without waiting). */
function hsuChip(opts: ChipOptions = { wakeGuardMs: 0 }): { chip: Pn532Chip; out: Buffer[]; take(): Buffer } {
  const chip = new Pn532Chip('hsu', opts);
  const out: Buffer[] = [];
  chip.on('output', (b) => out.push(b));
  return { chip, out, take: () => Buffer.concat(out.splice(0)) };
}

const awake = (): ReturnType<typeof hsuChip> => {
  const h = hsuChip();
  h.chip.hostBytes(Buffer.concat([HSU_WAKEUP, cmd('14 01')]));
  h.take();
  return h;
};

t.test('asleep: any frame wakes the chip on its 5th rising edge and is lost; LowVbat takes only SAMConfiguration', async (t) => {
  t.same([0x55, 0x00, 0xff, 0x02, 0x03].map(risingEdges), [5, 1, 1, 2, 2], 'rising edges per 8N1 character');
  const { chip, take } = hsuChip();
  chip.hostBytes(cmd('02'));
  t.equal(take().length, 0, 'the frame that woke the chip is lost');
  t.equal(chip.counters.bytesIgnoredAsleep, 4, '00 00 FF 02: five rising edges');
  chip.hostBytes(cmd('02'));
  t.equal(take().length, 0, 'awake, but LowVbat: GetFirmwareVersion ignored, not even ACKed');
  t.equal(chip.counters.ignoredLowVbat, 1);
  chip.hostBytes(Buffer.concat([HSU_WAKEUP, cmd('14 01')]));
  t.same(take(), Buffer.concat([ACK_FRAME, hex('00 00 FF 02 FE D5 15 16 00')]), 'SAMConfiguration: ACK then 15');
  chip.hostBytes(hex('00 00 FF 02 FE D4 02 2A 00'));
  t.same(take(), Buffer.concat([ACK_FRAME, hex('00 00 FF 06 FA D5 03 32 01 06 07 E8 00')]), 'GetFirmwareVersion');
});

t.test('wake-up guard: bytes within T_osc_start of the wake-up are lost; a driver that waits is heard', async (t) => {
  const { chip, take } = hsuChip({ wakeGuardMs: 2 });
  chip.hostBytes(Buffer.concat([HSU_WAKEUP, cmd('14 01')]));
  t.equal(take().length, 0, 'SAMConfiguration right behind the preamble: lost in the guard time');
  t.ok(chip.counters.bytesLostWaking > 0);
  await new Promise((r) => setTimeout(r, 5));
  chip.hostBytes(cmd('14 01'));
  t.same(take(), Buffer.concat([ACK_FRAME, hex('00 00 FF 02 FE D5 15 16 00')]), 'after the guard: ACK + 15');
});

t.test('LowVbat "any" (modules that answer before SAMConfiguration): defaults, not configured', async (t) => {
  const { chip, take } = hsuChip({ wakeGuardMs: 0, lowVbat: 'any' });
  chip.hostBytes(Buffer.concat([HSU_WAKEUP, cmd('02')]));
  t.same(take().subarray(0, 6), ACK_FRAME, 'answered in LowVbat');
  t.match(chip.configuration, { samConfigured: false, maxRtyCom: 0, passiveRetries: 0xff, irq: false });
  t.equal(chip.powerMode, 'low-vbat');
});

t.test('a silent ISO 14443-4 card: status 01 only after 3 x FWT x (MaxRtyCOM + 1); host ACK aborts', async (t) => {
  const { chip, take } = awake();
  chip.hostBytes(cmd('32 04 01')); // MaxRtyCOM 1
  chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '08112233', ats: '7880700280' })); // FWI 7: FWT 38.7 ms
  chip.hostBytes(cmd('4A 01 00'));
  take();
  chip.remove();
  const t0 = performance.now();
  chip.hostBytes(cmd('42 B2'));
  t.same(take(), ACK_FRAME, 'ACK only: the chip is still trying');
  const answer = await new Promise<Buffer>((resolve) => chip.once('output', resolve));
  const waited = performance.now() - t0;
  t.same(answer, encodeFrame(0xd5, hex('43 01')), 'then: timeout status');
  t.ok(waited >= 3 * 38.66 * 2 - 5, `not before 3 x FWT x 2 (${waited.toFixed(0)} ms)`);
  chip.hostBytes(cmd('42 B2'));
  take();
  chip.hostBytes(ACK_FRAME);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(take().length, 0, 'aborted by the host ACK: no answer');
});

t.test('multi-byte corruption: some damaged frames still pass LCS/DCS (counted)', async (t) => {
  const { chip, take } = awake();
  for (let i = 0; i < 20; i++) {
    chip.inject({ kind: 'corrupt-silent' });
    chip.hostBytes(cmd('02'));
    const out = take().subarray(6);
    const p = parseFrame(out);
    t.equal(p.status, 'frame', 'passes every frame check');
    if (p.status === 'frame' && p.frame.kind === 'info') t.notSame(p.frame.body, hex('03 32 01 06 07'), 'with other content');
  }
  t.equal(chip.counters.silentCorruptions, 20);
});

t.test('SetSerialBaudRate: answered at the old speed, switched after the host ACK; reset back to 115200', async (t) => {
  const { chip, take } = awake();
  const bauds: number[] = [];
  chip.on('baud', (b) => bauds.push(b));
  chip.hostBytes(cmd('10 07'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('11'))]));
  t.equal(chip.baudRate, 115200, 'not yet');
  chip.hostBytes(ACK_FRAME);
  t.equal(chip.baudRate, 921600, 'after the host ACK');
  chip.hostBytes(cmd('10 0A'));
  t.same(take(), Buffer.concat([ACK_FRAME, ERROR_FRAME]), 'unknown speed code: error frame');
  chip.reset();
  t.equal(chip.baudRate, 115200);
  t.same(bauds, [921600, 115200]);
});

t.test('NACK repeats the last response; bad frames are dropped; unknown command -> error frame', async (t) => {
  const { chip, take } = awake();
  chip.hostBytes(cmd('02'));
  take();
  chip.hostBytes(NACK_FRAME);
  t.same(take(), hex('00 00 FF 06 FA D5 03 32 01 06 07 E8 00'), 'NACK: response again, no ACK');
  const bad = cmd('02');
  bad[bad.length - 2] ^= 0xff;
  chip.hostBytes(bad);
  t.equal(take().length, 0, 'DCS error: no answer at all');
  t.equal(chip.counters.badFramesIn, 1);
  chip.hostBytes(cmd('EE'));
  t.same(take(), Buffer.concat([ACK_FRAME, ERROR_FRAME]), 'unknown command: ACK + error frame');
  chip.hostBytes(cmd('14 09'));
  t.same(take(), Buffer.concat([ACK_FRAME, ERROR_FRAME]), 'bad SAM mode: error frame');
  chip.hostBytes(Buffer.concat([Buffer.from([0x00, 0x00]), hex('00 00 FF 09 F7 D4 00 00 6C 69 62 6E 66 63 BE 00')]));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, Buffer.concat([hex('01 00'), Buffer.from('libnfc')]))]), 'Diagnose echo (libnfc probe)');
});

t.test('InListPassiveTarget: exact target data, finite and infinite retries, host ACK aborts', async (t) => {
  const { chip, take } = awake();
  chip.hostBytes(cmd('32 05 FF 01 02'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('33'))]));
  chip.hostBytes(hex('00 00 FF 04 FC D4 4A 01 00 E1 00'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('4B 00'))]), 'no card, finite retries: 4B 00');
  chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: '01020304' }));
  chip.hostBytes(hex('00 00 FF 04 FC D4 4A 01 00 E1 00'));
  t.same(take(), Buffer.concat([ACK_FRAME, hex('00 00 FF 0C F4 D5 4B 01 01 00 04 08 04 01 02 03 04 C4 00')]), 'MIFARE 1K UID 01020304 (§8)');
  chip.remove();
  chip.hostBytes(cmd('32 05 FF 01 FF'));
  take();
  chip.hostBytes(cmd('4A 01 00'));
  t.same(take(), ACK_FRAME, 'infinite retries, empty field: only the ACK');
  chip.hostBytes(ACK_FRAME);
  chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: '01020304' }));
  t.equal(take().length, 0, 'aborted by host ACK: nothing when a card comes');
  chip.remove();
  chip.hostBytes(cmd('4A 01 00'));
  take();
  chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '08112233', ats: '7877810280' }));
  t.same(take(), encodeFrame(0xd5, hex('4B 01 01 00 04 20 04 08112233 06 7877810280')), 'card arrives: the pending command answers, ATS with TL');
});

t.test('InDataExchange: MIFARE auth ok / fail / card gone (§8 DCS values), READ', async (t) => {
  const { chip, take } = awake();
  chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: '01020304' }));
  chip.hostBytes(cmd('4A 01 00'));
  take();
  chip.hostBytes(cmd('40 01 60 04 FFFFFFFFFFFF 01020304'));
  t.same(take(), Buffer.concat([ACK_FRAME, hex('00 00 FF 03 FD D5 41 00 EA 00')]), 'auth ok');
  chip.hostBytes(hex('00 00 FF 05 FB D4 40 01 30 04 B7 00'));
  const r = take();
  t.same(r.subarray(0, 6), ACK_FRAME);
  t.same(r.subarray(6, 14), hex('00 00 FF 13 ED D5 41 00'), 'read block 4: 16 bytes');
  chip.hostBytes(cmd('40 01 60 08 A0A1A2A3A4A5 01020304'));
  t.same(take(), Buffer.concat([ACK_FRAME, hex('00 00 FF 03 FD D5 41 14 D6 00')]), 'wrong key: 14');
  chip.hostBytes(cmd('40 01 30 04'));
  t.same(take(), Buffer.concat([ACK_FRAME, hex('00 00 FF 03 FD D5 41 01 E9 00')]), 'HALTed after failed auth: timeout');
  chip.hostBytes(cmd('40 01 60 04 FFFFFFFFFFFF 0102030405'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('41 10'))]), 'auth with a 5-byte UID: parameter error');
});

t.test('InDataExchange chaining both ways with an ISO 14443-4 card', async (t) => {
  const data = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 7) & 0xff));
  const { chip, take } = awake();
  chip.tap(
    fieldCardOf({
      type: 'iso14443-4',
      files: { fid: '3F00', children: [{ fid: '1001', data: data.toString('hex'), update: 'always' }] },
    }),
  );
  chip.hostBytes(cmd('4A 01 00'));
  take();
  chip.hostBytes(cmd('40 01 00A4000C021001'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('41 00 9000'))]), 'SELECT EF');
  // READ BINARY, extended Le 0000: 700 bytes + SW, more than one frame
  chip.hostBytes(cmd('40 01 00B00000000000'));
  const first = take();
  t.same(first.subarray(0, 6), ACK_FRAME);
  t.same(first.subarray(6, 14), hex('00 00 FF FF FF 01 09 F6'), 'extended frame: 265 bytes');
  t.equal(first[15], 0x41);
  t.equal(first[16], 0x40, 'status with MI');
  const parts = [first.subarray(17, 17 + 262)];
  for (;;) {
    chip.hostBytes(cmd('40 01'));
    const f = take();
    t.same(f.subarray(0, 6), ACK_FRAME);
    const r = parseFrame(f.subarray(6));
    if (r.status !== 'frame' || r.frame.kind !== 'info' || r.frame.body[0] !== 0x41) {
      t.fail('chained answer frame expected');
      break;
    }
    const body = r.frame.body.subarray(1); // status + data
    parts.push(body.subarray(1));
    if (!(body[0] & 0x40)) break;
    if (parts.length > 5) {
      t.fail('too many chained frames');
      break;
    }
  }
  const whole = Buffer.concat(parts);
  t.same(whole, Buffer.concat([data, hex('6282')]), '700 bytes + 62 82 (end of file before Le) across 3 frames');
  // host -> card chaining: UPDATE BINARY with 600 bytes in 3 InDataExchange frames (Tg | MI)
  const upd = Buffer.concat([hex('00D60000 00 0258'), Buffer.alloc(600, 0x5a)]);
  chip.hostBytes(cmd(`40 41 ${upd.subarray(0, 250).toString('hex')}`));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('41 00'))]), 'chunk 1 acknowledged with status only');
  chip.hostBytes(cmd(`40 41 ${upd.subarray(250, 500).toString('hex')}`));
  take();
  chip.hostBytes(cmd(`40 01 ${upd.subarray(500).toString('hex')}`));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('41 00 9000'))]), 'last chunk: the card answers');
  chip.hostBytes(cmd('40 01 00B0000010'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, Buffer.concat([hex('41 00'), Buffer.alloc(16, 0x5a), hex('9000')]))]), 'written');
});

t.test('presence: R(NAK) via InCommunicateThru, Diagnose 06; InAutoPoll', async (t) => {
  const { chip, take } = awake();
  chip.tap(fieldCardOf({ type: 'iso14443-4' }));
  chip.hostBytes(cmd('4A 01 00'));
  take();
  chip.hostBytes(cmd('42 B2'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('43 00 A2'))]), 'R(ACK)');
  chip.hostBytes(cmd('00 06'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('01 00'))]), 'Diagnose 06: present');
  chip.remove();
  chip.hostBytes(cmd('42 B2'));
  t.same(take(), ACK_FRAME, 'gone: the chip tries first');
  t.same(await new Promise((r) => chip.once('output', r)), encodeFrame(0xd5, hex('43 01')), 'then timeout');
  take();
  chip.hostBytes(cmd('00 06'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('01 01'))]));
  chip.hostBytes(cmd('60 FF 01 20 10'));
  t.same(take(), ACK_FRAME, 'endless InAutoPoll waits');
  chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: 'A1B2C3D4' }));
  // the card came between polling rounds: the answer comes with the next round (docs/pn532.md §17), not at once
  t.equal(take().length, 0, 'nothing before the next round');
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no InAutoPoll answer within 2 s (one round is 150 ms)')), 2000);
    chip.once('output', (b: Buffer) => {
      clearTimeout(timer);
      resolve(b);
    });
  });
  t.same(answer, encodeFrame(0xd5, hex('61 01 10 09 01 0004 08 04 A1B2C3D4')), 'type 10 (MIFARE) with Tg in TargetData, at the next round');
  take();
  // a card already in the field when InAutoPoll starts is found by the first round, at once
  chip.hostBytes(cmd('60 FF 01 20 10'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('61 01 10 09 01 0004 08 04 A1B2C3D4'))]), 'first round: at once');
});

t.test('PowerDown needs the wake-up again; reset returns to LowVbat', async (t) => {
  const { chip, take } = awake();
  chip.hostBytes(cmd('16 F0'));
  t.same(take(), Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('17 00'))]));
  chip.hostBytes(cmd('02'));
  t.equal(take().length, 0, 'asleep');
  chip.hostBytes(Buffer.concat([HSU_WAKEUP, cmd('02')]));
  t.equal(take().subarray(0, 6).equals(ACK_FRAME), true, 'awake again');
  chip.reset();
  chip.hostBytes(cmd('02'));
  t.equal(take().length, 0, 'after reset: asleep (LowVbat), the waking frame lost');
  chip.hostBytes(cmd('16 10'));
  t.equal(take().length, 0, 'LowVbat: PowerDown ignored');
});

t.test('I2C: status byte first, status poll does not consume, IRQ follows the queue', async (t) => {
  const chip = new Pn532Chip('i2c');
  const irq: number[] = [];
  chip.on('irq', (l) => irq.push(l));
  t.same(chip.i2cRead(4), hex('00 00 00 00'), 'not ready');
  chip.i2cWrite(cmd('14 01 14 01'));
  t.same(chip.i2cRead(1), hex('01'), 'status poll: ready');
  t.same(chip.i2cRead(1), hex('01'), 'still ready: a 1-byte read consumes nothing');
  t.same(chip.i2cRead(7), hex('01 00 00 FF 00 FF 00'), 'ACK with status byte (§8)');
  t.same(chip.i2cRead(12), hex('01 00 00 FF 02 FE D5 15 16 00 00 00'), 'response, zero padded');
  t.same(chip.i2cRead(1), hex('00'));
  chip.i2cWrite(cmd('02'));
  t.same(irq, [0, 1, 0], 'IRQ low while frames wait (SAM IRQ on), high once read');
  chip.i2cRead(7);
  chip.i2cRead(20);
  t.equal(chip.irq, 1);
});

t.test('one-shot faults', async (t) => {
  const { chip, take } = awake();
  chip.inject({ kind: 'silent' });
  chip.hostBytes(cmd('02'));
  t.equal(take().length, 0, 'silent: no ACK');
  chip.inject({ kind: 'no-response' });
  chip.hostBytes(cmd('02'));
  t.same(take(), ACK_FRAME, 'no-response: ACK only');
  chip.inject({ kind: 'corrupt' });
  chip.hostBytes(cmd('02'));
  const c = take();
  t.same(c.subarray(0, 6), ACK_FRAME);
  t.notSame(c.subarray(6), hex('00 00 FF 06 FA D5 03 32 01 06 07 E8 00'), 'corrupted response');
  chip.hostBytes(NACK_FRAME);
  t.same(take(), hex('00 00 FF 06 FA D5 03 32 01 06 07 E8 00'), 'NACK brings the clean one');
  chip.inject({ kind: 'reset' });
  chip.hostBytes(cmd('02'));
  t.same(take(), ACK_FRAME, 'reset mid-exchange: ACK, then silence');
  chip.hostBytes(cmd('02'));
  t.equal(take().length, 0, 'LowVbat until woken');
  chip.inject({ kind: 'late-ack', ms: 20 });
  chip.hostBytes(Buffer.concat([HSU_WAKEUP, cmd('14 01')]));
  t.equal(take().length, 0, 'late ACK: nothing yet');
  await new Promise((r) => setTimeout(r, 40));
  t.same(take().subarray(0, 6), ACK_FRAME, 'ACK after the delay');
});
