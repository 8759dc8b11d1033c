/**
 * One-shot exchange for the control channel: a shared connection, the APDUs
 * inside one transaction (so no other client's APDU lands between them), then
 * disconnect leaving the card as it is.
 */
import type { ScardCore } from '../../core/api.js';
import { DISPOSITION, PROTOCOL, SHARE } from '../../pcsc/constants.js';

export interface OneShotResult {
  protocol: number;
  responses: Buffer[];
}

export async function oneShotTransmit(core: ScardCore, reader: string, apdus: Buffer[], owner = 'control'): Promise<OneShotResult> {
  const ctx = core.establishContext(owner);
  try {
    const { handle, protocol } = await core.connect(ctx, reader, SHARE.SHARED, PROTOCOL.T0 | PROTOCOL.T1);
    try {
      await core.beginTransaction(handle);
      const responses: Buffer[] = [];
      try {
        for (const apdu of apdus) responses.push(await core.transmit(handle, protocol, apdu));
      } finally {
        await core.endTransaction(handle, DISPOSITION.LEAVE).catch(() => undefined);
      }
      return { protocol, responses };
    } finally {
      await core.disconnect(handle, DISPOSITION.LEAVE).catch(() => undefined);
    }
  } finally {
    await core.releaseContext(ctx).catch(() => undefined);
  }
}
