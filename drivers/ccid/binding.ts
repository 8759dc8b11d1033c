/**
 * The USB binding the CCID driver talks through, injected like serialport's
 * binding: the real one wraps the `usb` package (usb-binding.ts), the
 * emulator (emulators/ccid) implements the same interface. README "USB CCID
 * readers" documents it for anyone testing a reader without hardware.
 */
import type { EventEmitter } from 'node:events';
import type { SimulationControl } from '../../src/driver/contract.js';

export interface UsbEndpointInfo {
  /** bEndpointAddress (bit 7 set = IN). */
  address: number;
  type: 'bulk' | 'interrupt' | 'isochronous' | 'control';
  direction: 'in' | 'out';
  maxPacketSize: number;
  /** Class-specific bytes after the endpoint descriptor (some readers put the CCID descriptor here). */
  extra: Buffer;
}

export interface UsbInterfaceInfo {
  number: number;
  alternate: number;
  class: number;
  subclass: number;
  protocol: number;
  /** iInterface string, when the device has one. */
  name?: string;
  /** Class-specific bytes after the interface descriptor (the CCID class descriptor lives here). */
  extra: Buffer;
  endpoints: UsbEndpointInfo[];
}

export interface UsbDeviceInfo {
  /** Stable while plugged: "bus-port.path" or similar; a re-plug may give a new one. */
  id: string;
  busNumber: number;
  deviceAddress: number;
  vendorId: number;
  productId: number;
  /** bcdDevice (firmware release), BCD. */
  bcdDevice: number;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
  interfaces: UsbInterfaceInfo[];
}

export type UsbErrorCode = 'timeout' | 'stall' | 'no-device' | 'access' | 'busy' | 'io' | 'overflow' | 'closed' | 'not-supported' | 'missing-library';

/** Every binding failure, with a code the driver can act on. */
export class UsbError extends Error {
  constructor(
    readonly code: UsbErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'UsbError';
  }
}
export const isUsbError = (e: unknown, code?: UsbErrorCode): e is UsbError => e instanceof UsbError && (code === undefined || e.code === code);

export interface ControlSetup {
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
}

/** An opened device. Every transfer rejects with UsbError; close() rejects the pending ones with 'closed'. */
export interface UsbDeviceHandle {
  /**
   * Claim an interface. When a kernel driver holds it (pn533_usb on an
   * ACR122U), detach it first and resolve true; 'access' when not permitted.
   */
  claimInterface(iface: number): Promise<{ detachedKernelDriver: boolean }>;
  releaseInterface(iface: number): Promise<void>;
  bulkOut(endpoint: number, data: Buffer, timeoutMs: number): Promise<void>;
  /** One bulk-IN transfer of up to maxLength bytes. */
  bulkIn(endpoint: number, maxLength: number, timeoutMs: number): Promise<Buffer>;
  /** One interrupt-IN transfer; timeoutMs 0 waits until data, close() or unplug. */
  interruptIn(endpoint: number, maxLength: number, timeoutMs: number): Promise<Buffer>;
  /** Control transfer: IN when bmRequestType bit 7 is set (then `data` is the length wanted). */
  controlTransfer(setup: ControlSetup, data: Buffer | number, timeoutMs: number): Promise<Buffer>;
  /** Clear a halted (stalled) endpoint. */
  clearHalt(endpoint: number): Promise<void>;
  /** USB port reset; the device re-enumerates (the handle is unusable afterwards). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface UsbBindingEvents {
  attach: [device: UsbDeviceInfo];
  detach: [id: string];
}

export interface UsbBinding extends EventEmitter<UsbBindingEvents> {
  /** True when attach/detach events arrive by themselves; false: the driver polls list(). */
  readonly hotplug: boolean;
  list(): Promise<UsbDeviceInfo[]>;
  open(id: string): Promise<UsbDeviceHandle>;
  /** Stop hotplug listening (driver stop). */
  close?(): Promise<void>;
  /**
   * Card insertion and removal on one slot, where the binding hosts emulated
   * devices (emulators/ccid): scardctl insert, the web UI and tests reach the
   * emulated card through it. Real USB has none.
   */
  simulation?(deviceId: string, iface: number, slot: number): SimulationControl | undefined;
}
