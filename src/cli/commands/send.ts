import { parseApdu } from '../../iso7816/apdu.js';
import { parseHex, toHex } from '../../iso7816/hex.js';
import { decodeSw } from '../../iso7816/status-words.js';
import { renderApdu, renderResponse } from '../../log/redact.js';
import { protocolName } from '../format.js';
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
    const res = await (await io.client()).request<{
      reader: string;
      protocol: number;
      results: Array<{ response?: string; error?: { name: string; message: string } }>;
    }>('transmit', {
      reader,
      apdus: apdus.map((a) => toHex(a, '')),
    });
    if (io.json) {
      io.out(JSON.stringify(res, null, 2));
      return 0;
    }
    io.out(`${res.reader} (${protocolName(res.protocol)})`);
    let failed = 0;
    res.results.forEach((result, i) => {
      // The echo goes through the same redaction as the logs: a PIN typed once does not stay in the scrollback.
      io.out(`> ${renderApdu(apdus[i])}`);
      if (result.response === undefined) {
        failed++;
        io.out(`! ${result.error?.name ?? 'error'}: ${result.error?.message ?? 'no response'}`);
        return;
      }
      const r = parseHex(result.response);
      const sw = r.length >= 2 ? decodeSw(r) : undefined;
      io.out(`< ${renderResponse(apdus[i], r)}${sw ? `  (${sw.hex} ${sw.text})` : ''}`);
    });
    return failed > 0 ? 1 : 0;
  },
};
