/**
 * The presence check of an ISO 14443-4 card and the worst case from the card
 * leaving to the removal event, as arithmetic (docs/pn532.md §8.1): the
 * reader's timing is chosen so that this bound stays under a second for
 * every FWI, not measured into shape.
 */
import { ACK_FRAME, TFI_HOST, TFI_PN532, encodeFrame } from './frame.js';
import { fwtMs, goneAfterMs } from './protocol.js';

/** Host-side allowance on top of the card's FWT for a presence answer: frames on the wire, OS and event-loop latency. */
export const PRESENCE_SLACK_MS = 50;
/**
 * An idle card answers R(NAK) at once; FWT is its allowance for processing
 * an I-block. The presence wait takes FWT up to this cap, so a card with a
 * large FWI (FWI 10: 309 ms, FWI 14: 4.9 s) is still reported gone within a second.
 */
export const PRESENCE_FWT_CAP_MS = 200;
/** Presence checks in a row without a verdict that make a removal (one slow answer is not a removal). */
export const PRESENCE_MISSES = 2;
/** What a removal may take at most while the reader is idle (the goal: within 1 s). */
export const REMOVAL_GOAL_MS = 1000;
/** Per command turn, for the host's own work and the OS (timers, scheduling) in the bound. */
export const HOST_TURN_MS = 10;

/** How long one presence check waits for the chip's answer after its ACK. */
export function presenceWaitMs(fwi: number, comRetries: number): number {
  return Math.min(fwtMs(fwi), PRESENCE_FWT_CAP_MS, goneAfterMs(fwi, comRetries)) + PRESENCE_SLACK_MS;
}

/** The raw R(NAK) ping (InCommunicateThru B2) and the resynchronisation echo that follows an aborted one. */
const PING = encodeFrame(TFI_HOST, Buffer.from([0x42, 0xb2]));
const ECHO = encodeFrame(TFI_HOST, Buffer.from([0x00, 0x00, 0x73, 0x79, 0x00, 0x00]));
const ECHO_ANSWER = encodeFrame(TFI_PN532, Buffer.from([0x01, 0x00, 0x73, 0x79, 0x00, 0x00]));
/** Bytes on the line for one check that gets no answer: ping, its ACK, the host's abort ACK, the echo, its ACK and answer. */
export const MISSED_CHECK_BYTES = PING.length + ACK_FRAME.length + ACK_FRAME.length + ECHO.length + ACK_FRAME.length + ECHO_ANSWER.length;

export interface RemovalBound {
  totalMs: number;
  /** Pause before the first check that can see the card gone. */
  intervalMs: number;
  /** Per missed check: the answer wait, the line time of its frames, the host allowance. */
  perCheckMs: number;
  waitMs: number;
  wireMs: number;
  checks: number;
}

/**
 * Worst case from an ISO 14443-4 card leaving to the removal event, on a
 * working link, with the reader idle (no APDU in flight): the card leaves
 * just after answering a check; the next check comes after the interval;
 * each of PRESENCE_MISSES checks waits its full answer time, is aborted and
 * followed by the echo; the last one is the verdict. `byteMs` is one
 * character time on the line (HSU: 10 bit times; I2C: 9 clocks at the bus
 * speed plus the status polling, in `pollMs`).
 */
export function removalBoundMs(o: { removalCheckMs: number; fwi: number; comRetries: number; byteMs: number; pollMs?: number }): RemovalBound {
  const waitMs = presenceWaitMs(o.fwi, o.comRetries);
  // three frames come back per missed check (ping ACK, echo ACK, echo answer): each may wait one status poll on I2C
  const wireMs = MISSED_CHECK_BYTES * o.byteMs + 3 * (o.pollMs ?? 0);
  const perCheckMs = waitMs + wireMs + HOST_TURN_MS;
  return { totalMs: o.removalCheckMs + PRESENCE_MISSES * perCheckMs, intervalMs: o.removalCheckMs, perCheckMs, waitMs, wireMs, checks: PRESENCE_MISSES };
}
