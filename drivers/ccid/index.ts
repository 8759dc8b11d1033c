/**
 * The USB CCID driver: every CCID interface of every matching USB device is
 * a DriverReader (its slots PC/SC readers). Devices come and go with the
 * binding's hotplug events (or a bus scan where there are none); a reader
 * that stops answering is reset through USB and comes back when it
 * re-enumerates. The USB binding is injected (binding.ts): the real one wraps
 * the `usb` package, emulators/ccid provides another.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Driver, DriverContext, DriverEvents } from '../../src/driver/contract.js';
import { isUsbError, type UsbBinding, type UsbDeviceHandle, type UsbDeviceInfo, type UsbInterfaceInfo } from './binding.js';
import { CcidChannel, DeviceLock, type ChannelTuning } from './channel.js';
import { CCID_INTERFACE_CLASS, exchangeLevel, findClassDescriptor, parseCcidDescriptor, type CcidDescriptor } from './descriptor.js';
import type { CcidConfigT } from './config.js';
import { quirksFor } from './quirks.js';
import { CcidReader } from './reader.js';

export { CcidReader } from './reader.js';
export { CcidSlot, IOCTL_CCID_ESCAPE } from './slot.js';
export type { UsbBinding } from './binding.js';

export interface CcidDeps {
  /** The USB binding; default: the emulated bus when drivers.ccid.emulate lists readers, else libusb. */
  binding?: UsbBinding;
}

interface Attached {
  info: UsbDeviceInfo;
  handle: UsbDeviceHandle;
  readers: CcidReader[];
  channels: CcidChannel[];
  recovering: boolean;
}

/** A CCID interface of a device, with its parsed descriptor and endpoints. */
interface Candidate {
  iface: UsbInterfaceInfo;
  descriptor: CcidDescriptor;
  bulkIn: number;
  bulkOut: number;
  interrupt?: number;
}

/** CCID interfaces of a device, or why an interface that looks like one is not used. */
export function ccidInterfaces(info: UsbDeviceInfo): { ok: Candidate[]; skipped: string[] } {
  const ok: Candidate[] = [];
  const skipped: string[] = [];
  for (const iface of info.interfaces) {
    if (iface.alternate !== 0) continue;
    const vendorClass = iface.class === 0xff;
    if (iface.class !== CCID_INTERFACE_CLASS && !vendorClass) continue;
    const raw = findClassDescriptor(iface.extra, iface.endpoints.map((e) => e.extra));
    if (!raw) {
      if (!vendorClass) skipped.push(`interface ${iface.number}: class 0x0B without a 54-byte CCID class descriptor`);
      continue;
    }
    if (vendorClass && !quirksFor(info.vendorId, info.productId, info.bcdDevice, iface.number).vendorClassCcid) continue;
    if (iface.protocol !== 0) {
      skipped.push(`interface ${iface.number}: ICCD (bInterfaceProtocol ${iface.protocol}) is not supported`);
      continue;
    }
    let descriptor: CcidDescriptor;
    try {
      descriptor = parseCcidDescriptor(raw);
    } catch (e) {
      skipped.push(`interface ${iface.number}: ${(e as Error).message}`);
      continue;
    }
    if (exchangeLevel(descriptor) === 'character') {
      skipped.push(`interface ${iface.number}: character-level exchange is not supported (dwFeatures 0x${descriptor.features.toString(16)})`);
      continue;
    }
    const bulkIn = iface.endpoints.find((e) => e.type === 'bulk' && e.direction === 'in')?.address;
    const bulkOut = iface.endpoints.find((e) => e.type === 'bulk' && e.direction === 'out')?.address;
    const interrupt = iface.endpoints.find((e) => e.type === 'interrupt' && e.direction === 'in')?.address;
    if (bulkIn === undefined || bulkOut === undefined) {
      skipped.push(`interface ${iface.number}: no bulk-IN/bulk-OUT endpoint pair`);
      continue;
    }
    ok.push({ iface, descriptor, bulkIn, bulkOut, interrupt });
  }
  return { ok, skipped };
}

