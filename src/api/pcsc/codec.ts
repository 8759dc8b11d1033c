/**
 * pcsc-lite 1.9.9 client protocol: request framing and decoding, reply encoding.
 *
 * Requests are `{u32 size, u32 command}` + a fixed struct (+ data for TRANSMIT
 * and CONTROL, not counted in `size`); replies are the struct alone (+ data
 * when rv is 0). Anything pcscd would drop a client for is a PcscProtocolError
 * here; the connection closes that client and nobody else.
 */
import { LIMITS } from '../../pcsc/constants.js';
import { WIRE, type StructLayout } from './layout.js';

export const CMD = {
  ESTABLISH_CONTEXT: 0x01,
  RELEASE_CONTEXT: 0x02,
  LIST_READERS: 0x03,
  CONNECT: 0x04,
  RECONNECT: 0x05,
  DISCONNECT: 0x06,
  BEGIN_TRANSACTION: 0x07,
  END_TRANSACTION: 0x08,
  TRANSMIT: 0x09,
  CONTROL: 0x0a,
  STATUS: 0x0b,
  GET_STATUS_CHANGE: 0x0c,
  CANCEL: 0x0d,
  CANCEL_TRANSACTION: 0x0e,
  GET_ATTRIB: 0x0f,
  SET_ATTRIB: 0x10,
  VERSION: 0x11,
  GET_READERS_STATE: 0x12,
  WAIT_READER_STATE_CHANGE: 0x13,
  STOP_WAITING_READER_STATE_CHANGE: 0x14,
  /** Protocol 4:5 (pcsc-lite 2.3+): the count of reader additions and removals, for \\?PnP?\Notification. */
  GET_READER_EVENTS: 0x15,
} as const;

/** Protocol spoken by libpcsclite 1.8.24 .. 2.2.x (Debian bookworm: 1.9.9). */
export const PROTOCOL_VERSION = { major: 4, minor: 4 } as const;
/** 4:5 adds GET_READER_EVENTS (pcsc-lite 2.3 .. 2.4); served too, so newer clients (Flatpak...) work. */
export const PROTOCOL_MINOR_MAX = 5;

export const HEADER_SIZE = WIRE.header.size;

export type ProtocolErrorReason =
  | 'unknown-command'
  | 'size-mismatch'
  | 'data-too-long'
  | 'attr-too-long'
  | 'truncated';

/** A request pcscd would drop the client for. The connection closes that client only. */
export class PcscProtocolError extends Error {
  constructor(
    readonly reason: ProtocolErrorReason,
    detail: string,
  ) {
    super(`pcsc protocol: ${reason}: ${detail}`);
    this.name = 'PcscProtocolError';
  }
}

export type Request =
  | { cmd: typeof CMD.VERSION; major: number; minor: number }
  | { cmd: typeof CMD.ESTABLISH_CONTEXT; scope: number }
  | { cmd: typeof CMD.RELEASE_CONTEXT; hContext: number }
  | { cmd: typeof CMD.CONNECT; hContext: number; reader: string; shareMode: number; preferredProtocols: number }
  | {
      cmd: typeof CMD.RECONNECT;
      hCard: number;
      shareMode: number;
      preferredProtocols: number;
      initialization: number;
      activeProtocol: number;
    }
  | { cmd: typeof CMD.DISCONNECT; hCard: number; disposition: number }
  | { cmd: typeof CMD.BEGIN_TRANSACTION; hCard: number }
  | { cmd: typeof CMD.END_TRANSACTION; hCard: number; disposition: number }
  | {
      cmd: typeof CMD.TRANSMIT;
      hCard: number;
      sendPciProtocol: number;
      sendPciLength: number;
      recvPciProtocol: number;
      recvPciLength: number;
      /** Size of the caller's receive buffer. */
      recvLength: number;
      apdu: Buffer;
    }
  | { cmd: typeof CMD.CONTROL; hCard: number; controlCode: number; recvLength: number; bytesReturned: number; data: Buffer }
  | { cmd: typeof CMD.STATUS; hCard: number }
  | { cmd: typeof CMD.CANCEL; hContext: number }
  | { cmd: typeof CMD.GET_ATTRIB; hCard: number; attrId: number; attrLen: number }
  | { cmd: typeof CMD.SET_ATTRIB; hCard: number; attrId: number; value: Buffer }
  | { cmd: typeof CMD.GET_READERS_STATE }
  | { cmd: typeof CMD.WAIT_READER_STATE_CHANGE }
  | { cmd: typeof CMD.STOP_WAITING_READER_STATE_CHANGE }
  | { cmd: typeof CMD.GET_READER_EVENTS };

