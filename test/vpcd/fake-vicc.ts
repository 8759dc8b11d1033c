/**
 * A scripted vicc for fault injection: connects like vicc, and lets the test
 * decide what to answer (or not) to each frame vpcd sends.
 */
import net from 'node:net';
import { FrameDecoder, encodeFrame } from '../../drivers/vpcd/frame.js';

export const FAKE_ATR = Buffer.from('3B8180018080', 'hex');

export class FakeVicc {
  readonly sock: net.Socket;
  private readonly decoder = new FrameDecoder();
  /** Frames received from vpcd, in order. */
  readonly received: Buffer[] = [];
  /** Called for every frame; return bytes to write raw, or undefined for no answer. Default: answer ATR requests and echo 90 00. */
  onFrame: (f: Buffer) => Buffer | undefined = (f) => {
    if (f.length === 1) return f[0] === 0x04 ? encodeFrame(FAKE_ATR) : undefined;
    return encodeFrame(Buffer.from([0x90, 0x00]));
  };
  readonly closed: Promise<void>;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('data', (chunk) => {
      for (const f of this.decoder.push(chunk)) {
        this.received.push(f);
        const out = this.onFrame(f);
        if (out && !sock.destroyed) sock.write(out);
      }
    });
    sock.on('error', () => undefined);
    this.closed = new Promise((r) => sock.once('close', () => r()));
  }

  static connect(port: number): Promise<FakeVicc> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new FakeVicc(s)));
      s.once('error', reject);
    });
  }

  write(bytes: Buffer): void {
    this.sock.write(bytes);
  }

  close(): void {
    this.sock.destroy();
  }
}
