/** scardgate with its vpcd driver and the pcsc socket, in process, on a private socket and port. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ResourceManager } from '../../../src/core/index.js';
import { PcscServer } from '../../../src/api/pcsc/server.js';
import { createVpcdDriver } from '../../../drivers/vpcd/index.js';

export interface VpcdGateway {
  socket: string;
  core: ResourceManager;
  server: PcscServer;
  env: NodeJS.ProcessEnv;
  /** Resolves once `n` clients wait for a state change. */
  waiters(n: number): Promise<void>;
  stop(): Promise<void>;
}

const silent = { info() {}, warn() {}, debug() {} };

export async function startVpcdGateway(opts: { port: number; slots?: number }): Promise<VpcdGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-vpcd-'));
  const socket = join(dir, 'pcscd.comm');
  const core = new ResourceManager({ transmitTimeoutMs: 10000 });
  const driver = createVpcdDriver({ enabled: true, host: '127.0.0.1', port: opts.port, slots: opts.slots ?? 2 } as never, { log: pino({ level: 'silent' }) });
  await core.addDriver(driver);
  const server = new PcscServer(core, { socketPath: socket, mode: 0o600 }, silent);
  await server.start();
  return {
    socket,
    core,
    server,
    env: { ...process.env, PCSCLITE_CSOCK_NAME: socket },
    async waiters(n) {
      while ((server.diagnostics().waiting as number) < n) await new Promise((r) => setTimeout(r, 5));
    },
    async stop() {
      await server.stop();
      await core.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