/** Fixed body size per command the 1.9.9 client sends; -1 = no body (and `size` is ignored, as pcscd does). */
const BODY: ReadonlyMap<number, number> = new Map([
  [CMD.ESTABLISH_CONTEXT, WIRE.establish.size],
  [CMD.RELEASE_CONTEXT, WIRE.release.size],
  [CMD.CONNECT, WIRE.connect.size],
  [CMD.RECONNECT, WIRE.reconnect.size],
  [CMD.DISCONNECT, WIRE.disconnect.size],
  [CMD.BEGIN_TRANSACTION, WIRE.begin.size],
  [CMD.END_TRANSACTION, WIRE.end.size],
  [CMD.TRANSMIT, WIRE.transmit.size],
  [CMD.CONTROL, WIRE.control.size],
  [CMD.STATUS, WIRE.status.size],
  [CMD.CANCEL, WIRE.cancel.size],
  [CMD.GET_ATTRIB, WIRE.getset.size],
  [CMD.SET_ATTRIB, WIRE.getset.size],
  [CMD.VERSION, WIRE.version.size],
  [CMD.GET_READERS_STATE, -1],
  [CMD.WAIT_READER_STATE_CHANGE, -1],
  [CMD.STOP_WAITING_READER_STATE_CHANGE, -1],
  [CMD.GET_READER_EVENTS, -1],
]);

/** The largest request: header + getset body (the biggest struct) or transmit body + extended APDU. */
export const MAX_REQUEST_SIZE = HEADER_SIZE + Math.max(WIRE.getset.size, WIRE.transmit.size + LIMITS.MAX_BUFFER_SIZE_EXTENDED);

const T = WIRE.transmit.offsets;
const C = WIRE.control.offsets;
const G = WIRE.getset.offsets;
const N = WIRE.connect.offsets;
const R = WIRE.reconnect.offsets;

function cString(b: Buffer, off: number, max: number): string {
  // pcscd forces the last byte to NUL, so a name is at most max-1 bytes.
  const end = b.indexOf(0, off);
  const stop = end < 0 || end >= off + max - 1 ? off + max - 1 : end;
  return b.toString('utf8', off, stop);
}

function copyOf(b: Buffer, start: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(len);
  b.copy(out, 0, start, start + len);
  return out;
}

/**
 * Decodes one request body (offset `o` in `b`, header already read). `data` is
 * the TRANSMIT/CONTROL payload, already bounds-checked by the caller.
 */
