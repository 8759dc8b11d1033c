/**
 * An emulated USB CCID reader: the USB identity and descriptors of a reader
 * profile, one CcidFunction per CCID interface, the bulk and interrupt
 * endpoints as queues, and fault injection. It is reached only through
 * UsbDeviceHandle (drivers/ccid/binding.ts), as libusb would reach hardware.
 */
import { UsbError, type ControlSetup, type UsbDeviceHandle, type UsbDeviceInfo, type UsbInterfaceInfo } from '../../drivers/ccid/binding.js';
import { encodeCcidDescriptor, exchangeLevel, FEATURE_BITS, type CcidDescriptor, type CcidExchangeLevel } from '../../drivers/ccid/descriptor.js';
import { CLASS_REQUEST } from '../../drivers/ccid/messages.js';
import { createCard, type SimCard } from '../../drivers/sim/cards/index.js';
import { CcidFunction } from './function.js';
import type { PinPad } from './pinpad.js';
import { profile as profileByKey, type ReaderProfile } from './profiles.js';

export type CcidFault =
  /** The bulk-IN endpoint halts: transfers fail with 'stall' until clearHalt. */
  | 'stall'
  /** The next reply arrives cut to 6 bytes. */
  | 'short-read'
  /** A stale frame with another bSeq precedes the next reply. */
  | 'wrong-bseq'
  /** More stale frames than any host should accept precede the next reply. */
  | 'wrong-bseq-flood'
  /** Time extensions without end for the next XfrBlock, until Abort. */
  | 'time-extension-storm'
  /** The device is unplugged during the next bulk-OUT transfer. */
  | 'unplug-mid-transfer'
  /** The firmware stops answering anything until a USB reset. */
  | 'hang'
  /** RDR_to_PC_HardwareError (overcurrent) on the interrupt endpoint. */
  | 'hardware-error';

export interface EmulatorOptions {
  /** Force an exchange level (rewrites dwFeatures' level bits of every interface). */
  level?: CcidExchangeLevel;
  /** Slots per interface (rewrites bMaxSlotIndex). */
  slots?: number;
  /** Interrupt endpoint on or off (off: the host must poll GetSlotStatus). */
  interrupt?: boolean;
  /** Time-extension frames before each XfrBlock answer. */
  timeExtensions?: number;
  serialNumber?: string;
  /** Descriptor fields to override on every interface (e.g. a small dwMaxIFSD). */
  descriptor?: Partial<CcidDescriptor>;
}

const LEVEL_BITS: Record<CcidExchangeLevel, number> = {
  character: 0,
  tpdu: FEATURE_BITS.LEVEL_TPDU,
  'short-apdu': FEATURE_BITS.LEVEL_SHORT_APDU,
  'extended-apdu': FEATURE_BITS.LEVEL_EXTENDED_APDU,
};

interface Waiter {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

/** A FIFO endpoint: replies queued by the firmware, transfers waiting for them. */
class InEndpoint {
  readonly queue: Buffer[] = [];
  readonly waiters: Waiter[] = [];
  halted = false;

  push(b: Buffer): void {
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(b);
    } else this.queue.push(b);
  }

  take(timeoutMs: number): Promise<Buffer> {
    if (this.halted) return Promise.reject(new UsbError('stall', 'endpoint halted (LIBUSB_ERROR_PIPE)'));
    const b = this.queue.shift();
    if (b) return Promise.resolve(b);
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      if (timeoutMs > 0) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new UsbError('timeout', `transfer timed out after ${timeoutMs} ms (LIBUSB_ERROR_TIMEOUT)`));
        }, timeoutMs);
      }
      this.waiters.push(w);
    });
  }

  failAll(e: UsbError): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(e);
    }
  }
}

interface Endpoints {
  fn: CcidFunction;
  bulkOut: number;
  bulkIn: number;
  interrupt?: number;
  in: InEndpoint;
  intr: InEndpoint;
}

let nextAddress = 2;

export class EmulatedCcidDevice {
  readonly profile: ReaderProfile;
  readonly functions: CcidFunction[];
  private readonly endpoints: Endpoints[];
  info: UsbDeviceInfo;
  attached = false;
  hung = false;
  readonly counters = { opens: 0, resets: 0, transfers: 0 };
  private readonly faults: CcidFault[] = [];
  private handles = new Set<EmulatedHandle>();
  /** Set by the binding: called when the device leaves or re-enumerates. */
  onDetach?: (dev: EmulatedCcidDevice) => void;
  onReenumerate?: (dev: EmulatedCcidDevice) => void;

