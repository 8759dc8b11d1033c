/**
 * scardgate for the benchmark, in its own process like pcscd: the core, the
 * vpcd driver on PORT and the pcsc socket at SOCKET. Prints "ready" and runs
 * until SIGTERM. SIGUSR2 prints one JSON line to stdout: where the memory is
 * (process.memoryUsage and V8's heap spaces, MB).  Usage: serve-scardgate.ts SOCKET PORT
 */
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { pino } from 'pino';
import { ResourceManager } from '../../src/core/index.js';
import { PcscServer } from '../../src/api/pcsc/server.js';
import { createVpcdDriver } from '../../drivers/vpcd/index.js';
import { watchHeap } from '../../src/daemon/heap-trim.js';

const [socket, port] = process.argv.slice(2);
const log = pino({ level: 'warn' });
const core = new ResourceManager({ transmitTimeoutMs: 10000, log });
await core.addDriver(createVpcdDriver({ enabled: true, host: '127.0.0.1', port: Number(port), slots: 1 } as never, { log }));
const server = new PcscServer(core, { socketPath: socket, mode: 0o600 }, log);
await server.start();
process.stdout.write('ready\n');
// As the daemon does once ready (src/daemon/main.ts).
watchHeap();
const mb = (n: number): number => +(n / 1048576).toFixed(2);
/** RssAnon (heaps: V8's and malloc's) vs RssFile (the node binary's and libraries' pages), MB. */
const rssParts = (): Record<string, number> =>
  Object.fromEntries([...readFileSync('/proc/self/status', 'utf8').matchAll(/^(RssAnon|RssFile):\s+(\d+) kB/gm)].map((m) => [m[1], +(Number(m[2]) / 1024).toFixed(1)]));
process.on('SIGUSR2', () => {
  // No collection forced: what the process holds as it is.
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), `${mb(s.space_used_size)}/${mb(s.space_size)}`]));
  const line = {
    ...rssParts(),
    heapTotal: mb(m.heapTotal),
    heapUsed: mb(m.heapUsed),
    heapPhysical: mb(h.total_physical_size),
    external: mb(m.external),
    arrayBuffers: mb(m.arrayBuffers),
    v8Malloced: mb(h.malloced_memory),
    spaces,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
});
process.on('SIGTERM', () => {
  void server.stop().then(() => core.stop()).then(() => process.exit(0));
});
