/** Unit tests of the core's small parts: slot queue, transaction lock, status evaluation, APDU check, protocol choice. */
import t from 'tap';
import { SlotQueue, SYSTEM_OWNER, NO_HANDLE_OWNER } from '../../src/core/slot-queue.js';
import { TransactionLock } from '../../src/core/transactions.js';
import { evaluateReader } from '../../src/core/status-change.js';
import { isWellFormedApdu } from '../../src/core/apdu-check.js';
import { atrProtocols, chooseProtocol } from '../../src/core/protocol-choice.js';
import { parseApdu } from '../../src/iso7816/apdu.js';
import { CARD_STATE, PROTOCOL, SCARD, STATE } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import type { ReaderSnapshot } from '../../src/core/api.js';
import { ATR } from './fixtures/test-driver.js';

t.test('SlotQueue: one wire job at a time, FIFO, lock owners bypass waiting jobs', async (t) => {
  const lock = new TransactionLock();
  const q = new SlotQueue((o) => o === SYSTEM_OWNER || lock.allows(o), 1000, () => undefined);
  const order: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const wire = (name: string) => async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    order.push(name);
    inFlight--;
    return name;
  };
  lock.acquire(7);
  const jobs = [
    q.run(5, true, wire('other-1')),
    q.run(7, true, wire('holder-1')),
    q.run(NO_HANDLE_OWNER, true, wire('connect')),
    q.run(7, true, wire('holder-2')),
    q.run(SYSTEM_OWNER, true, wire('system')),
  ];
  await Promise.all([jobs[1], jobs[3], jobs[4]]);
  t.same(order, ['holder-1', 'holder-2', 'system'], 'only the holder and the core ran while locked');
  lock.releaseAll(7);
  q.pump();
  await Promise.all(jobs);
  t.same(order, ['holder-1', 'holder-2', 'system', 'other-1', 'connect'], 'then the others, in order');
  t.equal(maxInFlight, 1);
});

t.test('SlotQueue: drop and close fail queued jobs with the given error', async (t) => {
  const lock = new TransactionLock();
  const q = new SlotQueue((o) => lock.allows(o), 1000, () => undefined);
  lock.acquire(1);
  const a = q.run(2, true, () => 'a');
  const b = q.run(3, true, () => 'b');
  q.drop(2, () => new PcscError(SCARD.E_INVALID_HANDLE));
  await t.rejects(a, { code: SCARD.E_INVALID_HANDLE });
  q.close(new PcscError(SCARD.E_READER_UNAVAILABLE));
  await t.rejects(b, { code: SCARD.E_READER_UNAVAILABLE });
  await t.rejects(q.run(1, true, () => 'c'), { code: SCARD.E_READER_UNAVAILABLE }, 'closed for good');
});

t.test('SlotQueue: a job that throws synchronously fails only its caller', async (t) => {
  const q = new SlotQueue(() => true, 1000, () => undefined);
  await t.rejects(
    q.run(1, true, () => {
      throw new PcscError(SCARD.E_NOT_TRANSACTED);
    }),
    { code: SCARD.E_NOT_TRANSACTED },
  );
  t.equal(await q.run(1, true, () => Promise.resolve(42)), 42);
  t.equal(await q.run(1, false, () => 43), 43);
});

t.test('TransactionLock: nesting, exclusive base level, extra end', async (t) => {
  const l = new TransactionLock();
  l.acquire(1);
  l.acquire(1);
  t.ok(l.heldByOther(2));
  t.throws(() => l.end(2, false), { code: SCARD.E_SHARING_VIOLATION });
  l.end(1, false);
  t.equal(l.holder, 1);
  l.end(1, false);
  t.equal(l.holder, 0);
  t.throws(() => l.end(1, false), { code: SCARD.E_NOT_TRANSACTED });
  l.acquire(3);
  t.throws(() => l.end(3, true), { code: SCARD.E_NOT_TRANSACTED }, 'exclusive never drops its base level');
  l.acquire(3);
  l.end(3, true);
  t.equal(l.count, 1);
});

const snap = (over: Partial<ReaderSnapshot>): ReaderSnapshot => ({
  name: 'R 00 00',
  driver: 't',
  state: CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE,
  eventCounter: 3,
  sharing: 0,
  atr: ATR.T0,
  protocol: 0,
  available: true,
  mute: false,
  since: '',
  capabilities: { feedback: false, simulate: false, contactless: false, pinpad: false },
  ...over,
});

