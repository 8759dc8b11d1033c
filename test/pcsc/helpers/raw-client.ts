/** A byte-level client of the pcsc socket for protocol tests: writes requests, reads exact reply sizes, sees EOF. */
import { createConnection, type Socket } from 'node:net';
import { CMD, encodeRequest, type Request } from '../../../src/api/pcsc/codec.js';

export class RawClient {
  private buf = Buffer.alloc(0);
  ended = false;
  private wake: (() => void) | null = null;
  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    sock.on('error', () => undefined);
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** A client with a context, as SCardEstablishContext leaves it. Returns [client, hContext]. */
  static async withContext(path: string): Promise<[RawClient, number]> {
    const c = await RawClient.connect(path);
    c.send({ cmd: CMD.VERSION, major: 4, minor: 4 });
    await c.read(12);
    c.send({ cmd: CMD.ESTABLISH_CONTEXT, scope: 2 });
    const r = await c.read(12);
    return [c, r.readUInt32LE(4)];
  }

  send(req: Request | Buffer): void {
    this.sock.write(Buffer.isBuffer(req) ? req : encodeRequest(req));
  }

  /** Exactly n bytes; rejects on EOF or timeout. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`connection closed with ${this.buf.length}/${n} bytes`);
      if (Date.now() > deadline) throw new Error(`timeout with ${this.buf.length}/${n} bytes`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 20);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Bytes received and not read yet. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Resolves true when the server closes the connection within the time. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.ended;
  }

  close(): void {
    this.sock.destroy();
  }
}