export class CcidDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly name = 'ccid';
  readonly log: Logger;
  binding?: UsbBinding;
  private readonly devices = new Map<string, Attached>();
  /** Devices being opened: a detach while opening cancels the attach. */
  private readonly opening = new Map<string, { cancelled: boolean }>();
  private scanTimer?: NodeJS.Timeout;
  private running = false;
  private readonly tuning: ChannelTuning;
  readonly counters = { attaches: 0, detaches: 0, recoveries: 0, attachFailures: 0 };
  private readonly onAttach = (info: UsbDeviceInfo): void => void this.attach(info);
  private readonly onDetach = (id: string): void => void this.detach(id, 'device unplugged');

  constructor(
    readonly config: CcidConfigT,
    ctx: DriverContext,
    readonly deps: CcidDeps = {},
  ) {
    super();
    this.log = ctx.log.child({ driver: 'ccid' });
    this.tuning = { commandTimeoutMs: config.commandTimeoutMs, maxTimeExtensions: config.maxTimeExtensions, maxStaleFrames: 10 };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (!this.binding) {
      if (this.deps.binding) this.binding = this.deps.binding;
      else if (this.config.emulate.length > 0) this.binding = (await import('../../emulators/ccid/host.js')).emulatedBus(this.config.emulate);
      else this.binding = await (await import('./usb-binding.js')).createUsbBinding();
    }
    const b = this.binding;
    b.on('attach', this.onAttach);
    b.on('detach', this.onDetach);
    await this.scan();
    if (!b.hotplug) this.scheduleScan();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.scanTimer);
    this.binding?.off('attach', this.onAttach);
    this.binding?.off('detach', this.onDetach);
    for (const o of this.opening.values()) o.cancelled = true;
    await Promise.all([...this.devices.keys()].map((id) => this.detach(id, 'driver stopped')));
    await this.binding?.close?.();
  }

  /** Attach what is on the bus and not yet attached; detach what left (the polling fallback). */
  private async scan(): Promise<void> {
    const b = this.binding;
    if (!b) return;
    let list: UsbDeviceInfo[];
    try {
      list = await b.list();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'USB bus scan failed');
      return;
    }
    const ids = new Set(list.map((d) => d.id));
    for (const id of [...this.devices.keys()]) if (!ids.has(id)) await this.detach(id, 'device no longer on the bus');
    for (const info of list) await this.attach(info);
  }

  private scheduleScan(): void {
    if (!this.running) return;
    this.scanTimer = setTimeout(() => void this.scan().finally(() => this.scheduleScan()), this.config.hotplugPollMs);
  }

  private async attach(info: UsbDeviceInfo): Promise<void> {
    if (!this.running || this.devices.has(info.id) || this.opening.has(info.id)) return;
    const { ok: candidates, skipped } = ccidInterfaces(info);
    for (const s of skipped) this.log.info({ usb: info.id, product: info.product }, `CCID: ${s}`);
    if (candidates.length === 0) return;
    const token = { cancelled: false };
    this.opening.set(info.id, token);
    let handle: UsbDeviceHandle | undefined;
    const dev: Attached = { info, handle: undefined as unknown as UsbDeviceHandle, readers: [], channels: [], recovering: false };
    try {
      handle = await this.binding!.open(info.id);
      dev.handle = handle;
      const lock = new DeviceLock();
      for (const c of candidates) {
        const q = quirksFor(info.vendorId, info.productId, info.bcdDevice, c.iface.number);
        const claimed = await handle.claimInterface(c.iface.number);
        if (claimed.detachedKernelDriver) {
          this.log.info({ usb: info.id, interface: c.iface.number, kernelDriver: q.kernelDriver ?? 'unknown' }, 'CCID: detached the kernel driver that held the interface');
        }
        const channel = new CcidChannel(handle, { interfaceNumber: c.iface.number, bulkIn: c.bulkIn, bulkOut: c.bulkOut, interrupt: c.interrupt }, c.descriptor, lock, this.tuning, (why) => void this.recover(dev, why));
        const reader = new CcidReader(info, c.iface.number, channel, c.descriptor, q, { voltage: this.config.voltage, escapeAllowed: this.config.escape }, this.log);
        for (const slot of reader.slots) slot.simulate = this.binding!.simulation?.(info.id, c.iface.number, slot.index);
        dev.channels.push(channel);
        dev.readers.push(reader);
      }
      for (const r of dev.readers) await r.start(this.config.pollIntervalMs);
      if (token.cancelled || !this.running) throw new Error('device left while it was being opened');
      this.devices.set(info.id, dev);
      this.counters.attaches++;
      for (const r of dev.readers) {
        this.log.info({ usb: info.id, reader: r.friendlyName, interface: r.interfaceName, slots: r.slots.length, level: exchangeLevel(r.descriptor) }, 'CCID reader attached');
        this.emit('reader-added', r);
      }
    } catch (e) {
      this.counters.attachFailures++;
      for (const r of dev.readers) r.stop();
      for (const c of dev.channels) c.gone = 'attach failed';
      await handle?.close().catch(() => undefined);
      if (!token.cancelled) {
        const msg = isUsbError(e, 'access')
          ? `${(e as Error).message}. Fix: give the daemon's user access to the device (udev rule: SUBSYSTEM=="usb", ATTRS{idVendor}=="${hex4(info.vendorId)}", ATTRS{idProduct}=="${hex4(info.productId)}", MODE="0660", GROUP="scardgate"), or let it detach the kernel driver`
          : (e as Error).message;
        this.log.warn({ usb: info.id, product: info.product, err: msg }, 'CCID reader could not be opened');
      }
    } finally {
      this.opening.delete(info.id);
    }
  }

  /** The device left (or the driver stops): pending calls fail at once with E_READER_UNAVAILABLE. */
  private async detach(id: string, why: string): Promise<void> {
    const o = this.opening.get(id);
    if (o) o.cancelled = true;
    const dev = this.devices.get(id);
    if (!dev) return;
    this.devices.delete(id);
    this.counters.detaches++;
    await this.teardown(dev, why);
    await dev.handle.close().catch(() => undefined);
  }

  private async teardown(dev: Attached, why: string): Promise<void> {
    for (const c of dev.channels) c.gone ??= why;
    for (const r of dev.readers) {
      r.stop();
      for (const s of r.slots) s.lost(why);
    }
    // Closing the handle ends the transfers in flight; the readers leave the core after.
    if (why !== 'recovering') await dev.handle.close().catch(() => undefined);
    for (const r of dev.readers) {
      this.log.info({ usb: dev.info.id, reader: r.friendlyName, why }, 'CCID reader removed');
      this.emit('reader-removed', r);
    }
  }

  /**
   * A reader that stopped answering (Abort failed, transfer errors): its readers
   * leave, the device gets a USB reset and comes back through re-enumeration.
   */
  private async recover(dev: Attached, why: string): Promise<void> {
    if (dev.recovering || this.devices.get(dev.info.id) !== dev) return;
    dev.recovering = true;
    this.counters.recoveries++;
    this.log.warn({ usb: dev.info.id, product: dev.info.product, why }, 'CCID reader stopped answering; resetting it');
    this.devices.delete(dev.info.id);
    for (const c of dev.channels) c.gone = `reader being reset (${why})`;
    await this.teardown(dev, 'recovering');
    try {
      await dev.handle.reset();
    } catch (e) {
      this.log.warn({ usb: dev.info.id, err: (e as Error).message }, 'USB reset failed; waiting for the device to come back');
    }
    await dev.handle.close().catch(() => undefined);
    // Re-enumeration arrives as an attach event; where there is no hotplug the next scan finds it.
    if (this.running) setTimeout(() => void this.scan(), 50).unref();
  }

  readers(): CcidReader[] {
    return [...this.devices.values()].flatMap((d) => d.readers);
  }

  diagnostics(): Record<string, unknown> {
    return { ...this.counters, hotplug: this.binding?.hotplug ?? null, readers: this.readers().map((r) => ({ id: r.id, name: r.friendlyName, ...r.diagnostics() })) };
  }
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

export function createCcidDriver(config: CcidConfigT, ctx: DriverContext, deps: CcidDeps = {}): CcidDriver {
  return new CcidDriver(config, ctx, deps);
}
