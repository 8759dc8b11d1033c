/**
 * What the board offers a technician can put in the config: serial ports,
 * I2C buses and USB CCID devices (as drivers/ccid would take them). Each
 * probe is independent: one failing (no permission, no libusb) does not hide
 * the others.
 */
import { readdir } from 'node:fs/promises';
import type { CcidDeviceSummary } from '../../drivers/ccid/discover.js';

export interface BoardDevices {
  serialPorts: Array<{ path: string; manufacturer?: string; serialNumber?: string; vendorId?: string; productId?: string }> | { error: string };
  /** Said when a probe worked in a reduced way (e.g. no udevadm: ports listed from /dev without vendor details). */
  notes?: string[];
  i2cBuses: Array<{ path: string; bus: number }> | { error: string };
  usbCcid: CcidDeviceSummary[] | { error: string };
}

const errorText = (e: unknown): { error: string } => ({ error: e instanceof Error ? e.message : String(e) });

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

/** CCID devices as the CCID driver would take them, through its own USB binding (drivers/ccid/discover.ts). */
async function usbCcid(): Promise<BoardDevices['usbCcid']> {
  try {
    const { usbCcidDevices } = await import('../../drivers/ccid/discover.js');
    return await usbCcidDevices();
  } catch (e) {
    return errorText(e);
  }
}

export async function boardDevices(): Promise<BoardDevices> {
  const notes: string[] = [];
  const [s, i, u] = await Promise.all([serialPorts(notes), i2cBuses(), usbCcid()]);
  return { serialPorts: s, i2cBuses: i, usbCcid: u, ...(notes.length ? { notes } : {}) };
}
