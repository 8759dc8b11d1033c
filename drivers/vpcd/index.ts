/**
 * The vpcd driver: vsmartcard `vicc` virtual cards over TCP, as pcscd's vpcd
 * does it (docs/vpcd.md). One reader, "Virtual PCD", with one slot per
 * configured port (the core names them `Virtual PCD 00 00`, `Virtual PCD 00 01`...,
 * as pcscd does). Readers exist from start-up, empty until a vicc connects.
 */
import { EventEmitter } from 'node:events';
import type { Static } from '@sinclair/typebox';
import type { Driver, DriverContext, DriverEvents, DriverReader } from '../../src/driver/contract.js';
import type { VpcdConfig } from './config.js';
import { VpcdSlot } from './slot.js';

export { VpcdSlot } from './slot.js';
export { encodeFrame, FrameDecoder, VPCD_CTRL } from './frame.js';

export const VPCD_FRIENDLY_NAME = 'Virtual PCD';

class VpcdReader implements DriverReader {
  readonly id = 'vpcd';
  readonly friendlyName = VPCD_FRIENDLY_NAME;
  readonly instance = 0;
  constructor(readonly slots: readonly VpcdSlot[]) {}
  diagnostics(): Record<string, unknown> {
    return { slots: this.slots.map((s) => s.diagnostics()) };
  }
}

export class VpcdDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly name = 'vpcd';
  readonly reader: VpcdReader;
  private started = false;

  constructor(config: Static<typeof VpcdConfig>, ctx: DriverContext) {
    super();
    const slots = config.slots ?? 2;
    const port = config.port ?? 35963;
    if (port + slots - 1 > 65535) throw new Error(`drivers.vpcd.port: ${port} + ${slots} slots runs past port 65535`);
    const log = ctx.log.child({ driver: 'vpcd' });
    this.reader = new VpcdReader(
      Array.from({ length: slots }, (_, i) => new VpcdSlot(i, { host: config.host ?? '127.0.0.1', port: port + i, responseTimeoutMs: config.responseTimeoutMs ?? 10000, log })),
    );
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await Promise.all(this.reader.slots.map((s) => s.open()));
    this.emit('reader-added', this.reader);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await Promise.all(this.reader.slots.map((s) => s.close()));
    this.emit('reader-removed', this.reader);
  }

  diagnostics(): Record<string, unknown> {
    return this.reader.diagnostics();
  }
}

export function createVpcdDriver(config: Static<typeof VpcdConfig>, ctx: DriverContext): VpcdDriver {
  return new VpcdDriver(config, ctx);
}