function decodeBody(cmd: number, b: Buffer, o: number, dataStart: number, dataLen: number): Request {
  switch (cmd) {
    case CMD.VERSION:
      return { cmd, major: b.readInt32LE(o), minor: b.readInt32LE(o + 4) };
    case CMD.ESTABLISH_CONTEXT:
      return { cmd, scope: b.readUInt32LE(o) };
    case CMD.RELEASE_CONTEXT:
      return { cmd, hContext: b.readUInt32LE(o) };
    case CMD.CONNECT:
      return {
        cmd,
        hContext: b.readUInt32LE(o + N.hContext),
        reader: cString(b, o + N.szReader, LIMITS.MAX_READERNAME),
        shareMode: b.readUInt32LE(o + N.dwShareMode),
        preferredProtocols: b.readUInt32LE(o + N.dwPreferredProtocols),
      };
    case CMD.RECONNECT:
      return {
        cmd,
        hCard: b.readInt32LE(o + R.hCard),
        shareMode: b.readUInt32LE(o + R.dwShareMode),
        preferredProtocols: b.readUInt32LE(o + R.dwPreferredProtocols),
        initialization: b.readUInt32LE(o + R.dwInitialization),
        activeProtocol: b.readUInt32LE(o + R.dwActiveProtocol),
      };
    case CMD.DISCONNECT:
    case CMD.END_TRANSACTION:
      return { cmd, hCard: b.readInt32LE(o), disposition: b.readUInt32LE(o + 4) };
    case CMD.BEGIN_TRANSACTION:
    case CMD.STATUS:
      return { cmd, hCard: b.readInt32LE(o) };
    case CMD.CANCEL:
      return { cmd, hContext: b.readInt32LE(o) };
    case CMD.TRANSMIT:
      return {
        cmd,
        hCard: b.readInt32LE(o + T.hCard),
        sendPciProtocol: b.readUInt32LE(o + T.ioSendPciProtocol),
        sendPciLength: b.readUInt32LE(o + T.ioSendPciLength),
        recvPciProtocol: b.readUInt32LE(o + T.ioRecvPciProtocol),
        recvPciLength: b.readUInt32LE(o + T.ioRecvPciLength),
        recvLength: b.readUInt32LE(o + T.pcbRecvLength),
        apdu: copyOf(b, dataStart, dataLen),
      };
    case CMD.CONTROL:
      return {
        cmd,
        hCard: b.readInt32LE(o + C.hCard),
        controlCode: b.readUInt32LE(o + C.dwControlCode),
        recvLength: b.readUInt32LE(o + C.cbRecvLength),
        bytesReturned: b.readUInt32LE(o + C.dwBytesReturned),
        data: copyOf(b, dataStart, dataLen),
      };
    case CMD.GET_ATTRIB:
      return { cmd, hCard: b.readInt32LE(o + G.hCard), attrId: b.readUInt32LE(o + G.dwAttrId), attrLen: b.readUInt32LE(o + G.cbAttrLen) };
    case CMD.SET_ATTRIB:
      return {
        cmd,
        hCard: b.readInt32LE(o + G.hCard),
        attrId: b.readUInt32LE(o + G.dwAttrId),
        value: copyOf(b, o + G.pbAttr, b.readUInt32LE(o + G.cbAttrLen)),
      };
    case CMD.GET_READERS_STATE:
    case CMD.WAIT_READER_STATE_CHANGE:
    case CMD.STOP_WAITING_READER_STATE_CHANGE:
    case CMD.GET_READER_EVENTS:
      return { cmd };
    default:
      throw new PcscProtocolError('unknown-command', `0x${cmd.toString(16)}`);
  }
}

/**
 * Reassembles requests from a byte stream (the client writes header, body and
 * data separately; reads may split or merge them anywhere). One instance per
 * connection; after it throws, the connection is to be closed.
 */
/** Reads up to this many bytes are copied into the decoder byte by byte. */
const SMALL_COPY = 512;

export class RequestDecoder {
  private buf: Buffer;
  private start = 0;
  private end = 0;

  constructor(initialCapacity = 4096) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  /** Bytes received but not yet consumed. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Copies in the first `n` bytes of `chunk` (all of it by default). */
  push(chunk: Buffer, n = chunk.length): void {
    const need = this.end - this.start + n;
    if (this.end + n > this.buf.length) {
      if (need <= this.buf.length) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.end -= this.start;
      this.start = 0;
    }
    const dst = this.buf;
    const at = this.end;
    // A request is a few dozen bytes: a loop beats Buffer.copy, which makes a view object for a partial copy.
    if (n <= SMALL_COPY) for (let i = 0; i < n; i++) dst[at + i] = chunk[i];
    else chunk.copy(dst, at, 0, n);
    this.end = at + n;
  }

