/** A CCID rig: the real core, the CCID driver, the emulated USB bus (emulators/ccid); optionally our pcsc socket in front. */
import { once, type EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import pino from 'pino';
import { ResourceManager } from '../../src/core/index.js';
import { PcscServer } from '../../src/api/pcsc/server.js';
import { CcidDriver } from '../../drivers/ccid/index.js';
import type { CcidConfigT } from '../../drivers/ccid/config.js';
import { EmulatedUsbBinding } from '../../emulators/ccid/binding.js';

export const log = pino({ level: process.env.CCID_TEST_LOG ?? 'silent' });

export const ccidConfig = (over: Partial<CcidConfigT> = {}): CcidConfigT => ({
  enabled: true,
  escape: false,
  voltage: 'auto',
  commandTimeoutMs: 2000,
  maxTimeExtensions: 50,
  pollIntervalMs: 50,
  hotplugPollMs: 50,
  emulate: [],
  ...over,
});

export interface Rig {
  core: ResourceManager;
  bus: EmulatedUsbBinding;
  driver: CcidDriver;
  close(): Promise<void>;
}

export async function rig(config: Partial<CcidConfigT> = {}, hotplug = true): Promise<Rig> {
  const bus = new EmulatedUsbBinding(hotplug);
  const core = new ResourceManager({ transmitTimeoutMs: 10000, log });
  const driver = new CcidDriver(ccidConfig(config), { log }, { binding: bus });
  await core.addDriver(driver);
  return { core, bus, driver, close: () => core.stop() };
}

/** An event within a deadline, or a failure naming what was awaited. */
export async function waitFor<T extends unknown[]>(em: EventEmitter, event: string, ms = 5000, what = `'${event}' event`): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return (await once(em, event, { signal: ac.signal })) as T;
  } catch (e) {
    if (ac.signal.aborted) throw new Error(`no ${what} within ${ms} ms`, { cause: e });
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Poll a condition until true or the deadline; fails naming it. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** PIN_VERIFY_STRUCTURE: ASCII digits, variable length (4..8), OK key, for VERIFY of PIN 81. */
export function verifyStructure(timeoutS: number, apdu = hex('0020008100')): Buffer {
  const head = Buffer.from([timeoutS, 0, 0x82, 0x00, 0x00, 0x08, 0x04, 0x02, 0x01, 0x09, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0]);
  head.writeUInt32LE(apdu.length, 15);
  return Buffer.concat([head, apdu]);
}

/** PIN_MODIFY_STRUCTURE: 4-digit ASCII PINs in 4-byte blocks, current at 0, new at 4 (the sim card takes old || new), confirmed. */
export function modifyStructure(timeoutS: number): Buffer {
  const apdu = hex('0024008108FFFFFFFFFFFFFFFF');
  const head = Buffer.from([timeoutS, 0, 0x82, 0x04, 0x00, 0x00, 0x04, 0x04, 0x04, 0x03, 0x02, 0x03, 0x09, 0x04, 0x00, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0]);
  head.writeUInt32LE(apdu.length, 20);
  return Buffer.concat([head, apdu]);
}

export interface SocketRig extends Rig {
  /** For libpcsclite clients (pcsc_scan, opensc-tool, pyscard): our socket instead of pcscd's. */
  env: NodeJS.ProcessEnv;
  server: PcscServer;
}

/** The CCID rig with our pcscd-compatible socket in front, both gone at the test's end. */
export async function socketRig(t: Test): Promise<SocketRig> {
  const r = await rig();
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-ccid-'));
  const server = new PcscServer(r.core, { socketPath: join(dir, 'pcscd.comm'), mode: 0o600 }, { info() {}, warn() {}, debug() {} });
  await server.start();
  t.teardown(async () => {
    await server.stop();
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { ...r, server, env: { ...process.env, PCSCLITE_CSOCK_NAME: join(dir, 'pcscd.comm') } };
}
