import type { ReaderJson } from '../../api/control/protocol.js';
import { readerLine } from '../format.js';
import { expectArgs, type Command } from './command.js';

export const readers: Command = {
  name: 'readers',
  usage: '',
  summary: 'list readers and their cards',
  async run(io) {
    expectArgs(this, io.args, 0);
    const { readers: list } = await (await io.client()).request<{ readers: ReaderJson[] }>('readers');
    if (io.json) io.out(JSON.stringify(list, null, 2));
    else if (list.length === 0) io.out('no readers');
    else for (const r of list) io.out(readerLine(r));
    return 0;
  },
};
