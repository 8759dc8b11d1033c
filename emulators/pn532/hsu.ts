/**
 * The emulated PN532 on a real pseudo-terminal: socat makes a pty pair, the
 * chip sits on one end, the driver opens the other through serialport.
 *
 * A pty moves bytes as fast as the kernel copies them, so to model the wire
 * the attachment paces both directions at the configured baud rate (10 bit
 * times per byte, 8N1): bytes from the host reach the chip when their last
 * bit would have, and the chip's frames leave when they would have finished
 * on a real line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ReadStream } from 'node:tty';
import { dirname, join } from 'node:path';
import { SerialPort } from 'serialport';
import { directIoBinding } from '../../drivers/pn532/serial-io.js';
import type { Pn532Chip } from './chip.js';

export interface PtyPair {
  /** The end the driver opens. */
  host: string;
  /** The end the emulator opens. */
  device: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

const SOCAT_HINT = 'socat is required for the PN532 pty tests: apt-get install socat';

/** Start `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B` and wait for both links. */
export async function startPtyPair(opts: { host?: string; device?: string; dir?: string; removeDirOnStop?: boolean } = {}): Promise<PtyPair> {
  const created = opts.removeDirOnStop ?? (!opts.dir && !opts.host && !opts.device);
  const dir = opts.dir ?? (opts.host && opts.device ? dirname(opts.host) : mkdtempSync(join(tmpdir(), 'pn532-')));
  const host = opts.host ?? join(dir, 'host');
  const device = opts.device ?? join(dir, 'device');
  // a pair started again on the links of a stopped one: its directory may be gone
  mkdirSync(dirname(host), { recursive: true });
  mkdirSync(dirname(device), { recursive: true });
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${device}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const onError = (e: NodeJS.ErrnoException): void =>
      reject(new Error(e.code === 'ENOENT' ? SOCAT_HINT : `socat: ${e.message}`));
    proc.once('error', onError);
    const poll = (): void => {
      if (proc.exitCode !== null) return reject(new Error(`socat exited (${proc.exitCode}): ${stderr.trim()}`));
      // socat logs "starting data transfer loop" once both ptys exist
      if (existsSync(host) && existsSync(device) && stderr.includes('starting data transfer loop')) {
        proc.off('error', onError);
        return resolve();
      }
      if (Date.now() - started > 5000) return reject(new Error(`socat did not create ${host} / ${device} within 5 s: ${stderr.trim()}`));
      setTimeout(poll, 10);
    };
    poll();
  });
  return {
    host,
    device,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          if (created) rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        proc.once('exit', done);
        proc.kill('SIGTERM');
      }),
  };
}

/**
 * Sleep until performance.now() reaches `t` (ms), precisely: a timer for most
 * of it, then a short busy wait (a yield-based wait loses the CPU for
 * milliseconds on a loaded machine). Busy for at most ~2 ms per frame.
 */
async function sleepUntil(t: number): Promise<void> {
  const left = t - performance.now();
  if (left > 2.5) await new Promise((r) => setTimeout(r, left - 2));
  while (performance.now() < t) {
    /* spin: the emulator models the wire, its own process has nothing else to do */
  }
}

export interface HsuAttachmentOptions {
  baudRate?: number;
  /** Model the wire time (default true). */
  pace?: boolean;
  /** The master side of a pty this process inherited (startPtyMaster), instead of a device path through socat. */
  masterFd?: number;
}

/** The part of a serial port the attachment uses. */
interface DevicePort {
  readonly isOpen: boolean;
  on(event: 'data', cb: (d: Buffer) => void): unknown;
  on(event: 'error', cb: () => void): unknown;
  write(b: Buffer, cb?: () => void): unknown;
  close(cb: () => void): void;
}

/**
 * The master side of a pty given as an inherited fd: read through libuv's tty
 * stream (no helper process between the ends, no thread-pool hand-off), written
 * with plain write calls (the fd is blocking; a full pty input queue is 4 KiB
 * away from any frame).
 */
function masterPort(fd: number): DevicePort {
  const rs = new ReadStream(fd);
  let open = true;
  return {
    get isOpen() {
      return open;
    },
    on(event: string, cb: (d: Buffer) => void) {
      return rs.on(event, cb);
    },
    write(b: Buffer, cb?: () => void) {
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
      cb?.();
      return true;
    },
    close(cb: () => void) {
      open = false;
      rs.destroy();
      cb();
    },
  } as DevicePort;
}

