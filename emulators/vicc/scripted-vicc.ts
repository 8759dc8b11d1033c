/**
 * A scripted vicc for fault injection: connects like vicc, and lets the test
 * decide what to answer (or not) to each frame vpcd sends (docs/vpcd.md for
 * the frames). By default it answers GET ATR with FAKE_ATR and every APDU with
 * 90 00.
 *
 * CLI (prints each frame it receives, as hex; answers by default):
 *   npx tsx emulators/vicc/scripted-vicc.ts --port 35963 [--silent]
 *   (--silent: answer nothing, to see how a vpcd copes with a mute card)
 */
import net from 'node:net';
import { pathToFileURL } from 'node:url';
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

  static connect(port: number, host = '127.0.0.1'): Promise<FakeVicc> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => resolve(new FakeVicc(s)));
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

async function main(argv: string[]): Promise<void> {
  let port = 35963;
  let host = '127.0.0.1';
  let silent = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') port = Number(argv[++i]);
    else if (a === '--host') host = argv[++i] ?? '';
    else if (a === '--silent') silent = true;
    else {
      process.stderr.write(`scripted-vicc: unknown argument ${a} (usage: scripted-vicc [--host H] [--port P] [--silent])\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535 || !host) {
    process.stderr.write('scripted-vicc: --port must be 1..65535 and --host non-empty\n');
    process.exit(2);
  }
  const v = await FakeVicc.connect(port, host).catch((e: Error) => {
    process.stderr.write(`scripted-vicc: cannot connect to ${host}:${port}: ${e.message}\n`);
    process.exit(1);
  });
  const answer = v.onFrame;
  v.onFrame = (f) => {
    process.stdout.write(`<- ${f.toString('hex')}\n`);
    return silent ? undefined : answer(f);
  };
  process.on('SIGINT', () => v.close());
  await v.closed;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main(process.argv.slice(2));