t.test('status evaluation follows pcsc-lite\'s rules', async (t) => {
  const present = evaluateReader(0, snap({}));
  t.equal(present.eventState, (3 << 16) | STATE.PRESENT | STATE.CHANGED, 'UNAWARE: always changed, counter in the upper bits');
  t.same(present.atr, ATR.T0);
  const known = present.eventState & ~STATE.CHANGED;
  t.notOk(evaluateReader(known, snap({})).changed, 'same state');
  t.notOk(evaluateReader(STATE.PRESENT, snap({})).changed, 'counter 0 in the caller\'s state means "no counter"');
  t.ok(evaluateReader(known, snap({ eventCounter: 5 })).changed, 'counter moved');
  const empty = evaluateReader(known, snap({ state: CARD_STATE.ABSENT, atr: Buffer.alloc(0) }));
  t.equal(empty.eventState, (3 << 16) | STATE.EMPTY | STATE.CHANGED);
  t.equal(empty.atr.length, 0);
  const mute = evaluateReader(known, snap({ state: CARD_STATE.PRESENT | CARD_STATE.SWALLOWED }));
  t.ok(mute.eventState & STATE.MUTE && mute.changed);
  t.ok(evaluateReader(known, snap({ sharing: -1 })).eventState & STATE.EXCLUSIVE);
  t.ok(evaluateReader(known, snap({ sharing: 2 })).eventState & STATE.INUSE);
  t.notOk(evaluateReader(known, snap({ sharing: 2, state: CARD_STATE.ABSENT })).eventState & STATE.INUSE, 'INUSE only with a card');
  t.equal(evaluateReader(known, snap({ state: CARD_STATE.UNKNOWN })).eventState, STATE.UNAVAILABLE | STATE.CHANGED, 'UNAVAILABLE alone');
  t.ok(evaluateReader(known | STATE.UNKNOWN, snap({})).changed, 'caller\'s UNKNOWN: changed');
  t.equal(evaluateReader(known, undefined).eventState, STATE.UNKNOWN | STATE.UNAVAILABLE | STATE.CHANGED, 'gone');
  t.notOk(evaluateReader(STATE.UNKNOWN, undefined).changed, 'gone and known to be');
});

t.test('APDU shape check agrees with the codec on every short layout', async (t) => {
  let checked = 0;
  for (let len = 0; len <= 262; len++) {
    for (const b4 of [0, 1, 2, len - 5, len - 6, len - 7, 255]) {
      for (const ext of [0, 1, 2, len - 7, len - 9]) {
        const b = Buffer.alloc(len, 0x11);
        if (len > 4) b[4] = b4 & 0xff;
        if (len > 6) {
          b[5] = (ext >> 8) & 0xff;
          b[6] = ext & 0xff;
        }
        let codec = true;
        try {
          parseApdu(b);
        } catch {
          codec = false;
        }
        if (isWellFormedApdu(b) !== codec) t.fail(`disagree on ${b.toString('hex')}`);
        checked++;
      }
    }
  }
  t.ok(checked > 5000, `${checked} layouts`);
});

t.test('protocol choice', async (t) => {
  const both = atrProtocols(ATR.T0_T1);
  t.equal(both.offered, PROTOCOL.T0 | PROTOCOL.T1);
  t.equal(chooseProtocol(PROTOCOL.ANY, both), PROTOCOL.T1, 'T=1 preferred');
  t.equal(chooseProtocol(PROTOCOL.T0, both), PROTOCOL.T0);
  t.equal(chooseProtocol(PROTOCOL.RAW | PROTOCOL.T1, both), PROTOCOL.RAW);
  t.equal(chooseProtocol(PROTOCOL.ANY_LEGACY, both), PROTOCOL.T1);
  const t0 = atrProtocols(ATR.T0);
  t.throws(() => chooseProtocol(PROTOCOL.T1, t0), { code: SCARD.E_PROTO_MISMATCH, message: /offers T=0/ });
  const specific = atrProtocols(Buffer.from('3B80110190', 'hex')); // TD1 = 11 (T=1, TA2 follows), TA2 = 01: specific mode T=1
  t.equal(specific.specific, PROTOCOL.T1);
  t.throws(() => chooseProtocol(PROTOCOL.T0, specific), { code: SCARD.E_PROTO_MISMATCH });
  const junk = atrProtocols(Buffer.from([0x42]));
  t.equal(junk.offered, PROTOCOL.T0 | PROTOCOL.T1, 'an unparsable ATR refuses nothing');
});
