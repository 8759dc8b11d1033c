import t from 'tap';
import type { ReaderSnapshot } from '../../src/core/api.js';
import { ReaderTable, TABLE_SIZE, ENTRY_SIZE, decodeTable } from '../../src/api/pcsc/reader-table.js';

const snap = (name: string, over: Partial<ReaderSnapshot> = {}): ReaderSnapshot => ({
  name, driver: 'sim', state: 2, eventCounter: 0, sharing: 0, atr: Buffer.alloc(0), protocol: 0, available: true, mute: false,
  since: '', capabilities: { feedback: false, simulate: true, contactless: false, pinpad: false }, ...over,
});

t.test('entries keep their index; new readers take the first free one; freed entries keep the counter', async (t) => {
  let readers = [snap('A 00 00'), snap('B 01 00'), snap('C 02 00', { eventCounter: 7 })];
  const table = new ReaderTable({ readers: () => readers });
  t.equal(table.current.length, TABLE_SIZE);
  t.equal(TABLE_SIZE, 2944);
  t.same(decodeTable(table.current).map((e) => [e.index, e.name]), [[0, 'A 00 00'], [1, 'B 01 00'], [2, 'C 02 00']]);
  readers = [readers[0], readers[2]];
  t.ok(table.refresh(), 'removal changes the table');
  const raw = table.current;
  t.equal(raw.readUInt32LE(1 * ENTRY_SIZE + 176), 34, 'freed entry: atrLen 34 (not initialised)');
  readers = [...readers, snap('D 03 00')];
  t.ok(table.refresh());
  t.same(decodeTable(table.current).map((e) => [e.index, e.name]), [[0, 'A 00 00'], [1, 'D 03 00'], [2, 'C 02 00']]);
  t.notOk(table.refresh(), 'no change, no new table');
  const before = table.current;
  readers = readers.map((r) => (r.name === 'A 00 00' ? { ...r, state: 0x34, eventCounter: 1, atr: Buffer.from('3b00', 'hex'), protocol: 1, sharing: 2 } : r));
  t.ok(table.refresh());
  t.not(table.current, before, 'a new Buffer: one already queued on a socket is never modified');
  t.same(decodeTable(table.current)[0], { index: 0, name: 'A 00 00', eventCounter: 1, state: 0x34, sharing: 2, atr: Buffer.from('3b00', 'hex'), protocol: 1 });
});

t.test("update(): one reader's entry in place, the same bytes a full refresh writes", async (t) => {
  let readers = [snap('A 00 00'), snap('B 01 00', { state: 0x34, atr: Buffer.from('3b00', 'hex'), protocol: 2 })];
  const table = new ReaderTable({ readers: () => readers });
  const current = table.current;
  t.notOk(table.update(readers[1]), 'nothing changed: false');
  readers = [readers[0], { ...readers[1], sharing: 1, eventCounter: 3, atr: Buffer.from('3b01', 'hex') }];
  t.ok(table.update(readers[1]), 'sharing and ATR changed: true');
  t.equal(table.current, current, 'written in place (the socket queues a copy for a slow client)');
  const reference = new ReaderTable({ readers: () => readers });
  reference.refresh();
  t.same(table.current, reference.current, 'same bytes as a table built from scratch');
  t.same(decodeTable(table.current)[1], { index: 1, name: 'B 01 00', eventCounter: 3, state: 0x34, sharing: 1, atr: Buffer.from('3b01', 'hex'), protocol: 2 });
  readers = [...readers, snap('C 02 00', { sharing: 2 })];
  t.ok(table.update(readers[2]), 'a reader without an entry: full refresh');
  t.same(decodeTable(table.current).map((e) => [e.index, e.name, e.sharing]), [[0, 'A 00 00', 0], [1, 'B 01 00', 1], [2, 'C 02 00', 2]]);
});

t.test('more than 16 readers: the rest wait for a free entry', async (t) => {
  let readers = Array.from({ length: 18 }, (_, i) => snap(`R${i}`));
  const table = new ReaderTable({ readers: () => readers });
  t.equal(decodeTable(table.current).length, 16);
  t.same(table.overflow, ['R16', 'R17']);
  readers = readers.filter((r) => r.name !== 'R3');
  table.refresh();
  t.equal(decodeTable(table.current)[3].name, 'R16');
  t.same(table.overflow, ['R17']);
});

t.test('unavailable readers and oversized ATRs', async (t) => {
  const table = new ReaderTable({ readers: () => [snap('U', { available: false, state: 0x34, atr: Buffer.alloc(10, 1), protocol: 2 }), snap('X', { state: 0x34, atr: Buffer.alloc(40, 1) })] });
  const [u, x] = decodeTable(table.current);
  t.same([u.state, u.atr.length, u.protocol], [1, 0, 0], 'UNKNOWN, no ATR, no protocol');
  t.equal(x.atr.length, 0, 'never PRESENT with an ATR longer than 33 bytes');
});
