import t from 'tap';
import { DISPOSITION, PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { ATR, TestCard } from './fixtures/test-driver.js';
import { setup, until } from './fixtures/setup.js';

const PLAIN = 0xffff;
/** Case 3 APDU carrying a transaction tag (2 bytes) and a sequence number in P2. */
const tagged = (tag: number, seq: number): Buffer => Buffer.from([0x80, 0x10, 0x00, seq & 0xff, 0x02, tag >> 8, tag & 0xff]);
const tagOf = (apdu: Buffer): number => (apdu[5] << 8) | apdu[6];

/** A card that answers after a turn of the event loop, so exchanges could interleave if the core let them. */
const slowCard = (): TestCard =>
  new TestCard(ATR.T0_T1, async (apdu) => {
    await new Promise((r) => setImmediate(r));
    return Buffer.concat([apdu.subarray(5), Buffer.from([0x90, 0x00])]);
  });

t.test('50 contexts hammering one shared slot with transactions: never interleaved, no deadlock', async (t) => {
  const card = slowCard();
  const { core, name, slot } = await setup({ card });
  const CONTEXTS = 50;
  const TXNS = 4;
  const APDUS = 5;
  const expected = new Map<number, number>();
  const workers = Array.from({ length: CONTEXTS }, async (_, i) => {
    const ctx = core.establishContext(`worker ${i}`);
    const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
    for (let n = 0; n < TXNS; n++) {
      const tag = i * 100 + n;
      expected.set(tag, APDUS);
      await core.beginTransaction(handle);
      for (let k = 0; k < APDUS; k++) {
        const r = await core.transmit(handle, protocol, tagged(tag, k));
        t.equal(r.readUInt16BE(0), tag, 'own answer');
      }
      await core.endTransaction(handle, DISPOSITION.LEAVE);
    }
    await core.releaseContext(ctx);
  });
  // Handles without transactions transmit at the same time; they must never land inside one.
  const plain = Array.from({ length: 5 }, async () => {
    const ctx = core.establishContext('plain');
    const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
    for (let k = 0; k < 20; k++) await core.transmit(handle, protocol, tagged(PLAIN, k));
    await core.releaseContext(ctx);
  });
  await Promise.all([...workers, ...plain]);

  t.equal(slot.maxInFlight, 1, 'one exchange on the wire at a time');
  // Every transaction's APDUs form one contiguous run, in order.
  const log = card.log;
  t.equal(log.length, CONTEXTS * TXNS * APDUS + 5 * 20);
  const seen = new Set<number>();
  let i = 0;
  let interleaved = 0;
  while (i < log.length) {
    const tag = tagOf(log[i]);
    if (tag === PLAIN) {
      i++;
      continue;
    }
    if (seen.has(tag)) interleaved++;
    seen.add(tag);
    for (let k = 0; k < APDUS; k++, i++) {
      if (tagOf(log[i]) !== tag || log[i][3] !== k) {
        interleaved++;
        break;
      }
    }
  }
  t.equal(interleaved, 0, 'no exchange of one transaction interleaved with another');
  t.equal(seen.size, expected.size, 'every transaction ran');
  t.equal(core.reader(name)?.sharing, 0);
  t.same(core.diagnostics().handles, 0);
  await core.stop();
});

t.test('waiting transactions are granted in FIFO order, plain transmits keep their place', async (t) => {
  const card = slowCard();
  const { core, name } = await setup({ card });
  const ctx = core.establishContext();
  const conn = async () => (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const holder = await conn();
  await core.beginTransaction(holder);
  const order: string[] = [];
  const waiters = await Promise.all(Array.from({ length: 10 }, () => conn()));
  const plainHandle = await conn();
  const done: Promise<void>[] = [];
  waiters.forEach((h, i) => {
    done.push(
      core.beginTransaction(h).then(async () => {
        order.push(`txn${i}`);
        await core.transmit(h, PROTOCOL.T1, tagged(i, 0));
        await core.endTransaction(h, DISPOSITION.LEAVE);
      }),
    );
    if (i === 4) {
      // A plain transmit queued between waiter 4 and waiter 5 runs between their transactions.
      done.push(core.transmit(plainHandle, PROTOCOL.T1, tagged(PLAIN, 0)).then(() => void order.push('plain')));
    }
  });
  await core.transmit(holder, PROTOCOL.T1, tagged(99, 0));
  t.same(order, [], 'nobody got in while the lock is held');
  await core.endTransaction(holder, DISPOSITION.LEAVE);
  await Promise.all(done);
  t.same(order, ['txn0', 'txn1', 'txn2', 'txn3', 'txn4', 'plain', 'txn5', 'txn6', 'txn7', 'txn8', 'txn9']);
  t.same(card.log.map(tagOf), [99, 0, 1, 2, 3, 4, PLAIN, 5, 6, 7, 8, 9], 'the card saw them in that order');
  await core.stop();
});

t.test('nested transactions and extra end', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.beginTransaction(a);
  await core.beginTransaction(a);
  await core.endTransaction(a, DISPOSITION.LEAVE);
  let bGot = false;
  const bBegin = core.beginTransaction(b).then(() => void (bGot = true));
  await core.transmit(a, PROTOCOL.T1, tagged(1, 0));
  t.notOk(bGot, 'still held after one of two ends');
  await t.rejects(core.endTransaction(b, DISPOSITION.LEAVE), { code: SCARD.E_SHARING_VIOLATION }, 'ending a transaction another handle holds');
  await core.endTransaction(a, DISPOSITION.LEAVE);
  await bBegin;
  t.ok(bGot);
  await core.endTransaction(b, DISPOSITION.LEAVE);
  await t.rejects(core.endTransaction(b, DISPOSITION.LEAVE), { code: SCARD.E_NOT_TRANSACTED }, 'extra end');
  await t.rejects(core.endTransaction(a, DISPOSITION.LEAVE), { code: SCARD.E_NOT_TRANSACTED }, 'end without begin');
  await core.stop();
});

t.test('a context dropped mid-transaction frees the slot; its card is reset first', async (t) => {
  const card = slowCard();
  const { core, name } = await setup({ card });
  const ctxA = core.establishContext('dies');
  const ctxB = core.establishContext('waits');
  const a = (await core.connect(ctxA, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctxB, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.beginTransaction(a);
  await core.transmit(a, PROTOCOL.T1, tagged(1, 0));
  const resetsBefore = card.resets;
  const bBegin = core.beginTransaction(b);
  const bTransmit = core.transmit(b, PROTOCOL.T1, tagged(2, 0));
  await core.releaseContext(ctxA);
  t.equal(card.resets, resetsBefore + 1, 'the abandoned transaction reset the card');
  // pcscd: the reset flags every handle on the reader; B must reconnect before using the card.
  await t.rejects(bBegin, { code: SCARD.W_RESET_CARD });
  await t.rejects(bTransmit, { code: SCARD.W_RESET_CARD });
  await core.reconnect(b, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  await core.beginTransaction(b);
  t.same(await core.transmit(b, PROTOCOL.T1, tagged(3, 0)), Buffer.from([0, 3, 0x90, 0]));
  await core.endTransaction(b, DISPOSITION.LEAVE);
  t.equal(core.isValidContext(ctxA), false);
  await t.rejects(core.transmit(a, PROTOCOL.T1, tagged(1, 1)), { code: SCARD.E_INVALID_HANDLE });
  await core.stop();
});

t.test('a dropped context that did not hold the lock leaves the card alone', async (t) => {
  const card = new TestCard(ATR.T0_T1);
  const { core, name } = await setup({ card });
  const ctxA = core.establishContext();
  const ctxB = core.establishContext();
  await core.connect(ctxA, name, SHARE.SHARED, PROTOCOL.ANY);
  const b = (await core.connect(ctxB, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.releaseContext(ctxA);
  t.equal(card.resets, 0);
  await core.transmit(b, PROTOCOL.T1, tagged(1, 0));
  t.equal(core.reader(name)?.sharing, 1);
  await core.stop();
});

t.test('many contexts dropped while waiting and holding: no deadlock, slot usable', async (t) => {
  const card = slowCard();
  const { core, name } = await setup({ card });
  const ctxs = Array.from({ length: 20 }, () => core.establishContext());
  const handles = await Promise.all(ctxs.map(async (c) => (await core.connect(c, name, SHARE.SHARED, PROTOCOL.ANY)).handle));
  const begins = handles.map((h) => core.beginTransaction(h).catch((e) => e));
  await until(() => core.diagnostics().readers !== undefined);
  await Promise.all(ctxs.map((c) => core.releaseContext(c)));
  await Promise.all(begins);
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.EXCLUSIVE, PROTOCOL.ANY);
  t.ok(handle, 'exclusive connect possible once everyone left');
  await core.beginTransaction(handle);
  await core.endTransaction(handle, DISPOSITION.LEAVE);
  await core.stop();
});

t.test('50 contexts, a fifth of them dropped mid-transaction: the rest finish, never interleaved', async (t) => {
  const card = slowCard();
  const { core, name } = await setup({ card });
  const CONTEXTS = 50;
  const APDUS = 4;
  /** Tags of transactions that ran to their end (their APDUs must be one contiguous run). */
  const completed = new Set<number>();
  let resets = 0;
  const workers = Array.from({ length: CONTEXTS }, async (_, i) => {
    const ctx = core.establishContext(`worker ${i}`);
    const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
    const dies = i % 5 === 0;
    for (let n = 0; n < 3; n++) {
      const tag = i * 100 + n;
      try {
        await core.beginTransaction(handle);
        for (let k = 0; k < APDUS; k++) {
          await core.transmit(handle, PROTOCOL.T1, tagged(tag, k));
          if (dies && n === 1 && k === 1) {
            // The client vanishes in the middle of its transaction.
            await core.releaseContext(ctx);
            return;
          }
        }
        await core.endTransaction(handle, DISPOSITION.LEAVE);
        completed.add(tag);
      } catch (e) {
        // Someone's abandoned transaction reset the card: reconnect and redo, as OpenSC does.
        t.equal((e as { code?: number }).code, SCARD.W_RESET_CARD, 'only reset warnings');
        resets++;
        await core.endTransaction(handle, DISPOSITION.LEAVE).catch(() => undefined);
        await core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
        n--;
      }
    }
    await core.releaseContext(ctx);
  });
  await Promise.all(workers);
  t.equal(completed.size, 40 * 3 + 10 * 1, 'every surviving transaction completed');
  t.ok(resets > 0, 'dropped holders reset the card');
  // Each completed transaction's APDUs are one contiguous, ordered run in the card's log.
  const log = card.log;
  let broken = 0;
  for (const tag of completed) {
    let last = -1;
    for (let i = log.length - 1; i >= 0; i--) {
      if (tagOf(log[i]) === tag && log[i][3] === APDUS - 1) {
        last = i;
        break;
      }
    }
    for (let k = 0; k < APDUS; k++) {
      const e = log[last - (APDUS - 1) + k];
      if (!e || tagOf(e) !== tag || e[3] !== k) broken++;
    }
  }
  t.equal(broken, 0, 'no completed transaction was interleaved');
  t.equal(core.diagnostics().handles, 0);
  t.equal(core.reader(name)?.sharing, 0);
  await core.stop();
});
