/** Public API of the ISO 7816 layer: pure codecs and protocol engines, no I/O. */
export * from './hex.js';
export * from './status-words.js';
export * from './apdu.js';
export * from './atr.js';
export * from './t0.js';
export * from './t1-block.js';
export * from './t1.js';
export * from './t1-card.js';
