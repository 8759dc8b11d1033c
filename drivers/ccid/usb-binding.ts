/**
 * The real USB binding: a thin layer over the `usb` package (v3, nusb/libusb
 * underneath). It only translates; every CCID decision lives in the driver.
 * Not exercised by the tests (no USB hardware there): the emulator
 * implements the same interface and the driver is tested through it.
 */
import { EventEmitter } from 'node:events';
import { UsbError, type ControlSetup, type UsbBinding, type UsbBindingEvents, type UsbDeviceHandle, type UsbDeviceInfo, type UsbErrorCode } from './binding.js';
import { configurationExtras } from './descriptor.js';

/* The parts of the `usb` package this binding uses, typed here so the driver
   typechecks and loads whether or not the package's native part is there. */
interface LibEndpoint {
  endpointNumber: number;
  direction: 'in' | 'out';
  type: 'bulk' | 'interrupt' | 'isochronous';
  packetSize: number;
}
interface LibAlternate {
  alternateSetting: number;
  interfaceClass: number;
  interfaceSubclass: number;
  interfaceProtocol: number;
  interfaceName?: string;
  endpoints: LibEndpoint[];
}
interface LibSetup {
  requestType: 'standard' | 'class' | 'vendor';
  recipient: 'device' | 'interface' | 'endpoint' | 'other';
  request: number;
  value: number;
  index: number;
}
interface LibDevice {
  vendorId: number;
  productId: number;
  deviceVersionMajor: number;
  deviceVersionMinor: number;
  deviceVersionSubminor: number;
  bus: string;
  address: number;
  ports: number[];
  readonly manufacturerName: string | null;
  readonly productName: string | null;
  readonly serialNumber: string | null;
  readonly opened: boolean;
  readonly configuration: { interfaces: Array<{ interfaceNumber: number; alternates: LibAlternate[] }> } | null;
  open(): Promise<void>;
  close(): Promise<void>;
  reset(): Promise<void>;
  claimInterface(n: number): Promise<void>;
  releaseInterface(n: number): Promise<void>;
  detachKernelDriver(n: number): Promise<void>;
  clearHalt(direction: 'in' | 'out', endpointNumber: number): Promise<void>;
  nativeControlTransferIn(setup: LibSetup, timeout: number, length: number): Promise<Uint8Array | null>;
  nativeControlTransferOut(setup: LibSetup, timeout: number, data?: Uint8Array | null): Promise<number>;
  nativeTransferIn(endpointNumber: number, timeout: number, length: number): Promise<Uint8Array | null>;
  nativeTransferOut(endpointNumber: number, timeout: number, data: Uint8Array): Promise<number>;
}
interface LibUsb {
  getDevices(): Promise<LibDevice[]>;
  addEventListener(type: 'connect' | 'disconnect', listener: (ev: { device: LibDevice }) => void): void;
  removeEventListener(type: 'connect' | 'disconnect', listener: (ev: { device: LibDevice }) => void): void;
}

