import { parseApdu } from '../../iso7816/apdu.js';
import { parseHex, toHex } from '../../iso7816/hex.js';
import type { TransmitAnswer } from '../../gateway/types.js';
import { UsageError, expectArgs, type Command } from './command.js';

export const send: Command = {
  name: 'send',
  usage: '<reader> <hex APDU>...',
  summary: 'send APDUs in one transaction; print each response and its status word',
  async run(io) {
    expectArgs(this, io.args, 2, 1 + 64);
    const [reader, ...hexes] = io.args;
    const apdus = hexes.map((h, i) => {
      try {
        const b = parseHex(h);
        parseApdu(b);
        return b;
      } catch (err) {
        throw new UsageError(`send: APDU ${i + 1} (${JSON.stringify(h)}): ${(err as Error).message}`);
      }
    });
    const res = await (await io.client()).request<TransmitAnswer>('transmit', { reader, apdus: apdus.map((a) => toHex(a, '')) });
    if (io.json) {
      io.out(JSON.stringify(res, null, 2));
      return 0;
    }
    io.out(`${res.reader} (${res.protocol ?? '-'})`);
    // The daemon's answer is redacted like its logs: a PIN typed once does not stay in the scrollback.
    for (const x of res.responses) {
      io.out(`> ${x.apdu}`);
      io.out(`< ${x.response}${x.sw ? `  (${x.sw} ${x.swText})` : ''}`);
    }
    return res.responses.every((x) => x.sw !== '') ? 0 : 1;
  },
};
