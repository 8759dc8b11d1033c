/** The core runs T=0 and T=1 for TPDU-level slots, and passes APDUs through for APDU-level slots. */
import t from 'tap';
import { DISPOSITION, PROTOCOL, SHARE } from '../../src/pcsc/constants.js';
import { T1Card } from '../../src/iso7816/t1-card.js';
import { ATR, TestCard } from './fixtures/test-driver.js';
import { setup } from './fixtures/setup.js';

const DATA = Buffer.from('0102030405060708090A', 'hex');

/** A T=0 card at TPDU level: case 4 answers 61 xx, GET RESPONSE delivers, a wrong P3 on case 2 gets 6C xx. */
function t0Card(): TestCard {
  let pending: Buffer | undefined;
  return new TestCard(ATR.T0, (tpdu) => {
    const ins = tpdu[1];
    if (ins === 0xc0) {
      const p = pending ?? Buffer.alloc(0);
      if (tpdu[4] !== p.length) return Buffer.from([0x6c, p.length]);
      pending = undefined;
      return Buffer.concat([p, Buffer.from([0x90, 0x00])]);
    }
    if (ins === 0xb0) {
      // READ BINARY: exactly 10 bytes available.
      if (tpdu[4] !== DATA.length) return Buffer.from([0x6c, DATA.length]);
      return Buffer.concat([DATA, Buffer.from([0x90, 0x00])]);
    }
    if (ins === 0xa4) {
      pending = Buffer.from('6F0A8201388302' + '3F00' + '8A0105', 'hex');
      return Buffer.from([0x61, pending.length]);
    }
    return Buffer.from([0x6d, 0x00]);
  });
}

t.test('T=0 at TPDU level: GET RESPONSE after 61xx and re-issue after 6Cxx are the core\'s job', async (t) => {
  const card = t0Card();
  const { core, name, slot } = await setup({ card });
  slot.level = 'tpdu';
  const ctx = core.establishContext();
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  t.equal(protocol, PROTOCOL.T0);
  const sel = await core.transmit(handle, protocol, Buffer.from('00A40000023F0000', 'hex'));
  t.same(sel, Buffer.from('6F0A82013883023F008A01059000', 'hex'), 'case 4: response fetched with GET RESPONSE');
  const rb = await core.transmit(handle, protocol, Buffer.from('00B0000000', 'hex'));
  t.same(rb, Buffer.concat([DATA, Buffer.from([0x90, 0x00])]), 'case 2 with Le 256: re-issued with the card\'s length');
  t.same(
    card.log.map((b) => b.toString('hex').toUpperCase()),
    ['00A40000023F00', '00C000000C', '00B0000000', '00B000000A'],
    'TPDUs on the wire',
  );
  await core.stop();
});

t.test('APDU-level slots get the APDU unchanged, 61xx goes back to the application', async (t) => {
  const card = t0Card();
  const { core, name } = await setup({ card });
  const ctx = core.establishContext();
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  const sel = await core.transmit(handle, protocol, Buffer.from('00A40000023F0000', 'hex'));
  t.same(sel, Buffer.from('610C', 'hex'));
  t.same(card.log.map((b) => b.toString('hex').toUpperCase()), ['00A40000023F0000']);
  await core.stop();
});

t.test('T=1 at TPDU level: blocks, chaining, IFSD announced, errors recovered', async (t) => {
  const apdus: Buffer[] = [];
  const t1 = new T1Card(
    (apdu) => {
      apdus.push(apdu);
      // Echo the command data three times: a response longer than one block.
      const d = apdu.subarray(5, 5 + apdu[4]);
      return Buffer.concat([d, d, d, Buffer.from([0x90, 0x00])]);
    },
    { ifsc: 32, maxInf: 20 },
  );
  let epoch = -1;
  const card = new TestCard(ATR.T0_T1, (block, c) => {
    if (c.epoch !== epoch) {
      epoch = c.epoch;
      t1.reset();
    }
    return t1.handleBlock(block);
  });
  const { core, name, slot } = await setup({ card });
  slot.level = 'tpdu';
  const ctx = core.establishContext();
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  t.equal(protocol, PROTOCOL.T1);
  const payload = Buffer.alloc(100, 0x5a);
  const cmd = Buffer.concat([Buffer.from([0x80, 0x01, 0x00, 0x00, payload.length]), payload, Buffer.from([0x00])]);
  const r = await core.transmit(handle, protocol, cmd);
  t.same(r, Buffer.concat([payload, payload, payload, Buffer.from([0x90, 0x00])]), 'chained both ways');
  t.same(apdus[0], cmd, 'the card got the whole APDU');
  t.equal(t1.ifsd, 254, 'IFSD announced with S(IFS)');
  t1.inject('corrupt-edc', 1);
  const r2 = await core.transmit(handle, protocol, Buffer.from('8001000002AABB00', 'hex'));
  t.same(r2, Buffer.from('AABBAABBAABB9000', 'hex'), 'a corrupted block is recovered');
  // After a reset the T=1 state starts again (sequence numbers from 0).
  await core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.RESET);
  const r3 = await core.transmit(handle, protocol, Buffer.from('8001000001CC00', 'hex'));
  t.same(r3, Buffer.from('CCCCCC9000', 'hex'));
  await core.stop();
});
