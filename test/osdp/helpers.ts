/** Shared pieces of the OSDP tests: a bounded wait on a condition, key constants. */
export const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
export const OTHER_KEY = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');

/** Resolve when `cond()` holds; fail naming `what` after `ms`. Checks on a short interval (the condition is state, not an event). */
export function waitFor(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = (): void => {
      let ok: boolean;
      try {
        ok = cond();
      } catch {
        ok = false;
      }
      if (ok) return resolve();
      if (Date.now() - start > ms) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}
