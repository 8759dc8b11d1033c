/**
 * One client connection of the pcsc socket (= one libpcsclite context).
 *
 * A non-blocking state machine: requests are decoded from the byte stream and
 * run one at a time in arrival order (the client never has two in flight);
 * while a request waits on the core (a transaction held elsewhere, a slow
 * card) only this connection waits. The only unsolicited message is the 8-byte
 * event/cancel notification, sent at most once per registration.
 *
 * Context and card handle numbers are the core's (random, non-zero, 31-bit,
 * unique daemon-wide, as pcscd's); a connection may use only its own.
 */
import type { Socket } from 'node:net';
import type { ContextId, HandleId, ScardCore } from '../../core/api.js';
import { LIMITS, PROTOCOL, SCARD, SHARE } from '../../pcsc/constants.js';
import { toPcscError } from '../../pcsc/error.js';
import {
  CMD,
  MAX_REQUEST_SIZE,
  PROTOCOL_MINOR_MAX,
  PROTOCOL_VERSION,
  PcscProtocolError,
  RequestDecoder,
  encodeConnectReply,
  encodeControlReply,
  encodeDispositionReply,
  encodeEstablishReply,
  encodeGetSetReply,
  encodePairReply,
  encodeReaderEventsReply,
  encodeReconnectReply,
  encodeTransmitReply,
  encodeVersionReply,
  encodeWaitReply,
  type Request,
} from './codec.js';
import { WIRE } from './layout.js';
import { fdOf, startReadingInto, writeReply } from '../../net/socket-io.js';

type Req<C extends number> = Extract<Request, { cmd: C }>;

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly core: ScardCore;
  /** The current reader-state table (written in place on changes: send it with sendTable). */
  table(): Buffer;
  /** Reader additions + removals so far (protocol 4:5's CMD_GET_READER_EVENTS): starts at 1, never 0. */
  readerEvents(): number;
  contextOpened(ctx: ContextId, conn: PcscConnection): void;
  contextClosed(ctx: ContextId): void;
  /** SCardCancel arriving on its own connection, aimed at another connection's context. */
  cancel(hContext: number): number;
  closed(conn: PcscConnection, reason: string): void;
  protocolError(conn: PcscConnection, err: PcscProtocolError): void;
}

// Shared, never modified: safe to queue on any number of sockets.
const NOTIFY_EVENT = encodeWaitReply(SCARD.S_SUCCESS);
const NOTIFY_CANCELLED = encodeWaitReply(SCARD.E_CANCELLED);
const REPLY_BUFFER_SIZE = Math.max(WIRE.transmit.size, WIRE.control.size) + LIMITS.MAX_BUFFER_SIZE_EXTENDED;
const SCOPE_MAX = 3;
/** Replies queued for a client that does not read; beyond this its requests wait (its own, nobody else's). */
const MAX_QUEUED_REPLY_BYTES = 256 * 1024;

const codeOf = (e: unknown): number => toPcscError(e).code;

