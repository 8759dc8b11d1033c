/**
 * A serial line with one or more PDs on it: packets from the framer go to
 * the PD they address (a broadcast to the first one), replies go back on the
 * line. A COMSET's new speed is applied once its osdp_COM reply has had time
 * to leave at the old speed.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { BROADCAST } from './codes.js';
import { Framer } from './framer.js';
import type { ByteLink } from './link.js';
import type { Decoded } from './packet.js';
import type { PdEngine } from './pd.js';

export interface PdPortOptions {
  log?: Logger;
  /** Replace, delay or drop a reply (the emulator's fault injection). */
  outgoing?: (bytes: Buffer, pd: PdEngine) => { bytes?: Buffer; delayMs?: number };
  /** Alter bytes as they arrive (the emulator's line noise). */
  incoming?: (bytes: Buffer) => Buffer;
}

export interface PdPortEvents {
  /** A command was answered (for diagnostics and "CP online" tracking). */
  answered: [pd: PdEngine, code: number];
  discard: [reason: string];
}

export class PdPort extends EventEmitter<PdPortEvents> {
  readonly framer = new Framer();
  readonly stats = { packets: 0, replies: 0, discarded: 0, ignored: 0 };
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly link: ByteLink,
    readonly pds: PdEngine[],
    readonly o: PdPortOptions = {},
  ) {
    super();
    this.framer.on('packet', (d) => this.onPacket(d));
    this.framer.on('discard', (reason) => {
      this.stats.discarded++;
      this.emit('discard', reason);
    });
    link.on('data', (b) => this.framer.push(o.incoming ? o.incoming(b) : b));
  }

  private onPacket(d: Decoded): void {
    this.stats.packets++;
    const p = d.packet;
    if (p.reply) return;
    const pd = p.address === BROADCAST ? this.pds[0] : this.pds.find((x) => x.address === p.address);
    if (!pd) {
      this.stats.ignored++;
      return;
    }
    let r;
    try {
      r = pd.handle(d);
    } catch (e) {
      this.o.log?.error({ err: (e as Error).message }, 'OSDP PD: command handling failed');
      return;
    }
    if (!r) return;
    const reply = r;
    const shaped = this.o.outgoing?.(reply.bytes, pd) ?? { bytes: reply.bytes };
    const send = (): void => {
      if (shaped.bytes) {
        this.link.write(shaped.bytes);
        this.stats.replies++;
      }
      this.emit('answered', pd, p.code);
      if (reply.after) {
        // wire time of the reply at the current speed before switching
        const ms = Math.ceil((reply.bytes.length * 10 * 1000) / this.link.baudRate) + 5;
        this.chain = this.chain.then(
          () =>
            new Promise<void>((resolve) =>
              setTimeout(() => {
                Promise.resolve(reply.after?.())
                  .catch((e: Error) => this.o.log?.error({ err: e.message }, 'OSDP PD: applying a setting failed'))
                  .finally(resolve);
              }, ms),
            ),
        );
      }
    };
    if (shaped.delayMs) setTimeout(send, shaped.delayMs);
    else send();
  }

  /** Settings changes still being applied (tests wait for them). */
  settled(): Promise<void> {
    return this.chain;
  }
}