  /** The next complete request, or null when more bytes are needed. Throws PcscProtocolError. */
  next(): Request | null {
    const avail = this.end - this.start;
    if (avail < HEADER_SIZE) return null;
    const b = this.buf;
    const h = this.start;
    const size = b.readUInt32LE(h);
    const cmd = b.readUInt32LE(h + 4);
    const body = BODY.get(cmd);
    if (body === undefined) throw new PcscProtocolError('unknown-command', `0x${cmd.toString(16)} (size ${size})`);
    let total = HEADER_SIZE;
    let dataLen = 0;
    if (body >= 0) {
      if (size !== body) throw new PcscProtocolError('size-mismatch', `command 0x${cmd.toString(16)}: size ${size}, expected ${body}`);
      total += body;
      if (avail < total) return null;
      const o = h + HEADER_SIZE;
      if (cmd === CMD.TRANSMIT || cmd === CMD.CONTROL) {
        dataLen = b.readUInt32LE(o + (cmd === CMD.TRANSMIT ? T.cbSendLength : C.cbSendLength));
        if (dataLen > LIMITS.MAX_BUFFER_SIZE_EXTENDED) {
          throw new PcscProtocolError('data-too-long', `command 0x${cmd.toString(16)}: ${dataLen} data bytes, at most ${LIMITS.MAX_BUFFER_SIZE_EXTENDED}`);
        }
        total += dataLen;
        if (avail < total) return null;
      } else if (cmd === CMD.GET_ATTRIB || cmd === CMD.SET_ATTRIB) {
        const len = b.readUInt32LE(o + G.cbAttrLen);
        if (len > LIMITS.MAX_BUFFER_SIZE) throw new PcscProtocolError('attr-too-long', `cbAttrLen ${len}, at most ${LIMITS.MAX_BUFFER_SIZE}`);
      }
    }
    const req = decodeBody(cmd, b, h + HEADER_SIZE, h + HEADER_SIZE + (body > 0 ? body : 0), dataLen);
    this.start += total;
    if (this.start === this.end) this.start = this.end = 0;
    return req;
  }

  /** Call at end of stream: leftover bytes mean the client sent a truncated request. */
  finish(): void {
    if (this.end > this.start) throw new PcscProtocolError('truncated', `${this.end - this.start} bytes of an incomplete request`);
  }
}

// ---- requests (what libpcsclite sends; used by tests, fuzzing and the benchmark's checks) ----

function withHeader(cmd: number, layout: StructLayout | null, extra = 0): Buffer {
  const body = layout ? layout.size : 0;
  const b = Buffer.alloc(HEADER_SIZE + body + extra);
  b.writeUInt32LE(body, 0);
  b.writeUInt32LE(cmd, 4);
  return b;
}

