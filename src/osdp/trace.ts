/**
 * Packet trace for technicians (what OSDP-Bench shows): one log line per
 * packet with direction, address, sequence, security block and the decoded
 * command or reply. Key material (osdp_KEYSET, the handshake's randoms and
 * cryptograms) is never shown; card data (RAW, FMT, KEYPAD) only when asked.
 */
import type { Logger } from 'pino';
import { CMD, commandName, nakName, REPLY, replyName } from './codes.js';
import type { Packet } from './packet.js';

export interface TraceOptions {
  enabled: boolean;
  /** Show card numbers and keypad digits (off: their length only). */
  cardData: boolean;
}

const SECRET_COMMANDS: ReadonlySet<number> = new Set([CMD.KEYSET, CMD.CHLNG, CMD.SCRYPT]);
const SECRET_REPLIES: ReadonlySet<number> = new Set([REPLY.CCRYPT, REPLY.RMAC_I]);
const CARD_REPLIES: ReadonlySet<number> = new Set([REPLY.RAW, REPLY.FMT, REPLY.KEYPAD]);

/** A log-safe description of a packet; `plain` is the decrypted data when the packet was encrypted. */
export function describePacket(p: Packet, opts: TraceOptions, plain?: Buffer): Record<string, unknown> {
  const data = plain ?? p.data;
  const name = p.reply ? replyName(p.code) : commandName(p.code);
  const out: Record<string, unknown> = {
    dir: p.reply ? 'PD->CP' : 'CP->PD',
    addr: p.address,
    sqn: p.sqn,
    check: p.crc ? 'crc' : 'checksum',
    code: name,
    len: data.length,
  };
  if (p.scb) out.scb = `0x${p.scb.type.toString(16)}`;
  const secret = p.reply ? SECRET_REPLIES.has(p.code) : SECRET_COMMANDS.has(p.code);
  const card = p.reply && CARD_REPLIES.has(p.code);
  if (p.scb && p.scb.type >= 0x17 && !plain) out.data = '(encrypted)';
  else if (secret) out.data = '(redacted: key material)';
  else if (card && !opts.cardData) out.data = '(redacted: card data)';
  else if (data.length) out.data = data.toString('hex');
  if (p.reply && p.code === REPLY.NAK && data.length) out.nak = nakName(data[0]);
  return out;
}

export function tracePacket(log: Logger | undefined, opts: TraceOptions, p: Packet, plain?: Buffer): void {
  if (!log || !opts.enabled) return;
  log.info({ osdp: describePacket(p, opts, plain) }, 'osdp packet');
}
