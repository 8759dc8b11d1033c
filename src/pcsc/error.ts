import { SCARD, scardMessage, scardName } from './constants.js';

/**
 * The one error type of scardgate. It carries the PC/SC numeric code so every
 * frontend reports the same fact in its own form (a LONG on the pcsc socket,
 * `{code, name}` in MQTT/HTTP JSON, a line on the CLI).
 */
export class PcscError extends Error {
  readonly code: number;
  constructor(code: number, detail?: string) {
    super(detail ? `${scardMessage(code)} ${detail}` : scardMessage(code));
    this.name = 'PcscError';
    this.code = code >>> 0;
  }
  get codeName(): string {
    return scardName(this.code);
  }
  toJSON(): { code: number; name: string; message: string } {
    return { code: this.code, name: this.codeName, message: this.message };
  }
}

export const isPcscError = (e: unknown): e is PcscError => e instanceof PcscError;

/** Wrap anything thrown into a PcscError; unknown failures become F_INTERNAL_ERROR with the cause text. */
export function toPcscError(e: unknown, fallback: number = SCARD.F_INTERNAL_ERROR): PcscError {
  if (e instanceof PcscError) return e;
  return new PcscError(fallback, e instanceof Error ? e.message : String(e));
}