  constructor(p: ReaderProfile | string, readonly options: EmulatorOptions = {}) {
    this.profile = typeof p === 'string' ? profileByKey(p) : p;
    this.functions = this.profile.interfaces.map((ip, i) => {
      const d: CcidDescriptor = { ...ip.descriptor, ...options.descriptor };
      if (options.level) d.features = (d.features & ~FEATURE_BITS.LEVEL_MASK) | LEVEL_BITS[options.level];
      if (options.slots !== undefined) d.maxSlotIndex = options.slots - 1;
      const withIntr = options.interrupt ?? ip.interrupt;
      const f = new CcidFunction(i, { ...ip, interrupt: withIntr }, d, (msg) => this.endpoints[i]?.intr.push(msg));
      f.timeExtensions = options.timeExtensions ?? 0;
      return f;
    });
    this.endpoints = this.functions.map((fn, i) => ({
      fn,
      bulkOut: 0x01 + 2 * i,
      bulkIn: 0x82 + 2 * i,
      interrupt: fn.profile.interrupt ? 0x83 + 2 * i : undefined,
      in: new InEndpoint(),
      intr: new InEndpoint(),
    }));
    this.info = this.describe();
  }

  get level(): CcidExchangeLevel {
    return exchangeLevel(this.functions[0].descriptor);
  }

  private describe(): UsbDeviceInfo {
    const address = nextAddress++;
    return {
      id: `emu-1-${address}`,
      busNumber: 1,
      deviceAddress: address,
      vendorId: this.profile.vendorId,
      productId: this.profile.productId,
      bcdDevice: this.profile.bcdDevice,
      manufacturer: this.profile.manufacturer,
      product: this.profile.product,
      serialNumber: this.options.serialNumber ?? this.profile.serialNumber,
      interfaces: this.endpoints.map((e, i): UsbInterfaceInfo => ({
        number: i,
        alternate: 0,
        class: e.fn.profile.interfaceClass ?? 0x0b,
        subclass: 0,
        protocol: 0,
        name: e.fn.profile.name,
        extra: encodeCcidDescriptor(e.fn.descriptor),
        endpoints: [
          { address: e.bulkOut, type: 'bulk', direction: 'out', maxPacketSize: 64, extra: Buffer.alloc(0) },
          { address: e.bulkIn, type: 'bulk', direction: 'in', maxPacketSize: 64, extra: Buffer.alloc(0) },
          ...(e.interrupt !== undefined ? [{ address: e.interrupt, type: 'interrupt' as const, direction: 'in' as const, maxPacketSize: 8, extra: Buffer.alloc(0) }] : []),
        ],
      })),
    };
  }

  /** Put a card (model or spec) in a slot of an interface. */
  insert(card: SimCard | unknown, opts: { interface?: number; slot?: number } = {}): SimCard {
    const c = isSimCard(card) ? card : createCard(card);
    this.fn(opts.interface ?? 0).insert(opts.slot ?? 0, c);
    return c;
  }

  remove(opts: { interface?: number; slot?: number } = {}): void {
    this.fn(opts.interface ?? 0).remove(opts.slot ?? 0);
  }

  fn(i: number): CcidFunction {
    const f = this.functions[i];
    if (!f) throw new Error(`${this.profile.key} has ${this.functions.length} CCID interface(s), no interface ${i}`);
    return f;
  }

  /** The keypad of interface 0 (a test types on it: enter('1234'), cancel(), noEntry()). */
  get pinpad(): PinPad {
    const pad = this.fn(0).pinpad;
    if (!pad) throw new Error(`${this.profile.key} has no PIN pad`);
    return pad;
  }

  inject(fault: CcidFault, iface = 0): void {
    if (fault === 'time-extension-storm') this.fn(iface).storm = true;
    else if (fault === 'hang') this.hung = true;
    else if (fault === 'stall') this.endpoints[iface].in.halted = true;
    else if (fault === 'hardware-error') this.fn(iface).sendHardwareError(0, 0, 0x01);
    else this.faults.push(fault);
  }

  private takeFault(f: CcidFault): boolean {
    const i = this.faults.indexOf(f);
    if (i < 0) return false;
    this.faults.splice(i, 1);
    return true;
  }

  open(): EmulatedHandle {
    if (!this.attached) throw new UsbError('no-device', `${this.info.id}: no such device (LIBUSB_ERROR_NO_DEVICE)`);
    this.counters.opens++;
    const h = new EmulatedHandle(this);
    this.handles.add(h);
    return h;
  }

