/** The pcscd-compatible socket as a daemon service. */
import type { Service, ServiceFactory } from '../../daemon/service.js';
import { PcscServer } from './server.js';

export { PcscServer, type PcscServerOptions } from './server.js';

export const createPcscService: ServiceFactory = (ctx): Service => {
  const cfg = ctx.config.pcsc;
  const log = ctx.log.child({ module: 'pcsc' });
  let server: PcscServer | null = null;
  return {
    name: 'pcsc',
    async start() {
      if (!cfg.enabled) {
        log.info('pcsc socket disabled (pcsc.enabled: false)');
        return;
      }
      server = new PcscServer(ctx.core, { socketPath: cfg.socket, mode: parseInt(cfg.mode, 8), group: cfg.group }, log);
      await server.start();
    },
    async stop() {
      await server?.stop();
      server = null;
    },
    addresses(): Record<string, string> {
      return server ? { pcsc: server.path } : {};
    },
    diagnostics() {
      return server ? server.diagnostics() : { enabled: cfg.enabled, listening: false };
    },
  };
};
