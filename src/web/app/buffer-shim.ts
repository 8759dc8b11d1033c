/**
 * The browser has no Buffer; src/iso7816/hex.ts (the one hex parser) only
 * needs Buffer.from(number[]). esbuild injects this in place of the global.
 */
export const Buffer = {
  from: (bytes: ArrayLike<number>): Uint8Array => Uint8Array.from(bytes),
};
