/**
 * serialport with direct reads and writes (drivers/pn532/serial-io.ts) over a
 * real socat pty pair: more bytes than the kernel buffers hold, both ways,
 * arrive whole and in order (the EAGAIN paths: poller for reads, retry for
 * writes), and a far end that goes away is reported as with serialport's own
 * binding (both ends writing at once used to stall when writes waited on the
 * binding's poller).
 */
import { SerialPort } from 'serialport';
import t from 'tap';
import { EventEmitter } from 'node:events';
import { HsuLink, type SerialPortLike } from '../../drivers/pn532/link.js';
import { directIoBinding } from '../../drivers/pn532/serial-io.js';
import { startPtyPair } from '../../emulators/pn532/hsu.js';

const open = async (path: string): Promise<SerialPort> => {
  const p = new SerialPort({ path, baudRate: 115200, autoOpen: false, binding: directIoBinding(SerialPort.binding) } as never);
  await new Promise<void>((resolve, reject) => p.open((e) => (e ? reject(e) : resolve())));
  return p;
};

const collect = (p: SerialPort, n: number, what: string): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => reject(new Error(`${what}: ${got} of ${n} bytes within 10 s`)), 10000);
    p.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        clearTimeout(timer);
        resolve(Buffer.concat(parts));
      }
    });
  });

t.test('256 KiB each way through a pty: whole and in order', async (t) => {
  const pty = await startPtyPair();
  t.teardown(() => pty.stop());
  const a = await open(pty.host);
  const b = await open(pty.device);
  t.teardown(async () => {
    for (const p of [a, b]) if (p.isOpen) await new Promise((r) => p.close(r));
  });
  const n = 256 * 1024;
  const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + (i >> 8)) & 0xff));
  const atB = collect(b, n, 'host to device');
  const atA = collect(a, n, 'device to host');
  // written in one go: the pty takes a few KiB, the rest waits for 'writable'
  await Promise.all([new Promise<void>((r, j) => a.write(data, (e) => (e ? j(e) : r()))), new Promise<void>((r, j) => b.write(data, (e) => (e ? j(e) : r())))]);
  t.ok((await atB).equals(data), 'host to device');
  t.ok((await atA).equals(data), 'device to host');
});

t.test('the far end goes away: the port reports it (error or close), as with serialport\'s own I/O', async (t) => {
  const pty = await startPtyPair();
  const a = await open(pty.host);
  const seen = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no error or close within 5 s of socat exiting')), 5000);
    const done = (what: string) => () => {
      clearTimeout(timer);
      resolve(what);
    };
    a.once('close', done('close'));
    a.once('error', done('error'));
    a.on('data', () => undefined); // reading, as the driver always is
  });
  await pty.stop();
  t.ok(['close', 'error'].includes(await seen), 'reported');
  if (a.isOpen) await new Promise((r) => a.close(r));
});

t.test('the HSU link asks for low-latency mode when it opens the port, and a port that refuses it still works', async (t) => {
  const asked: object[] = [];
  const written: Buffer[] = [];
  class Port extends EventEmitter {
    isOpen = false;
    open(cb?: (err: Error | null) => void): void {
      this.isOpen = true;
      cb?.(null);
    }
    set(opts: object, cb?: (err: Error | null | undefined) => void): void {
      asked.push(opts);
      cb?.(new Error('Inappropriate ioctl for device'));
    }
    write(d: Buffer, cb?: (err: Error | null | undefined) => void): boolean {
      written.push(d);
      cb?.(null);
      return true;
    }
    drain(cb?: (err: Error | null) => void): void {
      cb?.(null);
    }
    close(cb?: (err: Error | null) => void): void {
      this.isOpen = false;
      cb?.(null);
    }
  }
  const link = new HsuLink(() => new Port() as unknown as SerialPortLike, '/dev/ttyUSB9', 115200, 20);
  await link.open();
  t.same(asked, [{ lowLatency: true }]);
  await link.send(Buffer.from([0x00, 0x00, 0xff, 0x00, 0xff, 0x00]));
  t.equal(written.length, 1, 'writes go through after the refusal');
  await link.close();
});