  /** Unplug: every pending transfer fails with 'no-device'. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    for (const h of this.handles) h.dead = true;
    this.handles.clear();
    for (const e of this.endpoints) {
      e.in.failAll(new UsbError('no-device', 'device unplugged (LIBUSB_ERROR_NO_DEVICE)'));
      e.intr.failAll(new UsbError('no-device', 'device unplugged (LIBUSB_ERROR_NO_DEVICE)'));
      e.in.queue.length = 0;
      e.intr.queue.length = 0;
      e.in.halted = false;
    }
    for (const f of this.functions) for (let s = 0; s < f.slots.length; s++) if (f.slots[s].card) f.slots[s].powered = false;
    this.onDetach?.(this);
  }

  /** Plugged (again): a fresh bus address, slots report their cards as changed. */
  attach(): void {
    if (this.attached) return;
    this.info = this.describe();
    this.attached = true;
    this.hung = false;
    for (const f of this.functions) {
      f.storm = false;
      for (const s of f.slots) {
        s.busy = false;
        s.changed = s.card !== undefined;
      }
    }
  }

  /** Per-handle transfer entry points. */
  endpointOut(ep: number): Endpoints | undefined {
    return this.endpoints.find((e) => e.bulkOut === ep);
  }
  endpointIn(ep: number): Endpoints | undefined {
    return this.endpoints.find((e) => e.bulkIn === ep);
  }
  endpointIntr(ep: number): Endpoints | undefined {
    return this.endpoints.find((e) => e.interrupt === ep);
  }
  ifaceEndpoints(i: number): Endpoints | undefined {
    return this.endpoints[i];
  }

  async bulkOut(h: EmulatedHandle, ep: number, data: Buffer): Promise<void> {
    const e = this.endpointOut(ep);
    if (!e || !h.claimed.has(e.fn.number)) throw new UsbError('io', `endpoint 0x${ep.toString(16)} is not on a claimed interface (LIBUSB_ERROR_NOT_FOUND)`);
    this.counters.transfers++;
    if (this.takeFault('unplug-mid-transfer')) {
      queueMicrotask(() => this.detach());
      throw new UsbError('no-device', 'device unplugged during the transfer (LIBUSB_ERROR_NO_DEVICE)');
    }
    if (this.hung) return; // accepted by the USB controller, never answered
    const cut = this.takeFault('short-read');
    const stale = this.takeFault('wrong-bseq') ? 1 : this.takeFault('wrong-bseq-flood') ? 20 : 0;
    const push = (msg: Buffer): void => {
      if (!this.attached || this.hung) return;
      e.in.push(msg);
    };
    let first = true;
    const reply = (msg: Buffer): void => {
      if (first) {
        first = false;
        for (let i = 0; i < stale; i++) {
          const s = Buffer.from(msg);
          s[6] = (s[6] + 0x80 + i) & 0xff;
          push(s);
        }
        if (cut) return push(msg.subarray(0, 6));
      }
      push(msg);
    };
    // The firmware runs after the transfer completes, on a later turn of the event loop, as a
    // completion from the USB stack would arrive (never within the caller's microtasks).
    const cmd = Buffer.from(data);
    setImmediate(() => void e.fn.handle(cmd, reply));
  }

  async control(h: EmulatedHandle, setup: ControlSetup, data: Buffer | number): Promise<Buffer> {
    if (this.hung) throw new UsbError('timeout', 'control transfer timed out (LIBUSB_ERROR_TIMEOUT)');
    const e = this.ifaceEndpoints(setup.wIndex & 0xff);
    if (!e || !h.claimed.has(e.fn.number)) throw new UsbError('stall', 'control request to an unclaimed interface (LIBUSB_ERROR_PIPE)');
    if (setup.bmRequestType === 0x21 && setup.bRequest === CLASS_REQUEST.ABORT) {
      e.fn.controlAbort(setup.wValue);
      return Buffer.alloc(0);
    }
    if (setup.bmRequestType === 0xa1 && (setup.bRequest === CLASS_REQUEST.GET_CLOCK_FREQUENCIES || setup.bRequest === CLASS_REQUEST.GET_DATA_RATES)) {
      const d = e.fn.descriptor;
      if (setup.bRequest === CLASS_REQUEST.GET_DATA_RATES && d.numDataRatesSupported === 0) throw new UsbError('stall', 'GET_DATA_RATES not supported (LIBUSB_ERROR_PIPE)');
      if (setup.bRequest === CLASS_REQUEST.GET_CLOCK_FREQUENCIES && d.numClockSupported === 0) throw new UsbError('stall', 'GET_CLOCK_FREQUENCIES not supported (LIBUSB_ERROR_PIPE)');
      const n = setup.bRequest === CLASS_REQUEST.GET_DATA_RATES ? d.numDataRatesSupported : d.numClockSupported;
      const out = Buffer.alloc(4 * n);
      for (let i = 0; i < n; i++) out.writeUInt32LE(setup.bRequest === CLASS_REQUEST.GET_DATA_RATES ? d.dataRate * (i + 1) : d.defaultClockKhz, 4 * i);
      return out.subarray(0, typeof data === 'number' ? data : out.length);
    }
    throw new UsbError('stall', `control request ${setup.bmRequestType.toString(16)}/${setup.bRequest} not supported (LIBUSB_ERROR_PIPE)`);
  }

