/**
 * scardgate for the benchmark, in its own process like pcscd: the core, the
 * vpcd driver on PORT and the pcsc socket at SOCKET. Prints "ready" and runs
 * until SIGTERM. SIGUSR2 prints one JSON line to stdout: where the memory is
 * (process.memoryUsage and V8's heap spaces, MB).  Usage: serve-scardgate.ts SOCKET PORT
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { pino } from 'pino';
import { ResourceManager } from '../../src/core/index.js';
import { PcscServer } from '../../src/api/pcsc/server.js';
import { createVpcdDriver } from '../../drivers/vpcd/index.js';

const [socket, port] = process.argv.slice(2);
const log = pino({ level: 'warn' });
const core = new ResourceManager({ transmitTimeoutMs: 10000, log });
await core.addDriver(createVpcdDriver({ enabled: true, host: '127.0.0.1', port: Number(port), slots: 1 } as never, { log }));
const server = new PcscServer(core, { socketPath: socket, mode: 0o600 }, log);
await server.start();
process.stdout.write('ready\n');
const mb = (n: number): number => +(n / 1048576).toFixed(2);
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_size)]));
  process.stdout.write(`${JSON.stringify({ rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers), spaces })}\n`);
});
process.on('SIGTERM', () => {
  void server.stop().then(() => core.stop()).then(() => process.exit(0));
});
