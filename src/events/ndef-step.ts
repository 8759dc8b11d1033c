/**
 * The NDEF step of card.inserted: right after the card profile (one
 * connection, one transaction, like a profile) the NDEF message of a Type 2
 * tag or a MIFARE Classic (MAD) is read through the core with PC/SC part 3
 * pseudo-APDUs (src/contactless/ndef.ts), so door logic and Home Assistant get
 * the records with the tap. Never throws: a failure is reported in the result.
 */
import type { ScardCore } from '../core/api.js';
import { beginFresh } from '../core/oneshot.js';
import { DISPOSITION, PROTOCOL, SHARE } from '../pcsc/constants.js';
import { toPcscError } from '../pcsc/error.js';
import { homeAssistantTagId, ndefFamily, parseNdefMessage, readClassicNdef, readType2Ndef, type NdefRecord } from '../contactless/ndef.js';

export interface NdefStepResult {
  records?: NdefRecord[];
  /** Home Assistant companion app tag id (URI https://www.home-assistant.io/tag/<id>). */
  haTagId?: string;
  /** Not NDEF formatted (no CC magic / no MAD / no NDEF TLV). */
  empty?: boolean;
  error?: string;
}

export function wantsNdef(cardType: string | null | undefined): boolean {
  return ndefFamily(cardType) !== undefined;
}

export async function runNdefStep(core: ScardCore, reader: string, cardType: string | null, timeoutMs: number): Promise<NdefStepResult> {
  const family = ndefFamily(cardType);
  if (!family) return { empty: true };
  const ctx = core.establishContext('events:ndef');
  let handle = 0;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`NDEF read did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const run = async (): Promise<NdefStepResult> => {
      const preferred = PROTOCOL.T0 | PROTOCOL.T1;
      const conn = await core.connect(ctx, reader, SHARE.SHARED, preferred);
      handle = conn.handle;
      await beginFresh(core, conn, SHARE.SHARED, preferred);
      const tx = (apdu: Buffer): Promise<Buffer> => core.transmit(handle, conn.protocol, apdu);
      const got = family === 'type2' ? { message: await readType2Ndef(tx) } : await readClassicNdef(tx, cardType === 'mifare-classic-4k');
      await core.endTransaction(handle, DISPOSITION.LEAVE).catch(() => undefined);
      const msg = got.message;
      // A 4K whose MAD2 is not valid and whose message goes on past sector 15: reported like a bad MAD1.
      if (!msg || msg.length === 0) return 'mad2Error' in got && got.mad2Error ? { error: got.mad2Error } : { empty: true };
      const records = parseNdefMessage(msg);
      const haTagId = homeAssistantTagId(records);
      return haTagId ? { records, haTagId } : { records };
    };
    return await Promise.race([run(), timeout]);
  } catch (e) {
    return { error: e instanceof Error && e.name !== 'PcscError' ? e.message : toPcscError(e).message };
  } finally {
    clearTimeout(timer);
    if (handle) await core.disconnect(handle, DISPOSITION.LEAVE).catch(() => undefined);
    await core.releaseContext(ctx).catch(() => undefined);
  }
}
