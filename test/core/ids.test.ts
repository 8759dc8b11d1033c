import t from 'tap';
import { IdPool } from '../../src/core/ids.js';

t.test('ids: non-zero 31-bit, unique while taken, across many CSPRNG batches', async (t) => {
  const pool = new IdPool();
  const seen = new Set<number>();
  for (let i = 0; i < 5000; i++) {
    const id = pool.take();
    if (!(Number.isInteger(id) && id >= 1 && id <= 0x7ffffffe)) t.fail(`id ${id} outside 1..0x7ffffffe`);
    if (seen.has(id)) t.fail(`id ${id} handed out twice while taken`);
    seen.add(id);
  }
  t.equal(seen.size, 5000, 'every id distinct');
  // Random, not sequential: 5000 ids spread over the 31-bit range reach its top half.
  t.ok([...seen].some((id) => id > 0x40000000), 'ids reach the upper half of the range');
  for (const id of seen) pool.release(id);
  t.ok(pool.take() >= 1, 'the pool keeps giving ids after releases');
});