/** Encodes a request byte for byte as libpcsclite 1.9.9 does. */
export function encodeRequest(req: Request): Buffer {
  const o = HEADER_SIZE;
  let b: Buffer;
  switch (req.cmd) {
    case CMD.VERSION:
      b = withHeader(req.cmd, WIRE.version);
      b.writeInt32LE(req.major, o);
      b.writeInt32LE(req.minor, o + 4);
      return b;
    case CMD.ESTABLISH_CONTEXT:
      b = withHeader(req.cmd, WIRE.establish);
      b.writeUInt32LE(req.scope >>> 0, o);
      return b;
    case CMD.RELEASE_CONTEXT:
      b = withHeader(req.cmd, WIRE.release);
      b.writeUInt32LE(req.hContext >>> 0, o);
      return b;
    case CMD.CONNECT:
      b = withHeader(req.cmd, WIRE.connect);
      b.writeUInt32LE(req.hContext >>> 0, o + N.hContext);
      b.write(req.reader, o + N.szReader, LIMITS.MAX_READERNAME - 1, 'utf8');
      b.writeUInt32LE(req.shareMode >>> 0, o + N.dwShareMode);
      b.writeUInt32LE(req.preferredProtocols >>> 0, o + N.dwPreferredProtocols);
      return b;
    case CMD.RECONNECT:
      b = withHeader(req.cmd, WIRE.reconnect);
      b.writeInt32LE(req.hCard | 0, o + R.hCard);
      b.writeUInt32LE(req.shareMode >>> 0, o + R.dwShareMode);
      b.writeUInt32LE(req.preferredProtocols >>> 0, o + R.dwPreferredProtocols);
      b.writeUInt32LE(req.initialization >>> 0, o + R.dwInitialization);
      b.writeUInt32LE(req.activeProtocol >>> 0, o + R.dwActiveProtocol);
      return b;
    case CMD.DISCONNECT:
    case CMD.END_TRANSACTION:
      b = withHeader(req.cmd, req.cmd === CMD.DISCONNECT ? WIRE.disconnect : WIRE.end);
      b.writeInt32LE(req.hCard | 0, o);
      b.writeUInt32LE(req.disposition >>> 0, o + 4);
      return b;
    case CMD.BEGIN_TRANSACTION:
    case CMD.STATUS:
      b = withHeader(req.cmd, req.cmd === CMD.STATUS ? WIRE.status : WIRE.begin);
      b.writeInt32LE(req.hCard | 0, o);
      return b;
    case CMD.CANCEL:
      b = withHeader(req.cmd, WIRE.cancel);
      b.writeInt32LE(req.hContext | 0, o);
      return b;
    case CMD.TRANSMIT:
      b = withHeader(req.cmd, WIRE.transmit, req.apdu.length);
      b.writeInt32LE(req.hCard | 0, o + T.hCard);
      b.writeUInt32LE(req.sendPciProtocol >>> 0, o + T.ioSendPciProtocol);
      b.writeUInt32LE(req.sendPciLength >>> 0, o + T.ioSendPciLength);
      b.writeUInt32LE(req.apdu.length, o + T.cbSendLength);
      b.writeUInt32LE(req.recvPciProtocol >>> 0, o + T.ioRecvPciProtocol);
      b.writeUInt32LE(req.recvPciLength >>> 0, o + T.ioRecvPciLength);
      b.writeUInt32LE(req.recvLength >>> 0, o + T.pcbRecvLength);
      req.apdu.copy(b, o + WIRE.transmit.size);
      return b;
    case CMD.CONTROL:
      b = withHeader(req.cmd, WIRE.control, req.data.length);
      b.writeInt32LE(req.hCard | 0, o + C.hCard);
      b.writeUInt32LE(req.controlCode >>> 0, o + C.dwControlCode);
      b.writeUInt32LE(req.data.length, o + C.cbSendLength);
      b.writeUInt32LE(req.recvLength >>> 0, o + C.cbRecvLength);
      b.writeUInt32LE(req.bytesReturned >>> 0, o + C.dwBytesReturned);
      req.data.copy(b, o + WIRE.control.size);
      return b;
    case CMD.GET_ATTRIB:
    case CMD.SET_ATTRIB:
      b = withHeader(req.cmd, WIRE.getset);
      b.writeInt32LE(req.hCard | 0, o + G.hCard);
      b.writeUInt32LE(req.attrId >>> 0, o + G.dwAttrId);
      if (req.cmd === CMD.SET_ATTRIB) {
        req.value.copy(b, o + G.pbAttr, 0, Math.min(req.value.length, LIMITS.MAX_BUFFER_SIZE));
        b.writeUInt32LE(req.value.length, o + G.cbAttrLen);
      } else {
        b.writeUInt32LE(req.attrLen >>> 0, o + G.cbAttrLen);
      }
      b.writeUInt32LE(0x8010001d, o + G.rv); // the client pre-fills SCARD_E_NO_SERVICE
      return b;
    case CMD.GET_READERS_STATE:
    case CMD.WAIT_READER_STATE_CHANGE:
    case CMD.STOP_WAITING_READER_STATE_CHANGE:
    case CMD.GET_READER_EVENTS:
      return withHeader(req.cmd, null);
  }
}

// ---- replies (no header; the client knows what to expect from what it sent) ----

