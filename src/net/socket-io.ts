/**
 * Byte I/O for request/reply peers (the pcsc socket's libpcsclite clients, a
 * vpcd card) without Node's stream machinery on the per-exchange path
 * (docs/pcsc.md §9).
 *
 * Such a peer sends one message and waits for the answer: every exchange is
 * one read and one write, and what Node's streams add around them (a fresh
 * ArrayBuffer and a Readable push per read, a nextTick per read and per
 * write, a WriteWrap per write) cost the daemon about as much CPU as the
 * syscalls themselves. So:
 * - reads land in one buffer shared by every socket (net.Socket's own
 *   `onread` mode, which Node offers only to sockets it creates for
 *   `connect`; here switched on for an accepted socket before it starts
 *   reading). The callback runs synchronously after each read and must copy
 *   what it keeps: the next read of any socket overwrites the buffer;
 * - a write goes out with one write(2) on the socket's descriptor when
 *   nothing is queued in the stream; what the kernel does not take at once
 *   (EAGAIN, a partial write) goes through socket.write, which keeps order.
 *
 * Where this Node's sockets lack what the fast paths need, both fall back to
 * the stream API (the 'data' event, socket.write): same bytes, more work.
 */
import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';

const READ_BUFFER_SIZE = 64 * 1024;
let shared: Buffer | null = null;

interface PipeHandle {
  fd?: number;
  useUserBuffer?: (buf: Uint8Array) => void;
}

const handleOf = (s: Socket): PipeHandle | undefined => (s as unknown as { _handle?: PipeHandle | null })._handle ?? undefined;

function symbolNamed(o: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(o).find((s) => s.description === description);
}

/**
 * Starts reading an accepted socket (created paused: the server's
 * pauseOnConnect) with `onRead(chunk)` for every read. `chunk` is valid only
 * during the call. Returns true when reads bypass the stream.
 */
export function startReading(socket: Socket, onRead: (chunk: Buffer) => void): boolean {
  return startReadingInto(socket, (n, buf) => onRead(buf.subarray(0, n)), onRead);
}

/**
 * startReading without a Buffer object per read: `onRead(n, buf)` (net's own
 * `onread` callback order, so Node calls it directly) gets the shared buffer,
 * whose first `n` bytes are this read's (valid only during the call). For a
 * caller that copies what it keeps anyway (the pcsc socket's request decoder).
 */
export function startReadingInto(socket: Socket, onRead: (n: number, buf: Buffer) => void, onChunk?: (chunk: Buffer) => void): boolean {
  const handle = handleOf(socket);
  const kBuffer = symbolNamed(socket, 'kBuffer');
  const kBufferCb = symbolNamed(socket, 'kBufferCb');
  if (handle && typeof handle.useUserBuffer === 'function' && kBuffer && kBufferCb) {
    const buf = (shared ??= Buffer.allocUnsafe(READ_BUFFER_SIZE));
    const fields = socket as unknown as Record<symbol, unknown>;
    fields[kBuffer] = buf;
    fields[kBufferCb] = onRead;
    handle.useUserBuffer(buf);
    // With the user buffer set, net.Socket's resume/pause start and stop the handle's reads themselves.
    socket.resume();
    return true;
  }
  socket.on('data', onChunk ?? ((chunk: Buffer) => onRead(chunk.length, chunk)));
  socket.resume();
  return false;
}

/** The socket's descriptor for writeReply (-1: none, the stream is used); fixed for the socket's life. */
export function fdOf(socket: Socket): number {
  const fd = handleOf(socket)?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/**
 * Writes `b` to the socket: at once when nothing is queued, else (or for what
 * is left) through the stream, which keeps a reference until the bytes leave:
 * `mutable` (the caller changes `b` later) queues a copy instead. `fd` is
 * fdOf(socket), for a caller that keeps it.
 */
export function writeReply(socket: Socket, b: Buffer, mutable = false, fd = fdOf(socket)): void {
  if (fd >= 0 && socket.writableLength === 0 && !socket.destroyed) {
    let n: number;
    try {
      n = writeSync(fd, b, 0, b.length);
    } catch {
      // EAGAIN (the client's buffer is full) or a broken connection: the stream queues, or reports the error.
      n = 0;
    }
    if (n === b.length) return;
    b = b.subarray(n);
  }
  socket.write(mutable ? Buffer.from(b) : b);
}
