/**
 * Seeded generators for the fuzz loops, so a failing run can be replayed from
 * its seed. Two kinds, because existing tests' seeds name sequences of one or
 * the other and must keep replaying the same inputs.
 */

/** mulberry32: floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The C library's example LCG (x·1103515245 + 12345, 31 bits): an integer in [0, n) per call. */
export function lcg(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
}
