/**
 * The words requests and answers use for PC/SC numbers, one spelling each:
 * protocols 'T=0', 'T=1', 'RAW' (as ISO 7816-3 and pcsc_scan write them),
 * share modes and dispositions in lower case.
 */
import { DISPOSITION, PROTOCOL, SHARE } from '../pcsc/constants.js';

/** A PIN typed on a PIN pad (simulate/pinpad): the digits 0-9, 1 to 16 of them. */
export const PIN_PATTERN = '^[0-9]{1,16}$';

export const PROTOCOLS = ['T=0', 'T=1', 'RAW', 'any'] as const;
export type ProtocolWord = (typeof PROTOCOLS)[number];
export type ProtocolName = 'T=0' | 'T=1' | 'RAW' | 'T=15';

export const SHARE_MODES = ['shared', 'exclusive', 'direct'] as const;
export type ShareModeWord = (typeof SHARE_MODES)[number];

export const DISPOSITIONS = ['reset', 'leave', 'unpower', 'eject'] as const;
export type DispositionWord = (typeof DISPOSITIONS)[number];

/** What a session close does to the card when the caller does not say: reset, so the next user finds no verified PIN. */
export const DEFAULT_CLOSE_DISPOSITION: DispositionWord = 'reset';

export function protocolName(p: number): ProtocolName | null {
  if (p === PROTOCOL.T0) return 'T=0';
  if (p === PROTOCOL.T1) return 'T=1';
  if (p === PROTOCOL.RAW) return 'RAW';
  if (p === PROTOCOL.T15) return 'T=15';
  return null;
}

/** Preferred protocols for a connect; 'any' (the default) is T=0 | T=1. */
export function protocolMask(p: ProtocolWord | undefined): number {
  if (p === 'T=0') return PROTOCOL.T0;
  if (p === 'T=1') return PROTOCOL.T1;
  if (p === 'RAW') return PROTOCOL.RAW;
  return PROTOCOL.T0 | PROTOCOL.T1;
}

export function shareMode(m: ShareModeWord | undefined): number {
  return m === 'exclusive' ? SHARE.EXCLUSIVE : m === 'direct' ? SHARE.DIRECT : SHARE.SHARED;
}

export function disposition(d: DispositionWord | undefined): number {
  switch (d ?? DEFAULT_CLOSE_DISPOSITION) {
    case 'leave':
      return DISPOSITION.LEAVE;
    case 'unpower':
      return DISPOSITION.UNPOWER;
    case 'eject':
      return DISPOSITION.EJECT;
    default:
      return DISPOSITION.RESET;
  }
}