export class PcscConnection {
  /** Contexts opened on this connection (normally one; a client may re-establish after an id clash). */
  readonly contexts = new Set<ContextId>();
  readonly handles = new Set<HandleId>();
  /** Registered for one state-change notification (CMD_WAIT_READER_STATE_CHANGE). */
  registered = false;
  requests = 0;
  private busy = false;
  private paused = false;
  private isClosed = false;
  private readonly decoder = new RequestDecoder();
  /** The socket's descriptor, read once (a native accessor): replies are written straight to it. */
  private readonly fd: number;
  /** TRANSMIT/CONTROL replies are built here when the previous reply has left the process. */
  private replyBuf: Buffer | null = null;
  /**
   * The short replies of the calls that need no waiting (Status, Connect, Disconnect...) are built in these and
   * sent with sendMutable: copied only when they have to wait in the socket's queue.
   */
  private readonly pairBuf = Buffer.alloc(8);
  private readonly dispositionBuf = Buffer.alloc(12);
  private readonly connectBuf = Buffer.alloc(WIRE.connect.size);
  private cur: Request | null = null;
  // Stall detection, advanced by the server's sweep (nothing on the per-message path but the request count).
  private halfMs = 0;
  private requestsMark = -1;
  private writeStallMs = 0;
  private queuedMark = 0;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    readonly id: number,
  ) {
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.close('closed by client'));
    socket.on('error', () => this.close('socket error'));
    startReadingInto(socket, (n, buf) => this.onData(buf, n));
    this.fd = fdOf(socket);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Sends the event (rv 0) or cancel notification if registered; true when sent. */
  notify(rv: number): boolean {
    if (!this.registered || this.isClosed) return false;
    this.registered = false;
    writeReply(this.socket, rv === SCARD.S_SUCCESS ? NOTIFY_EVENT : rv === SCARD.E_CANCELLED ? NOTIFY_CANCELLED : encodeWaitReply(rv), false, this.fd);
    return true;
  }

  /**
   * Called every `tickMs` by the server: the reason to cut this client off, or
   * null. Mid-request (or silent since connecting) with no complete request for
   * `halfMessageMs`; replies left unread with no progress for `writeStallMs`.
   */
  tick(tickMs: number, limits: { halfMessageMs: number; writeStallMs: number }): string | null {
    if (this.isClosed) return null;
    const midRequest = !this.busy && (this.decoder.pending > 0 || this.requests === 0);
    if (midRequest && this.requests === this.requestsMark) {
      this.halfMs += tickMs;
      if (this.halfMs >= limits.halfMessageMs) return `no complete request for ${limits.halfMessageMs} ms`;
    } else this.halfMs = 0;
    this.requestsMark = this.requests;
    const queued = this.socket.writableLength;
    if (queued > 0 && queued >= this.queuedMark) {
      this.writeStallMs += tickMs;
      if (this.writeStallMs >= limits.writeStallMs) return `replies unread for ${limits.writeStallMs} ms`;
    } else this.writeStallMs = 0;
    this.queuedMark = queued;
    return null;
  }

  /** Closes the connection: its contexts are released (handles disconnected, held transactions reset). */
  close(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.registered = false;
    this.socket.destroy();
    const core = this.host.core;
    for (const ctx of this.contexts) {
      this.host.contextClosed(ctx);
      try {
        if (!core.releaseContextNow(ctx)) core.releaseContext(ctx).catch(() => undefined);
      } catch {
        // already released
      }
    }
    this.contexts.clear();
    this.handles.clear();
    this.host.closed(this, reason);
  }

  private onData(buf: Buffer, n: number): void {
    if (this.isClosed) return;
    this.decoder.push(buf, n);
    if (this.busy) {
      // The client never sends ahead; one that does is held back, not buffered without bound.
      if (this.decoder.pending > MAX_REQUEST_SIZE && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    this.pump();
  }

  private onEnd(): void {
    if (this.isClosed) return;
    try {
      this.decoder.finish();
    } catch (e) {
      if (e instanceof PcscProtocolError) this.host.protocolError(this, e);
    }
    this.close('closed by client');
  }

  private pump(): void {
    while (!this.busy && !this.isClosed) {
      if (this.socket.writableLength > MAX_QUEUED_REPLY_BYTES) {
        this.busy = true;
        this.socket.once('drain', this.onDrain);
        return;
      }
      let req: Request | null;
      try {
        req = this.decoder.next();
      } catch (e) {
        if (e instanceof PcscProtocolError) {
          this.host.protocolError(this, e);
          this.close(e.message);
          return;
        }
        throw e;
      }
      if (!req) break;
      this.requests++;
      this.cur = req;
      this.dispatch(req);
    }
    if (this.paused && !this.busy) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private readonly onDrain = (): void => {
    if (!this.isClosed) this.resume();
  };

  /** Marks the connection as waiting on the core; `done` replies and resumes. */
  private wait<T>(p: Promise<T>, ok: (v: T) => void, fail: (code: number) => void): void {
    this.busy = true;
    p.then(
      (v) => {
        if (this.isClosed) return;
        ok(v);
        this.resume();
      },
      (e: unknown) => {
        if (this.isClosed) return;
        fail(codeOf(e));
        this.resume();
      },
    );
  }

  private resume(): void {
    this.busy = false;
    this.cur = null;
    this.pump();
  }

  private send(b: Buffer): void {
    if (!this.isClosed) writeReply(this.socket, b, false, this.fd);
  }

  /** `b` is one of the connection's own reply buffers, written again by the next reply. */
  private sendMutable(b: Buffer): void {
    if (!this.isClosed) writeReply(this.socket, b, true, this.fd);
  }

  /** The table is changed in place: what has to wait in the socket's queue is a copy. */
  private sendTable(): void {
    if (!this.isClosed) writeReply(this.socket, this.host.table(), true, this.fd);
  }

  private ownsHandle(h: number): boolean {
    return this.handles.has(h);
  }

  private dispatch(req: Request): void {
    switch (req.cmd) {
      case CMD.VERSION: {
        // 4:4 (pcsc-lite 1.8.24..2.2, Debian bookworm) and 4:5 (2.3..2.4) are served as they are; anything
        // else gets SERVICE_STOPPED with 4:5, after which 2.4.1+ clients retry on the same connection with 4:5.
        const ok = req.major === PROTOCOL_VERSION.major && req.minor >= PROTOCOL_VERSION.minor && req.minor <= PROTOCOL_MINOR_MAX;
        this.send(ok ? encodeVersionReply(SCARD.S_SUCCESS, req.minor) : encodeVersionReply(SCARD.E_SERVICE_STOPPED, PROTOCOL_MINOR_MAX));
        return;
      }
      case CMD.GET_READER_EVENTS:
        this.send(encodeReaderEventsReply(this.host.readerEvents()));
        return;
      case CMD.ESTABLISH_CONTEXT: {
        if (req.scope > SCOPE_MAX) {
          this.send(encodeEstablishReply(req.scope, 0, SCARD.E_INVALID_VALUE));
          return;
        }
        let ctx: ContextId;
        try {
          ctx = this.host.core.establishContext(`pcsc:${this.id}`);
        } catch (e) {
          this.send(encodeEstablishReply(req.scope, 0, codeOf(e)));
          return;
        }
        this.contexts.add(ctx);
        this.host.contextOpened(ctx, this);
        this.send(encodeEstablishReply(req.scope, ctx, SCARD.S_SUCCESS));
        return;
      }
      case CMD.RELEASE_CONTEXT:
        return this.release(req);
      case CMD.CONNECT:
        return this.connect(req);
      case CMD.RECONNECT:
        return this.reconnect(req);
      case CMD.DISCONNECT:
        return this.disconnect(req);
      case CMD.BEGIN_TRANSACTION:
        if (!this.ownsHandle(req.hCard)) return this.send(encodePairReply(req.hCard, SCARD.E_INVALID_HANDLE));
        return this.wait(
          this.host.core.beginTransaction(req.hCard),
          () => this.send(encodePairReply(req.hCard, SCARD.S_SUCCESS)),
          (rv) => this.send(encodePairReply(req.hCard, rv)),
        );
      case CMD.END_TRANSACTION:
        if (!this.ownsHandle(req.hCard)) return this.send(encodeDispositionReply(req.hCard, req.disposition, SCARD.E_INVALID_HANDLE));
        return this.wait(
          this.host.core.endTransaction(req.hCard, req.disposition),
          () => this.send(encodeDispositionReply(req.hCard, req.disposition, SCARD.S_SUCCESS)),
          (rv) => this.send(encodeDispositionReply(req.hCard, req.disposition, rv)),
        );
      case CMD.TRANSMIT:
        return this.transmit(req);
      case CMD.CONTROL:
        return this.control(req);
      case CMD.STATUS: {
        // Only rv travels: the client reads name, state, protocol and ATR from the table.
        if (!this.ownsHandle(req.hCard)) return this.sendMutable(encodePairReply(req.hCard, SCARD.E_INVALID_HANDLE, this.pairBuf));
        return this.sendMutable(encodePairReply(req.hCard, this.host.core.statusNow(req.hCard), this.pairBuf));
      }
      case CMD.CANCEL:
        this.send(encodePairReply(req.hContext, this.host.cancel(req.hContext)));
        return;
      case CMD.GET_ATTRIB:
        return this.getAttrib(req);
      case CMD.SET_ATTRIB:
        if (!this.ownsHandle(req.hCard)) {
          return this.send(encodeGetSetReply(req.hCard, req.attrId, req.value, req.value.length, SCARD.E_INVALID_HANDLE));
        }
        return this.wait(
          this.host.core.setAttrib(req.hCard, req.attrId, req.value),
          () => this.send(encodeGetSetReply(req.hCard, req.attrId, req.value, req.value.length, SCARD.S_SUCCESS)),
          (rv) => this.send(encodeGetSetReply(req.hCard, req.attrId, req.value, req.value.length, rv)),
        );
      case CMD.GET_READERS_STATE:
        this.sendTable();
        return;
      case CMD.WAIT_READER_STATE_CHANGE:
        this.registered = true;
        this.sendTable();
        return;
      case CMD.STOP_WAITING_READER_STATE_CHANGE:
        // Exactly one 8-byte message per registration: if an event or a cancel already went out, the client reads that one.
        if (this.registered) {
          this.registered = false;
          this.send(NOTIFY_EVENT);
        }
        return;
    }
  }

  private release(req: Req<typeof CMD.RELEASE_CONTEXT>): void {
    if (this.contexts.size === 0) return this.send(encodePairReply(req.hContext, SCARD.E_INVALID_HANDLE));
    if (!this.contexts.has(req.hContext)) return this.send(encodePairReply(req.hContext, SCARD.E_INVALID_VALUE));
    this.registered = false;
    this.contexts.delete(req.hContext);
    this.host.contextClosed(req.hContext);
    // Every handle of the connection belongs to the context being released when there was only one.
    if (this.contexts.size === 0) this.handles.clear();
    const core = this.host.core;
    try {
      if (core.releaseContextNow(req.hContext)) return this.send(encodePairReply(req.hContext, SCARD.S_SUCCESS));
    } catch (e) {
      return this.send(encodePairReply(req.hContext, codeOf(e)));
    }
    this.wait(
      core.releaseContext(req.hContext),
      () => this.send(encodePairReply(req.hContext, SCARD.S_SUCCESS)),
      (rv) => this.send(encodePairReply(req.hContext, rv)),
    );
  }

  private connect(req: Req<typeof CMD.CONNECT>): void {
    // pcscd: a context that is not this connection's makes the connect fail with INVALID_VALUE.
    if (!this.contexts.has(req.hContext)) return this.sendMutable(encodeConnectReply(req, 0, 0, SCARD.E_INVALID_VALUE, this.connectBuf));
    if (this.handles.size >= LIMITS.MAX_CONTEXT_CARD_HANDLES) return this.sendMutable(encodeConnectReply(req, 0, 0, SCARD.E_NO_MEMORY, this.connectBuf));
    const core = this.host.core;
    try {
      const now = core.connectNow(req.hContext, req.reader, req.shareMode, req.preferredProtocols);
      if (now) {
        this.handles.add(now.handle);
        return this.sendMutable(encodeConnectReply(req, now.handle, now.protocol, SCARD.S_SUCCESS, this.connectBuf));
      }
    } catch (e) {
      const rv = codeOf(e);
      return this.sendMutable(encodeConnectReply(req, 0, this.failedConnectProtocol(req, rv), rv, this.connectBuf));
    }
    this.wait(
      core.connect(req.hContext, req.reader, req.shareMode, req.preferredProtocols),
      (r) => {
        this.handles.add(r.handle);
        this.send(encodeConnectReply(req, r.handle, r.protocol, SCARD.S_SUCCESS));
      },
      (rv) => this.send(encodeConnectReply(req, 0, this.failedConnectProtocol(req, rv), rv)),
    );
  }

  /**
   * pcscd reports the card's negotiated protocol when an EXCLUSIVE connect fails
   * because others share the reader (it fills it in before the exclusivity
   * check); libpcsclite copies it out even on failure.
   */
  private failedConnectProtocol(req: Req<typeof CMD.CONNECT>, rv: number): number {
    if (rv !== SCARD.E_SHARING_VIOLATION || req.shareMode !== SHARE.EXCLUSIVE) return 0;
    const r = this.host.core.reader(req.reader);
    return r && r.sharing > 0 ? r.protocol : 0;
  }

  private reconnect(req: Req<typeof CMD.RECONNECT>): void {
    // A failed reconnect hands back SCARD_PROTOCOL_UNDEFINED, as pcscd does (the client library sends the
    // caller's variable in the request and copies the reply's value out whatever the result; docs/pcsc.md §3).
    if (!this.ownsHandle(req.hCard)) return this.send(encodeReconnectReply(req, PROTOCOL.UNDEFINED, SCARD.E_INVALID_HANDLE));
    this.wait(
      this.host.core.reconnect(req.hCard, req.shareMode, req.preferredProtocols, req.initialization),
      (r) => this.send(encodeReconnectReply(req, r.protocol, SCARD.S_SUCCESS)),
      (rv) => this.send(encodeReconnectReply(req, PROTOCOL.UNDEFINED, rv)),
    );
  }

  private disconnect(req: Req<typeof CMD.DISCONNECT>): void {
    if (!this.ownsHandle(req.hCard)) return this.sendMutable(encodeDispositionReply(req.hCard, req.disposition, SCARD.E_INVALID_HANDLE, this.dispositionBuf));
    const core = this.host.core;
    try {
      if (core.disconnectNow(req.hCard, req.disposition)) {
        this.handles.delete(req.hCard);
        return this.sendMutable(encodeDispositionReply(req.hCard, req.disposition, SCARD.S_SUCCESS, this.dispositionBuf));
      }
    } catch (e) {
      return this.sendMutable(encodeDispositionReply(req.hCard, req.disposition, codeOf(e), this.dispositionBuf));
    }
    this.wait(
      core.disconnect(req.hCard, req.disposition),
      () => {
        this.handles.delete(req.hCard);
        this.send(encodeDispositionReply(req.hCard, req.disposition, SCARD.S_SUCCESS));
      },
      (rv) => this.send(encodeDispositionReply(req.hCard, req.disposition, rv)),
    );
  }

  /** A reply buffer that is not still queued on the socket. */
  private replyBuffer(): Buffer {
    if (this.replyBuf && this.socket.writableLength === 0) return this.replyBuf;
    this.replyBuf = Buffer.allocUnsafe(REPLY_BUFFER_SIZE);
    return this.replyBuf;
  }

  // --- TRANSMIT, the hot path: pre-bound callbacks and a reused reply buffer ---

  private transmit(req: Req<typeof CMD.TRANSMIT>): void {
    if (!this.ownsHandle(req.hCard)) return this.onTransmitFail(SCARD.E_INVALID_HANDLE);
    this.busy = true;
    this.host.core.transmit(req.hCard, req.sendPciProtocol, req.apdu).then(this.onTransmitOk, this.onTransmitError);
  }

  private readonly onTransmitOk = (resp: Buffer): void => {
    if (this.isClosed) return;
    const req = this.cur as Req<typeof CMD.TRANSMIT>;
    // The client's buffer size is enforced here: it would read rv 0 + a longer length as "too small" and lose step.
    const out = this.replyBuffer();
    const n =
      resp.length > req.recvLength
        ? encodeTransmitReply(out, req, SCARD.E_INSUFFICIENT_BUFFER, resp.length, null)
        : encodeTransmitReply(out, req, SCARD.S_SUCCESS, resp.length, resp);
    writeReply(this.socket, out.subarray(0, n), false, this.fd);
    this.resume();
  };

  private readonly onTransmitError = (e: unknown): void => {
    if (this.isClosed) return;
    this.onTransmitFail(codeOf(e));
    this.resume();
  };

  private onTransmitFail(rv: number): void {
    const out = this.replyBuffer();
    this.send(out.subarray(0, encodeTransmitReply(out, this.cur as Req<typeof CMD.TRANSMIT>, rv, 0, null)));
  }

  private control(req: Req<typeof CMD.CONTROL>): void {
    const reply = (rv: number, len: number, data: Buffer | null): void => {
      const out = this.replyBuffer();
      this.send(out.subarray(0, encodeControlReply(out, req, rv, len, data)));
    };
    if (!this.ownsHandle(req.hCard)) return reply(SCARD.E_INVALID_HANDLE, 0, null);
    this.wait(
      this.host.core.control(req.hCard, req.controlCode, req.data),
      (resp) => (resp.length > req.recvLength ? reply(SCARD.E_INSUFFICIENT_BUFFER, resp.length, null) : reply(SCARD.S_SUCCESS, resp.length, resp)),
      (rv) => reply(rv, 0, null),
    );
  }

  private getAttrib(req: Req<typeof CMD.GET_ATTRIB>): void {
    if (!this.ownsHandle(req.hCard)) return this.send(encodeGetSetReply(req.hCard, req.attrId, null, req.attrLen, SCARD.E_INVALID_HANDLE));
    this.wait(
      this.host.core.getAttrib(req.hCard, req.attrId),
      (v) =>
        this.send(
          v.length > req.attrLen
            ? encodeGetSetReply(req.hCard, req.attrId, null, v.length, SCARD.E_INSUFFICIENT_BUFFER)
            : encodeGetSetReply(req.hCard, req.attrId, v, v.length, SCARD.S_SUCCESS),
        ),
      (rv) => this.send(encodeGetSetReply(req.hCard, req.attrId, null, req.attrLen, rv)),
    );
  }
}
