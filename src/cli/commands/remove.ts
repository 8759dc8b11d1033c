import { expectArgs, type Command } from './command.js';

export const remove: Command = {
  name: 'remove',
  usage: '<reader>',
  summary: 'remove the simulated card',
  async run(io) {
    expectArgs(this, io.args, 1);
    const res = await (await io.client()).request<{ name: string }>('simulate/remove', { reader: io.args[0] });
    io.out(io.json ? JSON.stringify(res) : `card removed from ${res.name}`);
    return 0;
  },
};
