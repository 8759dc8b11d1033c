import { stringify } from 'yaml';
import { expectArgs, type Command } from './command.js';

export const diag: Command = {
  name: 'diag',
  usage: '',
  summary: "print the daemon's diagnostics",
  async run(io) {
    expectArgs(this, io.args, 0);
    const d = await (await io.client()).request<Record<string, unknown>>('diagnostics');
    io.out(io.json ? JSON.stringify(d, null, 2) : stringify(d).trimEnd());
    return 0;
  },
};
