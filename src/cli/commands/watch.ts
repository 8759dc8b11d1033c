import type { ReaderJson } from '../../api/control/protocol.js';
import type { ControlEvent } from '../client.js';
import { readerLine } from '../format.js';
import { expectArgs, type Command } from './command.js';

const TEXT: Record<string, string> = {
  'reader-added': 'reader added',
  'reader-removed': 'reader removed',
  'card-inserted': 'card inserted',
  'card-removed': 'card removed',
  'reader-error': 'reader error',
  'reader-state': 'state changed',
};

/** Like pcsc_scan: the current readers, then every change as it happens, until Ctrl-C or the daemon stops. */
export const watch: Command = {
  name: 'watch',
  usage: '',
  summary: 'print reader and card events as they happen (Ctrl-C to stop)',
  async run(io) {
    expectArgs(this, io.args, 0);
    const client = await io.client();
    const onEvent = (e: ControlEvent): void => {
      if (io.json) {
        io.out(JSON.stringify(e));
        return;
      }
      // reader-state repeats what the specific events say; show it only for changes they do not cover.
      if (e.event === 'reader-state') return;
      io.out(`${e.time} ${TEXT[e.event] ?? e.event}${e.error ? `: ${e.error}` : ''}: ${readerLine(e.reader, false)}`);
    };
    const first = await client.request<{ readers: ReaderJson[] }>('watch', undefined, onEvent);
    if (io.json) io.out(JSON.stringify({ event: 'snapshot', readers: first.readers }));
    else {
      io.out(first.readers.length === 0 ? 'no readers; waiting for events' : 'readers:');
      for (const r of first.readers) io.out(readerLine(r));
      io.out('waiting for events (Ctrl-C to stop)');
    }
    await Promise.race([client.closed(), new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }))]);
    client.close();
    return 0;
  },
};
