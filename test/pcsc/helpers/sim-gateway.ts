/**
 * An in-process scardgate for the pcsc socket tests: the real core, simulated
 * readers (drivers/sim's slot and card models) and the pcsc server on a
 * private socket under os.tmpdir().
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResourceManager } from '../../../src/core/index.js';
import type { Driver, DriverEvents, DriverReader } from '../../../src/driver/contract.js';
import { PcscServer, type PcscLimits } from '../../../src/api/pcsc/server.js';
import { SimSlot } from '../../../drivers/sim/slot.js';
import { createCard } from '../../../drivers/sim/cards/index.js';

class TestSimDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly name = 'sim';
  readonly devices: DriverReader[] = [];
  add(name: string): SimSlot {
    const slot = new SimSlot(name);
    const dev: DriverReader = { id: name, friendlyName: name, slots: [slot], vendor: 'scardgate', ifdVersion: 0x01000000 };
    this.devices.push(dev);
    this.emit('reader-added', dev);
    return slot;
  }
  remove(name: string): void {
    const i = this.devices.findIndex((d) => d.id === name);
    if (i >= 0) this.emit('reader-removed', this.devices.splice(i, 1)[0]);
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export interface SimGateway {
  socket: string;
  core: ResourceManager;
  server: PcscServer;
  driver: TestSimDriver;
  slots: Map<string, SimSlot>;
  /** Adds a reader; resolves once the core lists it. */
  addReader(name: string): Promise<SimSlot>;
  insert(reader: string, spec?: unknown): void;
  remove(reader: string): void;
  env: NodeJS.ProcessEnv;
  /**
   * Resolves once `n` clients wait for a state change. libpcsclite 1.9.9 notices
   * a new reader only if it arrives while the client waits (it compares reader
   * counts within one SCardGetStatusChange call; pcsc-lite#190).
   */
  waiters(n: number): Promise<void>;
  stop(): Promise<void>;
}

const silent = { info() {}, warn() {}, debug() {} };

export async function startSimGateway(readers: { name: string; card?: unknown }[] = [], limits?: Partial<PcscLimits>): Promise<SimGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-pcsc-'));
  const socket = join(dir, 'pcscd.comm');
  const core = new ResourceManager({ transmitTimeoutMs: 5000 });
  const driver = new TestSimDriver();
  await core.addDriver(driver);
  const slots = new Map<string, SimSlot>();
  const server = new PcscServer(core, { socketPath: socket, mode: 0o600, limits }, silent);
  await server.start();
  const waitListed = (name: string, present: boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (core.readers().some((r) => r.name.startsWith(name)) === present) {
          core.off('reader-added', check);
          core.off('reader-removed', check);
          resolve();
        }
      };
      core.on('reader-added', check);
      core.on('reader-removed', check);
      check();
    });
  const gw: SimGateway = {
    socket,
    core,
    server,
    driver,
    slots,
    async addReader(name) {
      const slot = driver.add(name);
      slots.set(name, slot);
      await waitListed(name, true);
      return slot;
    },
    insert(reader, spec = { type: 'iso7816' }) {
      slots.get(reader)!.insertCard(createCard(spec));
    },
    remove(reader) {
      slots.get(reader)!.removeCard();
    },
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
  for (const r of readers) {
    await gw.addReader(r.name);
    if (r.card) gw.insert(r.name, r.card);
  }
  return gw;
}
