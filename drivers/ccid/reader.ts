/**
 * One CCID interface as a DriverReader (its slots are PC/SC readers), and
 * the presence watch: NotifySlotChange on the interrupt endpoint, or
 * GetSlotStatus polling for readers without one.
 */
import type { Logger } from 'pino';
import type { DriverReader } from '../../src/driver/contract.js';
import { isUsbError, type UsbDeviceInfo } from './binding.js';
import type { CcidChannel } from './channel.js';
import { exchangeLevel, type CcidDescriptor } from './descriptor.js';
import { ICC, RDR_TO_PC } from './messages.js';
import type { Quirks } from './quirks.js';
import { CcidSlot, type SlotOptions } from './slot.js';

export class CcidReader implements DriverReader {
  readonly id: string;
  readonly friendlyName: string;
  readonly interfaceName?: string;
  readonly serial?: string;
  readonly vendor?: string;
  readonly ifdType?: string;
  readonly ifdVersion: number;
  readonly channelId: number;
  readonly slots: CcidSlot[];
  private pollTimer?: NodeJS.Timeout;
  private stopped = false;
  readonly counters = { notifications: 0, hardwareErrors: 0, polls: 0 };

  constructor(
    readonly device: UsbDeviceInfo,
    readonly interfaceNumber: number,
    readonly channel: CcidChannel,
    readonly descriptor: CcidDescriptor,
    readonly quirks: Quirks,
    slotOpts: Omit<SlotOptions, 'level' | 'quirks' | 'label' | 'vendorId' | 'productId'>,
    private readonly log: Logger,
  ) {
    this.id = `${device.id}:${interfaceNumber}`;
    // pcscd's friendly name is vendor + product; the interface string and serial follow (src/core/reader-names.ts).
    this.friendlyName = [device.manufacturer, device.product].filter(Boolean).join(' ') || `USB CCID ${hex4(device.vendorId)}:${hex4(device.productId)}`;
    const iface = device.interfaces.find((i) => i.number === interfaceNumber);
    this.interfaceName = iface?.name;
    this.serial = device.serialNumber;
    this.vendor = device.manufacturer;
    this.ifdType = device.product;
    // libccid's IFD version: bcdDevice in the upper half (0xMMmm0000).
    this.ifdVersion = (device.bcdDevice & 0xffff) << 16;
    // SCARD_ATTR_CHANNEL_ID: 0x0020 (USB) in the upper word, bus and address below.
    this.channelId = ((0x0020 << 16) | ((device.busNumber & 0xff) << 8) | (device.deviceAddress & 0xff)) >>> 0;
    const level = exchangeLevel(descriptor);
    this.slots = Array.from(
      { length: descriptor.maxSlotIndex + 1 },
      (_, i) =>
        new CcidSlot(i, channel, {
          ...slotOpts,
          level,
          quirks,
          label: `${this.friendlyName}${this.interfaceName ? ` [${this.interfaceName}]` : ''}`,
          vendorId: device.vendorId,
          productId: device.productId,
        }),
    );
  }

  /** Initial presence of every slot, then the watch (interrupt endpoint or polling). */
  async start(pollIntervalMs: number): Promise<void> {
    for (const s of this.slots) {
      const st = await s.slotStatus();
      await s.setPresence(st !== ICC.ABSENT);
    }
    if (this.channel.ep.interrupt !== undefined) void this.listen(this.channel.ep.interrupt);
    else this.poll(pollIntervalMs);
  }

  private async listen(ep: number): Promise<void> {
    const size = 1 + Math.ceil((2 * this.slots.length) / 8);
    while (!this.stopped) {
      let msg: Buffer;
      try {
        msg = await this.channel.handle.interruptIn(ep, Math.max(8, size), 0);
      } catch (e) {
        if (this.stopped || isUsbError(e, 'closed') || isUsbError(e, 'no-device')) return;
        if (isUsbError(e, 'timeout')) continue;
        this.log.warn({ reader: this.id, err: (e as Error).message }, 'CCID interrupt endpoint failed; polling GetSlotStatus instead');
        this.poll(400);
        return;
      }
      await this.onInterrupt(msg);
    }
  }

  /** NotifySlotChange: per slot, b0 present and b1 changed (docs/ccid.md §3.5); HardwareError is logged and reported. */
  async onInterrupt(msg: Buffer): Promise<void> {
    if (msg[0] === RDR_TO_PC.NotifySlotChange) {
      // The first notification's "changed" bits count from the reader's power-on: a card that was in the reader when
      // it was plugged is reported present and changed, an insertion start() has already seen through GetSlotStatus,
      // not a swap (which would power the card twice and tell every client of a removal that never was).
      const first = this.counters.notifications === 0;
      this.counters.notifications++;
      for (const s of this.slots) {
        const byte = msg[1 + (s.index >> 2)];
        if (byte === undefined) continue;
        const bits = (byte >> ((s.index & 3) * 2)) & 0x03;
        await s.setPresence((bits & 1) === 1, !first && (bits & 2) === 2);
      }
    } else if (msg[0] === RDR_TO_PC.HardwareError && msg.length >= 4) {
      this.counters.hardwareErrors++;
      const slot = this.slots[msg[1]];
      const err = new Error(`CCID hardware error 0x${msg[3].toString(16)}${msg[3] === 1 ? ' (overcurrent)' : ''} on slot ${msg[1]}`);
      this.log.warn({ reader: this.id, slot: msg[1], code: msg[3] }, err.message);
      slot?.emit('error', err);
      // What the slot holds now is unknown: ask.
      if (slot) await slot.slotStatus().then((st) => slot.setPresence(st !== ICC.ABSENT), () => undefined);
    }
  }

  private poll(ms: number): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      this.counters.polls++;
      for (const s of this.slots) {
        try {
          const st = await s.slotStatus();
          await s.setPresence(st !== ICC.ABSENT);
        } catch {
          if (this.channel.gone) return;
        }
      }
      if (!this.stopped) this.pollTimer = setTimeout(() => void tick(), ms);
    };
    this.pollTimer = setTimeout(() => void tick(), ms);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.pollTimer);
  }

  diagnostics(): Record<string, unknown> {
    return {
      usb: `${hex4(this.device.vendorId)}:${hex4(this.device.productId)}`,
      bus: this.device.busNumber,
      address: this.device.deviceAddress,
      interface: this.interfaceNumber,
      level: exchangeLevel(this.descriptor),
      firmware: `${(this.device.bcdDevice >> 8).toString(16)}.${(this.device.bcdDevice & 0xff).toString(16).padStart(2, '0')}`,
      quirks: Object.keys(this.quirks).filter((k) => k !== 'matched'),
      channel: this.channel.counters,
      ...this.counters,
      slots: this.slots.map((s) => s.diagnostics()),
    };
  }
}

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
