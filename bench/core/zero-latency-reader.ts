/**
 * The benchmark's zero-latency card: a reader slot whose card answers every
 * APDU at once with 90 00 (plus the command data for case 3/4, like an echo
 * applet), so what is measured is the core, not a card model.
 */
import { EventEmitter } from 'node:events';
import type { CardInfo, Driver, DriverEvents, DriverReader, DriverSlot, SlotEvents } from '../../src/driver/contract.js';

const OK = Buffer.from([0x90, 0x00]);
/** T=0 and T=1 offered, TCK present. */
const ATR = Buffer.from('3B8E800180318066B1840C016E01830090001C', 'hex');

export class ZeroLatencySlot extends EventEmitter<SlotEvents> implements DriverSlot {
  readonly index = 0;
  readonly level = 'apdu' as const;
  exchanges = 0;
  isCardPresent(): boolean {
    return true;
  }
  cardInfo(): CardInfo {
    return { contactless: false, type: 'bench' };
  }
  async powerUp(): Promise<Buffer> {
    return ATR;
  }
  async powerDown(): Promise<void> {}
  async reset(): Promise<Buffer> {
    return ATR;
  }
  transmit(data: Buffer): Promise<Buffer> {
    this.exchanges++;
    return Promise.resolve(data.length > 5 ? Buffer.concat([data.subarray(5, 5 + data[4]), OK]) : OK);
  }
}

export class ZeroLatencyDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly name = 'bench';
  readonly slot = new ZeroLatencySlot();
  readonly reader: DriverReader = { id: 'bench-0', friendlyName: 'Zero Latency Reader', slots: [this.slot] };
  async start(): Promise<void> {
    this.emit('reader-added', this.reader);
  }
  async stop(): Promise<void> {}
}