/**
 * A zeroed reply buffer from Node's shared pool. Buffer.alloc of a small size makes a typed array inside
 * V8's heap, which the socket write must first copy out to memory of its own: on Status or Disconnect that
 * was most of the daemon's allocation per call.
 */
const replyBuffer = (size: number): Buffer => Buffer.allocUnsafe(size).fill(0);

export function encodeVersionReply(rv: number, minor: number = PROTOCOL_VERSION.minor): Buffer {
  const b = replyBuffer(WIRE.version.size);
  b.writeInt32LE(PROTOCOL_VERSION.major, 0);
  b.writeInt32LE(minor, 4);
  b.writeUInt32LE(rv >>> 0, 8);
  return b;
}

export function encodeEstablishReply(scope: number, hContext: number, rv: number): Buffer {
  const b = replyBuffer(WIRE.establish.size);
  b.writeUInt32LE(scope >>> 0, 0);
  b.writeUInt32LE(hContext >>> 0, 4);
  b.writeUInt32LE(rv >>> 0, 8);
  return b;
}

/** Replies made of `{handle-or-context, rv}`: RELEASE, BEGIN, STATUS, CANCEL. */
/** `b`: an 8-byte buffer to write into (every byte is written), else a new one. */
export function encodePairReply(id: number, rv: number, b: Buffer = replyBuffer(8)): Buffer {
  b.writeUInt32LE(id >>> 0, 0);
  b.writeUInt32LE(rv >>> 0, 4);
  return b;
}

/** DISCONNECT and END_TRANSACTION: `{hCard, dwDisposition, rv}`. */
/** `b`: a 12-byte buffer to write into (every byte is written), else a new one. */
export function encodeDispositionReply(hCard: number, disposition: number, rv: number, b: Buffer = replyBuffer(12)): Buffer {
  b.writeInt32LE(hCard | 0, 0);
  b.writeUInt32LE(disposition >>> 0, 4);
  b.writeUInt32LE(rv >>> 0, 8);
  return b;
}

export function encodeConnectReply(
  req: Extract<Request, { cmd: typeof CMD.CONNECT }>,
  hCard: number,
  activeProtocol: number,
  rv: number,
  into?: Buffer,
): Buffer {
  // `into`: a buffer of WIRE.connect.size to reuse (zeroed here: the name is written over part of its field).
  const b = into ? into.fill(0) : replyBuffer(WIRE.connect.size);
  b.writeUInt32LE(req.hContext >>> 0, N.hContext);
  b.write(req.reader, N.szReader, LIMITS.MAX_READERNAME - 1, 'utf8');
  b.writeUInt32LE(req.shareMode >>> 0, N.dwShareMode);
  b.writeUInt32LE(req.preferredProtocols >>> 0, N.dwPreferredProtocols);
  b.writeInt32LE(hCard | 0, N.hCard);
  b.writeUInt32LE(activeProtocol >>> 0, N.dwActiveProtocol);
  b.writeUInt32LE(rv >>> 0, N.rv);
  return b;
}

export function encodeReconnectReply(req: Extract<Request, { cmd: typeof CMD.RECONNECT }>, activeProtocol: number, rv: number): Buffer {
  const b = replyBuffer(WIRE.reconnect.size);
  b.writeInt32LE(req.hCard | 0, R.hCard);
  b.writeUInt32LE(req.shareMode >>> 0, R.dwShareMode);
  b.writeUInt32LE(req.preferredProtocols >>> 0, R.dwPreferredProtocols);
  b.writeUInt32LE(req.initialization >>> 0, R.dwInitialization);
  b.writeUInt32LE(activeProtocol >>> 0, R.dwActiveProtocol);
  b.writeUInt32LE(rv >>> 0, R.rv);
  return b;
}

/**
 * TRANSMIT reply into `out` (reused by the connection: the hot path allocates
 * nothing). The response follows only when rv is 0; `recvLength` is the actual
 * or the needed length. Returns the number of bytes to send.
 */