  clearHalt(ep: number): void {
    const e = this.endpointIn(ep);
    if (e) e.in.halted = false;
  }

  /** USB port reset: the device drops off the bus and comes back with a new address. */
  async usbReset(): Promise<void> {
    this.counters.resets++;
    this.detach();
    for (const f of this.functions) for (const s of f.slots) s.powered = false;
    this.onReenumerate?.(this);
  }
}

const isSimCard = (x: unknown): x is SimCard => typeof x === 'object' && x !== null && typeof (x as SimCard).process === 'function' && Buffer.isBuffer((x as SimCard).atr);

export class EmulatedHandle implements UsbDeviceHandle {
  readonly claimed = new Set<number>();
  dead = false;
  constructor(readonly device: EmulatedCcidDevice) {}

  private check(): void {
    if (this.dead) throw new UsbError('no-device', 'device gone (LIBUSB_ERROR_NO_DEVICE)');
  }

  async claimInterface(iface: number): Promise<{ detachedKernelDriver: boolean }> {
    this.check();
    if (!this.device.ifaceEndpoints(iface)) throw new UsbError('io', `no interface ${iface} (LIBUSB_ERROR_NOT_FOUND)`);
    this.claimed.add(iface);
    return { detachedKernelDriver: false };
  }

  async releaseInterface(iface: number): Promise<void> {
    this.claimed.delete(iface);
  }

  async bulkOut(endpoint: number, data: Buffer): Promise<void> {
    this.check();
    await this.device.bulkOut(this, endpoint, data);
  }

  async bulkIn(endpoint: number, maxLength: number, timeoutMs: number): Promise<Buffer> {
    this.check();
    const e = this.device.endpointIn(endpoint);
    if (!e || !this.claimed.has(e.fn.number)) throw new UsbError('io', `endpoint 0x${endpoint.toString(16)} is not on a claimed interface (LIBUSB_ERROR_NOT_FOUND)`);
    const b = await e.in.take(timeoutMs);
    if (b.length > maxLength) throw new UsbError('overflow', `device sent ${b.length} bytes, transfer had room for ${maxLength} (LIBUSB_ERROR_OVERFLOW)`);
    return b;
  }

  async interruptIn(endpoint: number, maxLength: number, timeoutMs: number): Promise<Buffer> {
    this.check();
    const e = this.device.endpointIntr(endpoint);
    if (!e || !this.claimed.has(e.fn.number)) throw new UsbError('io', `endpoint 0x${endpoint.toString(16)} is not an interrupt endpoint of a claimed interface (LIBUSB_ERROR_NOT_FOUND)`);
    const b = await e.intr.take(timeoutMs);
    return b.subarray(0, maxLength);
  }

  async controlTransfer(setup: ControlSetup, data: Buffer | number): Promise<Buffer> {
    this.check();
    return this.device.control(this, setup, data);
  }

  async clearHalt(endpoint: number): Promise<void> {
    this.check();
    this.device.clearHalt(endpoint);
  }

  async reset(): Promise<void> {
    this.check();
    this.dead = true;
    await this.device.usbReset();
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    this.claimed.clear();
    // Transfers this handle had pending end as libusb ends them on close.
    for (let i = 0; ; i++) {
      const e = this.device.ifaceEndpoints(i);
      if (!e) break;
      e.in.failAll(new UsbError('closed', 'device handle closed'));
      e.intr.failAll(new UsbError('closed', 'device handle closed'));
    }
  }
}
