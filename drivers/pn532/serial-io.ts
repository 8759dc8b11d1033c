/**
 * serialport with its reads and writes done on the event-loop thread.
 *
 * serialport's Unix binding moves every read and every write through libuv's
 * thread pool (fs.read / fs.write): one thread hand-off per chunk each way,
 * 0.1-0.3 ms on a busy host, which is most of the host's share of a short
 * PN532 exchange (docs/pn532.md §16). The binding opens the port O_NONBLOCK,
 * so the read and write system calls never block: they are made directly,
 * and the binding's own poller is waited on only when the kernel has nothing
 * to give (EAGAIN); a write that finds the output buffer full retries after
 * 1 ms. Error classification follows the binding's (a vanished device is a
 * disconnect, so serialport closes the port as before).
 */
import { readSync, writeSync } from 'node:fs';

type PollEvent = 'readable';

/** The part of a serialport port binding (@serialport/bindings-cpp LinuxPortBinding / DarwinPortBinding) used here. */
interface UnixPortBinding {
  fd: number | null;
  poller?: { once(event: PollEvent, cb: (err?: Error | null) => void): unknown };
  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }>;
  write(buffer: Buffer): Promise<void>;
}

/** The part of a serialport binding (SerialPort.binding) used here. */
export interface SerialBindingLike {
  open(options: object): Promise<unknown>;
  list(): Promise<unknown[]>;
}

const RETRY = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);
const GONE = new Set(['EBADF', 'ENXIO', 'UNKNOWN']);

function classify(e: unknown): Error {
  const err = e as NodeJS.ErrnoException & { disconnect?: boolean };
  if ((err.code && GONE.has(err.code)) || err.errno === -1) err.disconnect = true;
  return err;
}

function notOpen(): Error {
  return Object.assign(new Error('Port is not open'), { canceled: true });
}

function wait(port: UnixPortBinding, event: PollEvent): Promise<void> {
  return new Promise((resolve, reject) => {
    port.poller!.once(event, (err) => (err ? reject(err) : resolve()));
  });
}

function direct(port: UnixPortBinding): void {
  port.read = async (buffer, offset, length) => {
    for (;;) {
      const fd = port.fd;
      if (fd === null) throw notOpen();
      try {
        const n = readSync(fd, buffer, offset, length, null);
        if (n > 0) return { buffer, bytesRead: n };
      } catch (e) {
        if (!RETRY.has((e as NodeJS.ErrnoException).code ?? '')) throw classify(e);
      }
      await wait(port, 'readable');
    }
  };
  port.write = async (buffer) => {
    let off = 0;
    while (off < buffer.length) {
      const fd = port.fd;
      if (fd === null) throw new Error('Port is not open');
      try {
        off += writeSync(fd, buffer, off, buffer.length - off);
        continue;
      } catch (e) {
        if (!RETRY.has((e as NodeJS.ErrnoException).code ?? '')) throw classify(e);
      }
      // The output buffer is full (rare: a frame is far smaller). Not the poller's 'writable': the binding's
      // poller watches the events of its latest request only, so waiting for 'writable' would drop the
      // pending 'readable' wait, and two ends both writing could wait for each other for ever.
      await new Promise((r) => setTimeout(r, 1));
    }
  };
}

/**
 * `base` (serialport's SerialPort.binding) with direct I/O on the ports it
 * opens on Linux; elsewhere, or a port without a numeric fd and a poller, is left as it is.
 */
export function directIoBinding<B extends SerialBindingLike>(base: B): B {
  return {
    ...base,
    list: () => base.list(),
    open: async (options: object) => {
      const port = (await base.open(options)) as UnixPortBinding;
      // Linux only: there the binding is known to open the port O_NONBLOCK (a blocking fd would stall the event loop)
      if (process.platform === 'linux' && typeof port.fd === 'number' && port.poller && typeof port.poller.once === 'function') direct(port);
      return port;
    },
  } as B;
}