export function encodeTransmitReply(
  out: Buffer,
  req: Extract<Request, { cmd: typeof CMD.TRANSMIT }>,
  rv: number,
  recvLength: number,
  response: Buffer | null,
): number {
  out.writeInt32LE(req.hCard | 0, T.hCard);
  out.writeUInt32LE(req.sendPciProtocol >>> 0, T.ioSendPciProtocol);
  out.writeUInt32LE(req.sendPciLength >>> 0, T.ioSendPciLength);
  out.writeUInt32LE(req.apdu.length, T.cbSendLength);
  out.writeUInt32LE(req.recvPciProtocol >>> 0, T.ioRecvPciProtocol);
  out.writeUInt32LE(req.recvPciLength >>> 0, T.ioRecvPciLength);
  out.writeUInt32LE(recvLength >>> 0, T.pcbRecvLength);
  out.writeUInt32LE(rv >>> 0, T.rv);
  if (rv !== 0 || !response) return WIRE.transmit.size;
  response.copy(out, WIRE.transmit.size);
  return WIRE.transmit.size + response.length;
}

/** CONTROL reply into `out`, as encodeTransmitReply. */
export function encodeControlReply(
  out: Buffer,
  req: Extract<Request, { cmd: typeof CMD.CONTROL }>,
  rv: number,
  bytesReturned: number,
  response: Buffer | null,
): number {
  out.writeInt32LE(req.hCard | 0, C.hCard);
  out.writeUInt32LE(req.controlCode >>> 0, C.dwControlCode);
  out.writeUInt32LE(req.data.length, C.cbSendLength);
  out.writeUInt32LE(req.recvLength >>> 0, C.cbRecvLength);
  out.writeUInt32LE(bytesReturned >>> 0, C.dwBytesReturned);
  out.writeUInt32LE(rv >>> 0, C.rv);
  if (rv !== 0 || !response) return WIRE.control.size;
  response.copy(out, WIRE.control.size);
  return WIRE.control.size + response.length;
}

/** GET/SET_ATTRIB reply: the whole 280-byte struct in both directions. */
export function encodeGetSetReply(hCard: number, attrId: number, value: Buffer | null, attrLen: number, rv: number): Buffer {
  const b = replyBuffer(WIRE.getset.size);
  b.writeInt32LE(hCard | 0, G.hCard);
  b.writeUInt32LE(attrId >>> 0, G.dwAttrId);
  if (value) value.copy(b, G.pbAttr, 0, Math.min(value.length, LIMITS.MAX_BUFFER_SIZE));
  b.writeUInt32LE(attrLen >>> 0, G.cbAttrLen);
  b.writeUInt32LE(rv >>> 0, G.rv);
  return b;
}

/** The 8-byte wait_reader_state_change: STOP reply and the asynchronous event/cancel notification. */
export function encodeWaitReply(rv: number): Buffer {
  const b = replyBuffer(WIRE.waitReaderStateChange.size);
  b.writeUInt32LE(rv >>> 0, WIRE.waitReaderStateChange.offsets.rv);
  return b;
}

/** GET_READER_EVENTS reply (4:5): `{u32 readerEvents, u32 rv}`. */
export function encodeReaderEventsReply(readerEvents: number): Buffer {
  const b = replyBuffer(8);
  b.writeUInt32LE(readerEvents >>> 0, 0);
  return b;
}

/** Size of the reply to a request, without TRANSMIT/CONTROL data (for clients and tests). */
export function replySize(cmd: number): number {
  switch (cmd) {
    case CMD.GET_READERS_STATE:
    case CMD.WAIT_READER_STATE_CHANGE:
      return WIRE.readerState.size * LIMITS.MAX_READERS_CONTEXTS;
    case CMD.STOP_WAITING_READER_STATE_CHANGE:
    case CMD.GET_READER_EVENTS:
      return WIRE.waitReaderStateChange.size;
    default: {
      const s = BODY.get(cmd);
      if (s === undefined || s < 0) throw new PcscProtocolError('unknown-command', `0x${cmd.toString(16)}`);
      return s;
    }
  }
}