/**
 * A pty without socat: python3 opens the pair, puts the slave in raw mode,
 * links `link` to it, and execs `argv` with the master as fd 3 and the slave
 * held open as fd 4 (so the master never sees a hang-up between host opens).
 * Halves the processes a byte crosses, so the rig adds less to a round trip.
 */
export function spawnOnPtyMaster(link: string, argv: string[], stdio: ('pipe' | 'inherit' | 'ignore')[] = ['pipe', 'pipe', 'inherit']): ChildProcess {
  const py = [
    'import os, sys, tty',
    'm, s = os.openpty()',
    'tty.setraw(s)',
    'link = sys.argv[1]',
    'os.path.lexists(link) and os.unlink(link)',
    'os.symlink(os.ttyname(s), link)',
    'os.dup2(m, 3); os.dup2(s, 4)',
    'os.set_inheritable(3, True); os.set_inheritable(4, True)',
    'os.execvp(sys.argv[2], sys.argv[2:])',
  ].join('\n');
  return spawn('python3', ['-c', py, link, ...argv], { stdio });
}

/** The chip on the device end of a pty. */
export class HsuAttachment {
  private port?: DevicePort;
  private byteMs: number;
  /** Host port speed when the test knows it (a pty carries no baud rate): bytes at another speed arrive garbled. */
  hostBaud?: () => number;
  private readonly pace: boolean;
  private rxFreeAt = 0;
  private txFreeAt = 0;
  private rxChain: Promise<void> = Promise.resolve();
  private txChain: Promise<void> = Promise.resolve();
  private readonly onOutput = (b: Buffer): void => this.transmit(this.garble(b));
  private readonly onBaud = (baud: number): void => {
    this.byteMs = (10 * 1000) / baud;
  };

  constructor(
    readonly chip: Pn532Chip,
    readonly path: string,
    opts: HsuAttachmentOptions = {},
  ) {
    const baud = opts.baudRate ?? 115200;
    this.byteMs = (10 * 1000) / baud;
    this.pace = opts.pace ?? true;
    this.masterFd = opts.masterFd;
  }
  private readonly masterFd?: number;

  /** A receiver at the wrong speed samples garbage; model it as every byte mangled. */
  private garble(b: Buffer): Buffer {
    const host = this.hostBaud?.();
    if (host === undefined || host === this.chip.baudRate) return b;
    return Buffer.from(b.map((x) => (x * 37 + 0x5b) & 0xff));
  }

  async open(): Promise<void> {
    let port: DevicePort;
    if (this.masterFd !== undefined) port = masterPort(this.masterFd);
    else {
      // direct reads and writes, as the driver does: the rig's own latency stays small next to the wire time it models
      const sp = new SerialPort({ path: this.path, baudRate: 115200, autoOpen: false, binding: directIoBinding(SerialPort.binding) } as never);
      await new Promise<void>((resolve, reject) => sp.open((e) => (e ? reject(e) : resolve())));
      port = sp as unknown as DevicePort;
    }
    this.port = port;
    port.on('data', (d: Buffer) => this.receive(d));
    port.on('error', () => undefined);
    this.chip.on('output', this.onOutput);
    this.chip.on('baud', this.onBaud);
  }

  async close(): Promise<void> {
    this.chip.off('output', this.onOutput);
    this.chip.off('baud', this.onBaud);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }

  private receive(d: Buffer): void {
    d = this.garble(d);
    const byteMs = this.byteMs;
    if (!this.pace) return this.chip.hostBytes(d, byteMs);
    const now = performance.now();
    const done = Math.max(now, this.rxFreeAt) + d.length * byteMs;
    this.rxFreeAt = done;
    this.rxChain = this.rxChain.then(async () => {
      await sleepUntil(done);
      this.chip.hostBytes(d, byteMs);
    });
  }

  private transmit(b: Buffer): void {
    const port = this.port;
    if (!port) return;
    if (!this.pace) {
      port.write(b, () => this.chip.outputDrained());
      return;
    }
    const now = performance.now();
    const done = Math.max(now, this.txFreeAt) + b.length * this.byteMs;
    this.txFreeAt = done;
    this.txChain = this.txChain.then(async () => {
      await sleepUntil(done);
      if (this.port) port.write(b, () => this.chip.outputDrained());
    });
  }
}
