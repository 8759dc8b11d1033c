/**
 * The emulator's UsbBinding: a bus of EmulatedCcidDevices with hotplug
 * events, so the CCID driver runs unchanged against it (no libusb).
 */
import { EventEmitter } from 'node:events';
import type { SimulationControl } from '../../src/driver/contract.js';
import { UsbError, type UsbBinding, type UsbBindingEvents, type UsbDeviceHandle, type UsbDeviceInfo } from '../../drivers/ccid/binding.js';
import { EmulatedCcidDevice, type EmulatorOptions } from './device.js';
import type { ReaderProfile } from './profiles.js';

export class EmulatedUsbBinding extends EventEmitter<UsbBindingEvents> implements UsbBinding {
  readonly devices = new Set<EmulatedCcidDevice>();

  /** hotplug false: the driver must poll list() (the fallback path). */
  constructor(readonly hotplug = true) {
    super();
  }

  /** Create a device from a profile and plug it in. */
  add(profile: ReaderProfile | string, options: EmulatorOptions = {}): EmulatedCcidDevice {
    const d = new EmulatedCcidDevice(profile, options);
    this.plug(d);
    return d;
  }

  plug(d: EmulatedCcidDevice): void {
    this.devices.add(d);
    d.onDetach = (dev) => this.emit('detach', dev.info.id);
    // After a USB reset the device comes back on the bus by itself, with a new address.
    d.onReenumerate = (dev) => setImmediate(() => this.devices.has(dev) && this.plugAgain(dev));
    this.plugAgain(d);
  }

  private plugAgain(d: EmulatedCcidDevice): void {
    d.attach();
    this.emit('attach', d.info);
  }

  /** Pull the device out (pending transfers fail with 'no-device'). */
  unplug(d: EmulatedCcidDevice): void {
    d.detach();
  }

  /** Unplug and forget. */
  delete(d: EmulatedCcidDevice): void {
    this.devices.delete(d);
    d.detach();
  }

  async list(): Promise<UsbDeviceInfo[]> {
    return [...this.devices].filter((d) => d.attached).map((d) => d.info);
  }

  async open(id: string): Promise<UsbDeviceHandle> {
    const d = [...this.devices].find((x) => x.attached && x.info.id === id);
    if (!d) throw new UsbError('no-device', `no device ${id} (LIBUSB_ERROR_NO_DEVICE)`);
    return d.open();
  }

  async close(): Promise<void> {}

  /** Insert/remove (and keys on its PIN pad, where it has one) on the emulated device behind `deviceId` (its id changes after a USB reset: looked up on each call). */
  simulation(deviceId: string, iface: number, slot: number): SimulationControl | undefined {
    const device = [...this.devices].find((d) => d.info.id === deviceId);
    if (!device) return undefined;
    const live = (): EmulatedCcidDevice => {
      if (!this.devices.has(device) || !device.attached) throw new UsbError('no-device', `emulated device ${deviceId} is not on the bus`);
      return device;
    };
    const control: SimulationControl = {
      insert: async (spec) => void live().insert(spec, { interface: iface, slot }),
      remove: async () => live().remove({ interface: iface, slot }),
    };
    // Only where the interface has a keypad: the core offers simulate/pinpad by the method being there.
    if (device.fn(iface).pinpad) {
      control.pinpad = async (entry, { waitMs }) => live().fn(iface).pinpad!.press(entry, waitMs);
    }
    return control;
  }
}
