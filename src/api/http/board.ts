/**
 * What the board offers a technician can put in the config: serial ports,
 * I2C buses and USB CCID devices (interface class 0x0B). Each probe is
 * independent: one failing (no permission, no libusb) does not hide the others.
 */
import { readdir } from 'node:fs/promises';

export const USB_CLASS_SMART_CARD = 0x0b;

export interface BoardDevices {
  serialPorts: Array<{ path: string; manufacturer?: string; serialNumber?: string; vendorId?: string; productId?: string }> | { error: string };
  /** Said when a probe worked in a reduced way (e.g. no udevadm: ports listed from /dev without vendor details). */
  notes?: string[];
  i2cBuses: Array<{ path: string; bus: number }> | { error: string };
  usbCcid: Array<{ bus: string; address: number; vendorId: string; productId: string; product?: string; interfaces: number[] }> | { error: string };
}

const errorText = (e: unknown): { error: string } => ({ error: e instanceof Error ? e.message : String(e) });
const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** Serial device names a board offers (UARTs, USB-serial adapters, CDC ACM), as /dev lists them. */
const SERIAL_NAME = /^(ttyS\d+|ttyAMA\d+|ttyAML\d+|ttyUSB\d+|ttyACM\d+|ttyXRUSB\d+|ttymxc\d+|ttyO\d+|ttyTHS\d+|serial\d+)$/;

async function devSerialPorts(devDir: string): Promise<Array<{ path: string }>> {
  const names = await readdir(devDir);
  return names
    .filter((n) => SERIAL_NAME.test(n))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((n) => ({ path: `${devDir}/${n}` }));
}

async function serialPorts(notes: string[], devDir = '/dev'): Promise<BoardDevices['serialPorts']> {
  try {
    const { SerialPort } = await import('serialport');
    let ports;
    try {
      ports = await SerialPort.list();
    } catch (e) {
      // serialport lists Linux ports through udevadm; boards without udev (containers, minimal images) still have ports.
      if (!/udevadm/.test(String((e as Error).message))) throw e;
      notes.push('udevadm is not available on this system: serial ports are listed from /dev, without vendor or serial-number details');
      return await devSerialPorts(devDir);
    }
    return ports.map((p) => ({
      path: p.path,
      manufacturer: p.manufacturer,
      serialNumber: p.serialNumber,
      vendorId: p.vendorId,
      productId: p.productId,
    }));
  } catch (e) {
    return errorText(e);
  }
}

async function i2cBuses(devDir = '/dev'): Promise<BoardDevices['i2cBuses']> {
  try {
    const names = await readdir(devDir);
    return names
      .filter((n) => /^i2c-\d+$/.test(n))
      .map((n) => ({ path: `${devDir}/${n}`, bus: Number(n.slice(4)) }))
      .sort((a, b) => a.bus - b.bus);
  } catch (e) {
    return errorText(e);
  }
}

/** The fields of usb's (WebUSB-shaped) device this probe reads. */
interface UsbDeviceView {
  vendorId: number;
  productId: number;
  productName?: string | null;
  bus?: string;
  address?: number;
  configurations?: Array<{ interfaces: Array<{ interfaceNumber: number; alternates: Array<{ interfaceClass: number }> }> }>;
}

async function usbCcid(): Promise<BoardDevices['usbCcid']> {
  try {
    const { WebUSB } = await import('usb');
    const devices = await new WebUSB({ allowAllDevices: true }).getDevices();
    const out: Array<{ bus: string; address: number; vendorId: string; productId: string; product?: string; interfaces: number[] }> = [];
    for (const dev of devices) {
      const d = dev as unknown as UsbDeviceView;
      const ifaces = (d.configurations ?? [])
        .flatMap((c) => c.interfaces)
        .filter((i) => i.alternates.some((a) => a.interfaceClass === USB_CLASS_SMART_CARD));
      if (ifaces.length === 0) continue;
      out.push({
        bus: String(d.bus ?? ''),
        address: d.address ?? 0,
        vendorId: hex4(d.vendorId),
        productId: hex4(d.productId),
        product: d.productName ?? undefined,
        interfaces: ifaces.map((i) => i.interfaceNumber),
      });
    }
    return out;
  } catch (e) {
    return errorText(e);
  }
}

export async function boardDevices(): Promise<BoardDevices> {
  const notes: string[] = [];
  const [s, i, u] = await Promise.all([serialPorts(notes), i2cBuses(), usbCcid()]);
  return { serialPorts: s, i2cBuses: i, usbCcid: u, ...(notes.length ? { notes } : {}) };
}
