/**
 * Short fuzz of every parser of outside bytes (the long runs: `make fuzz`).
 * Seeded, so a failure names a seed that replays it: FUZZ_SEED=<n>.
 */
import t from 'tap';
import fc from 'fast-check';
import { TARGETS } from './targets.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x16f022);
const RUNS = Number(process.env.FUZZ_SHORT_RUNS ?? 3000);

for (const target of TARGETS) {
  t.test(`${target.name} (${target.parser}): ${RUNS} inputs, no crash`, async (t) => {
    await target.setup?.();
    const r = fc.check(
      fc.property(target.input, (x) => {
        target.check(x);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    t.notOk(r.failed, r.failed ? `counterexample ${fc.stringify(r.counterexample).slice(0, 2000)}: ${String(r.errorInstance)}` : 'no failure');
    t.equal(r.numRuns, RUNS, 'every input ran');
  });
}