/** Map the library's error text to a code the driver acts on. */
function wrap(e: unknown, what: string): UsbError {
  if (e instanceof UsbError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const m = msg.toLowerCase();
  const code: UsbErrorCode = /timed? ?out/.test(m)
    ? 'timeout'
    : /stall|pipe/.test(m)
      ? 'stall'
      : /no ?device|disconnected|not found/.test(m)
        ? 'no-device'
        : /access|permission/.test(m)
          ? 'access'
          : /busy/.test(m)
            ? 'busy'
            : /cancel/.test(m)
              ? 'closed'
              : 'io';
  const hint = code === 'access' ? ' (permission denied: add a udev rule giving the daemon user access to the reader, see README "USB CCID readers")' : '';
  return new UsbError(code, `${what}: ${msg}${hint}`);
}

const idOf = (d: LibDevice): string => `${d.bus}-${d.ports.join('.') || d.address}:${d.address}`;

class LibHandle implements UsbDeviceHandle {
  private closed = false;
  constructor(private readonly dev: LibDevice) {}

  private live(): LibDevice {
    if (this.closed) throw new UsbError('closed', 'device handle closed');
    return this.dev;
  }

  async claimInterface(n: number): Promise<{ detachedKernelDriver: boolean }> {
    const d = this.live();
    try {
      await d.claimInterface(n);
      return { detachedKernelDriver: false };
    } catch (first) {
      // A kernel driver (pn533_usb on an ACR122U) holds it: detach and claim again.
      try {
        await d.detachKernelDriver(n);
      } catch {
        throw wrap(first, `claim interface ${n}`);
      }
      await d.claimInterface(n).catch((e: unknown) => {
        throw wrap(e, `claim interface ${n} after detaching the kernel driver`);
      });
      return { detachedKernelDriver: true };
    }
  }

  async releaseInterface(n: number): Promise<void> {
    await this.live().releaseInterface(n).catch((e: unknown) => { throw wrap(e, `release interface ${n}`); });
  }

  async bulkOut(endpoint: number, data: Buffer, timeoutMs: number): Promise<void> {
    await this.live().nativeTransferOut(endpoint & 0x0f, timeoutMs, data).catch((e: unknown) => { throw wrap(e, 'bulk OUT'); });
  }

  async bulkIn(endpoint: number, maxLength: number, timeoutMs: number): Promise<Buffer> {
    const r = await this.live().nativeTransferIn(endpoint & 0x0f, timeoutMs, maxLength).catch((e: unknown) => { throw wrap(e, 'bulk IN'); });
    return Buffer.from(r ?? []);
  }

  interruptIn(endpoint: number, maxLength: number, timeoutMs: number): Promise<Buffer> {
    return this.bulkIn(endpoint, maxLength, timeoutMs);
  }

  async controlTransfer(s: ControlSetup, data: Buffer | number, timeoutMs: number): Promise<Buffer> {
    const setup: LibSetup = {
      requestType: (['standard', 'class', 'vendor'] as const)[(s.bmRequestType >> 5) & 0x03] ?? 'vendor',
      recipient: (['device', 'interface', 'endpoint', 'other'] as const)[s.bmRequestType & 0x03] ?? 'other',
      request: s.bRequest,
      value: s.wValue,
      index: s.wIndex,
    };
    const d = this.live();
    try {
      if (s.bmRequestType & 0x80) return Buffer.from((await d.nativeControlTransferIn(setup, timeoutMs, typeof data === 'number' ? data : data.length)) ?? []);
      await d.nativeControlTransferOut(setup, timeoutMs, typeof data === 'number' ? null : data);
      return Buffer.alloc(0);
    } catch (e) {
      throw wrap(e, 'control transfer');
    }
  }

  async clearHalt(endpoint: number): Promise<void> {
    await this.live().clearHalt(endpoint & 0x80 ? 'in' : 'out', endpoint & 0x0f).catch((e: unknown) => { throw wrap(e, 'clear halt'); });
  }

  async reset(): Promise<void> {
    await this.live().reset().catch((e: unknown) => { throw wrap(e, 'USB reset'); });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dev.close().catch(() => undefined);
  }
}

export class LibUsbBinding extends EventEmitter<UsbBindingEvents> implements UsbBinding {
  readonly hotplug = true;
  private readonly byDevice = new Map<LibDevice, string>();
  private readonly onConnect = (ev: { device: LibDevice }): void => {
    void this.describe(ev.device).then((info) => info && this.emit('attach', info), () => undefined);
  };
  private readonly onDisconnect = (ev: { device: LibDevice }): void => {
    const id = this.byDevice.get(ev.device) ?? idOf(ev.device);
    this.byDevice.delete(ev.device);
    this.emit('detach', id);
  };

  constructor(private readonly lib: LibUsb) {
    super();
    lib.addEventListener('connect', this.onConnect);
    lib.addEventListener('disconnect', this.onDisconnect);
  }

  /** Descriptors, strings and the class-specific bytes (read from the raw configuration descriptor). */
  private async describe(d: LibDevice): Promise<UsbDeviceInfo | undefined> {
    const ifaces = d.configuration?.interfaces ?? [];
    if (!ifaces.some((i) => i.alternates.some((a) => a.interfaceClass === 0x0b || a.interfaceClass === 0xff))) return undefined;
    const wasOpen = d.opened;
    let extras: ReturnType<typeof configurationExtras> = [];
    try {
      if (!wasOpen) await d.open();
      const get = (len: number): Promise<Uint8Array | null> => d.nativeControlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: 0x0200, index: 0 }, 1000, len);
      const head = Buffer.from((await get(9)) ?? []);
      if (head.length >= 4) extras = configurationExtras(Buffer.from((await get(head.readUInt16LE(2))) ?? []));
    } catch {
      /* no access yet: the driver's open() names the fix */
    } finally {
      if (!wasOpen) await d.close().catch(() => undefined);
    }
    const id = idOf(d);
    this.byDevice.set(d, id);
    return {
      id,
      busNumber: Number.parseInt(d.bus, 10) || 0,
      deviceAddress: d.address,
      vendorId: d.vendorId,
      productId: d.productId,
      bcdDevice: ((d.deviceVersionMajor & 0xff) << 8) | ((d.deviceVersionMinor & 0x0f) << 4) | (d.deviceVersionSubminor & 0x0f),
      manufacturer: d.manufacturerName ?? undefined,
      product: d.productName ?? undefined,
      serialNumber: d.serialNumber ?? undefined,
      interfaces: ifaces.flatMap((i) =>
        i.alternates.map((a) => {
          const x = extras.find((e) => e.number === i.interfaceNumber && e.alternate === a.alternateSetting);
          return {
            number: i.interfaceNumber,
            alternate: a.alternateSetting,
            class: a.interfaceClass,
            subclass: a.interfaceSubclass,
            protocol: a.interfaceProtocol,
            name: a.interfaceName,
            extra: x?.extra ?? Buffer.alloc(0),
            endpoints: a.endpoints.map((e, k) => ({
              address: e.endpointNumber | (e.direction === 'in' ? 0x80 : 0),
              type: e.type,
              direction: e.direction,
              maxPacketSize: e.packetSize,
              extra: x?.endpointExtras[k] ?? Buffer.alloc(0),
            })),
          };
        }),
      ),
    };
  }

  async list(): Promise<UsbDeviceInfo[]> {
    const out: UsbDeviceInfo[] = [];
    for (const d of await this.lib.getDevices()) {
      const info = await this.describe(d).catch(() => undefined);
      if (info) out.push(info);
    }
    return out;
  }

  async open(id: string): Promise<UsbDeviceHandle> {
    const d = (await this.lib.getDevices()).find((x) => idOf(x) === id);
    if (!d) throw new UsbError('no-device', `USB device ${id} is gone`);
    try {
      if (!d.opened) await d.open();
    } catch (e) {
      throw wrap(e, `open USB device ${id}`);
    }
    return new LibHandle(d);
  }

  async close(): Promise<void> {
    this.lib.removeEventListener('connect', this.onConnect);
    this.lib.removeEventListener('disconnect', this.onDisconnect);
  }
}

/** The libusb binding, or an error saying how to get it. */
export async function createUsbBinding(): Promise<UsbBinding> {
  let lib: LibUsb;
  try {
    const name = 'usb';
    lib = ((await import(name)) as { usb: LibUsb }).usb;
    if (!lib || typeof lib.getDevices !== 'function') throw new Error('the usb package does not export usb.getDevices (version 3 expected)');
  } catch (e) {
    throw new UsbError('missing-library', `drivers.ccid needs the 'usb' npm package, version 3 (${(e as Error).message}). Install it with npm install, or set drivers.ccid.enabled: false`);
  }
  return new LibUsbBinding(lib);
}
