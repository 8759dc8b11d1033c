/** Malformed APDUs are refused with a clear error before they reach a reader; a fuzz loop never breaks the core. */
import t from 'tap';
import { PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { parseApdu } from '../../src/iso7816/apdu.js';
import { setup } from './fixtures/setup.js';

const MALFORMED: Array<[string, string, RegExp]> = [
  ['', 'empty', /too short/],
  ['00A4', 'two bytes', /too short: 2 bytes/],
  ['00A404', 'three bytes', /too short/],
  ['00A4040005A000', 'Lc says 5, 2 bytes follow', /Lc=5/],
  ['00A40400020102030405', 'Lc 2, too many bytes', /Lc=2/],
  ['00A4040000FF', 'extended marker with 2 bytes', /malformed APDU/],
  ['00A404000000050102', 'extended Lc 5, 2 bytes', /extended Lc=5/],
  ['00A404000000000102', 'extended Lc 0000', /extended Lc=0000/],
];

t.test('malformed APDUs: E_INVALID_PARAMETER naming the problem, the card never sees them', async (t) => {
  const { core, name, card } = await setup();
  const ctx = core.establishContext();
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  for (const [hex, what, msg] of MALFORMED) {
    await t.rejects(core.transmit(handle, protocol, Buffer.from(hex, 'hex')), { code: SCARD.E_INVALID_PARAMETER, message: msg }, what);
  }
  await t.rejects(core.transmit(handle, protocol, '00A40000' as unknown as Buffer), { code: SCARD.E_INVALID_PARAMETER }, 'not a Buffer');
  await t.rejects(core.transmit(handle, protocol, Buffer.alloc(70000)), { code: SCARD.E_INVALID_PARAMETER }, 'too long');
  t.equal(card?.log.length, 0, 'nothing reached the card');
  t.same(await core.transmit(handle, protocol, Buffer.from('00A4040002A00000', 'hex')), Buffer.from('A0009000', 'hex'), 'the handle still works');
  await core.stop();
});

t.test('RAW protocol passes bytes that are not APDUs', async (t) => {
  const { core, name, card } = await setup();
  const ctx = core.establishContext();
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.RAW);
  t.equal(protocol, PROTOCOL.RAW);
  await core.transmit(handle, PROTOCOL.RAW, Buffer.from('FF01', 'hex'));
  t.same(card?.log[0], Buffer.from('FF01', 'hex'));
  await core.stop();
});

t.test('fuzz: random bytes are refused or delivered intact; the core keeps working (seeded)', async (t) => {
  const { core, name, card } = await setup();
  const ctx = core.establishContext();
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  let seed = 0x5eed1234;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let refused = 0;
  let delivered = 0;
  for (let i = 0; i < 3000; i++) {
    const len = rnd(4) === 0 ? rnd(300) : rnd(12);
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = rnd(256);
    // Often a plausible case 3/4 length byte, so both paths get exercised.
    if (len >= 7 && len - 5 <= 255 && rnd(3) !== 0) b[4] = len - 5 - rnd(2);
    let wellFormed = true;
    try {
      parseApdu(b);
    } catch {
      wellFormed = false;
    }
    const before = card!.log.length;
    try {
      await core.transmit(handle, protocol, b);
      delivered++;
      if (!wellFormed) t.fail(`malformed APDU delivered: ${b.toString('hex')}`);
      if (!card!.log[before].equals(b)) t.fail('APDU altered on its way');
    } catch (e) {
      refused++;
      const code = (e as { code?: number }).code;
      if (code !== SCARD.E_INVALID_PARAMETER) t.fail(`unexpected error ${String(e)}`);
      if (wellFormed) t.fail(`well-formed APDU refused: ${b.toString('hex')}`);
      if (card!.log.length !== before) t.fail('a refused APDU reached the card');
    }
  }
  t.ok(refused > 100 && delivered > 100, `both paths exercised (${refused} refused, ${delivered} delivered)`);
  t.same(await core.transmit(handle, protocol, Buffer.from('0084000008', 'hex')), Buffer.from('9000', 'hex'));
  await core.stop();
});

t.test('a driver answering less than a status word is a communication error', async (t) => {
  const { core, name, card } = await setup();
  card!.handler = () => Buffer.from([0x90]);
  const ctx = core.establishContext();
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  await t.rejects(core.transmit(handle, protocol, Buffer.from('0084000008', 'hex')), { code: SCARD.F_COMM_ERROR });
  await core.stop();
});

t.test('transmit timeout: the caller gets E_TIMEOUT, the slot recovers when the driver answers', async (t) => {
  const { core, name, card, slot } = await setup({ transmitTimeoutMs: 100 });
  let release: () => void = () => undefined;
  let hang = true;
  card!.handler = () =>
    hang
      ? new Promise<Buffer>((res) => {
          release = () => res(Buffer.from([0x90, 0x00]));
        })
      : Buffer.from([0x90, 0x00]);
  const errors: number[] = [];
  core.on('reader-error', (_r, e) => errors.push((e as unknown as { code: number }).code));
  const ctx = core.establishContext();
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  await t.rejects(core.transmit(handle, protocol, Buffer.from('0084000008', 'hex')), { code: SCARD.E_TIMEOUT });
  t.same(errors, [SCARD.E_TIMEOUT], 'reported as a reader error');
  await t.rejects(core.transmit(handle, protocol, Buffer.from('0084000008', 'hex')), { code: SCARD.E_TIMEOUT, message: /still busy/ }, 'no second exchange on a stuck wire');
  t.equal(slot.maxInFlight, 1);
  hang = false;
  release();
  await new Promise((r) => setImmediate(r));
  t.same(await core.transmit(handle, protocol, Buffer.from('0084000008', 'hex')), Buffer.from('9000', 'hex'));
  await core.stop();
});
