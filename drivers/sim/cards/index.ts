/** The card models, reusable by every emulator (sim driver, PN532 emulator, fast vicc card). */
export * from './card.js';
export { createCard, type CardSpec } from './factory.js';
export { Iso7816Card, Iso14443Card, DEFAULT_T0_ATR, DEFAULT_T1_ATR, DEFAULT_T1_TPDU_ATR, DEFAULT_ATS } from './iso7816-card.js';
export { DEMO_AID, type DfSpec, type EfSpec, type AccessRule } from './iso7816-fs.js';
export { MifareClassicCard, decodeAccessBits, encodeAccessBits, sectorOf, trailerOf, TRANSPORT_TRAILER, type KeyType, type MifareFailure, type MifareResult } from './mifare-classic.js';
export { MifareUltralightCard, ULTRALIGHT_PAGES } from './mifare-ultralight.js';
export { NtagCard, NTAG_GEOMETRY, type NtagType } from './ntag.js';
