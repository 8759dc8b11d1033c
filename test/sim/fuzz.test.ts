/**
 * Seeded fuzz of the card models and the part 3 layer: random and mutated
 * APDUs/TPDUs never throw, always answer with a status word, and the card
 * still works afterwards.
 */
import t from 'tap';
import { createCard, CARD_TYPES } from '../../drivers/sim/cards/index.js';
import { CardTarget } from '../../drivers/sim/contactless-target.js';
import { Part3Reader } from '../../src/contactless/part3.js';
import { h, hx } from './helpers.js';
import { rng } from '../helpers/prng.js';

/** Mostly well-formed-looking commands around the INS values the cards know, some pure noise. */
function randomCommand(rand: () => number, cla: number): Buffer {
  const kind = rand();
  const byte = (): number => Math.floor(rand() * 256);
  if (kind < 0.15) return Buffer.from(Array.from({ length: Math.floor(rand() * 12) }, byte));
  const ins = [0xa4, 0xb0, 0xd6, 0x20, 0x24, 0x2c, 0x84, 0xca, 0xc0, 0x82, 0x86, 0x88, byte()][Math.floor(rand() * 13)];
  const head = [rand() < 0.8 ? cla : byte(), ins, rand() < 0.5 ? 0 : byte(), rand() < 0.5 ? 0 : byte()];
  const nc = rand() < 0.4 ? 0 : Math.floor(rand() * (rand() < 0.1 ? 300 : 20));
  const data = Array.from({ length: nc }, byte);
  const parts: number[] = [...head];
  if (nc > 255) parts.push(0, nc >> 8, nc & 0xff, ...data);
  else if (nc > 0) parts.push(nc, ...data);
  if (rand() < 0.5) parts.push(byte());
  if (rand() < 0.1) parts.pop();
  return Buffer.from(parts);
}

t.test('every card type answers random commands with a status word and keeps working', async (t) => {
  for (const type of CARD_TYPES) {
    const rand = rng(type.length * 7919);
    const card = createCard(type);
    const target = CardTarget.for(card);
    const reader = new Part3Reader();
    let answered = 0;
    for (let i = 0; i < 3000; i++) {
      const cmd = randomCommand(rand, target && card.interface === 'storage' ? 0xff : rand() < 0.5 ? 0x00 : 0xff);
      let r: Buffer;
      try {
        r = target ? await reader.transmit(target, cmd) : card.process(cmd);
      } catch (e) {
        t.fail(`${type}: ${hx(cmd)} threw ${String(e)}`);
        return;
      }
      if (r.length < 2) {
        t.fail(`${type}: ${hx(cmd)} answered ${hx(r)} without a status word`);
        return;
      }
      answered++;
      if (rand() < 0.01) card.reset();
    }
    t.equal(answered, 3000, `${type}: 3000 answers`);
    card.reset();
    // Still usable: a known-good exchange per type.
    if (card.interface !== 'storage') t.equal(hx(card.process(h('00A4000C023F00'))), '9000', `${type} still selects the MF`);
    else t.equal(hx(await reader.transmit(target as CardTarget, h('FFCA000000'))).slice(-4), '9000', `${type} still gives its UID`);
  }
});

t.test('T=1 TPDU card: random blocks never throw and leave it usable after a reset', async (t) => {
  const rand = rng(0x71);
  const card = createCard('iso7816-t1-tpdu');
  for (let i = 0; i < 2000; i++) {
    const block = Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)));
    const r = await card.exchangeBlock!(block);
    if (!Buffer.isBuffer(r)) {
      t.fail(`block ${hx(block)} gave no buffer`);
      return;
    }
  }
  card.reset();
  // I(0) block with SELECT MF, LRC over NAD PCB LEN INF.
  const inf = h('00A4000C023F00');
  const raw = Buffer.concat([Buffer.from([0x00, 0x00, inf.length]), inf]);
  const lrc = raw.reduce((a, b) => a ^ b, 0);
  const resp = await card.exchangeBlock!(Buffer.concat([raw, Buffer.from([lrc])]));
  t.equal(hx(resp.subarray(3, 5)), '9000', 'answers an I-block after the noise');
});
