import { UsageError, expectArgs, type Command } from './command.js';

export const insert: Command = {
  name: 'insert',
  usage: '<reader> <card-type>',
  summary: 'insert a simulated card (iso7816, iso7816-t0, iso14443-4, mifare-classic-1k, ..., or a JSON card spec)',
  async run(io) {
    expectArgs(this, io.args, 2);
    const [reader, type] = io.args;
    let card: unknown = type;
    if (type.trimStart().startsWith('{')) {
      try {
        card = JSON.parse(type);
      } catch (err) {
        throw new UsageError(`insert: card spec is not valid JSON: ${(err as Error).message}`);
      }
    }
    const res = await (await io.client()).request<{ name: string }>('simulate/insert', { reader, card });
    io.out(io.json ? JSON.stringify(res) : `card inserted in ${res.name}`);
    return 0;
  },
};
