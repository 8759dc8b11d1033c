/**
 * The pcsc-lite compatible Unix socket: accepts libpcsclite clients, keeps
 * the reader-state table in step with the core and signals every waiting
 * client when it changes (event-driven: no polling).
 */
import { chmodSync, chownSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { ContextId, ReaderSnapshot, ScardCore } from '../../core/api.js';
import { SCARD } from '../../pcsc/constants.js';
import type { PcscProtocolError } from './codec.js';
import { PcscConnection, type ConnectionHost } from './connection.js';
import { ReaderTable } from './reader-table.js';
import { prepareSocketPath } from '../../daemon/socket-file.js';

export interface PcscServerOptions {
  socketPath: string;
  /** File mode of the socket (e.g. 0o660). */
  mode: number;
  /** Group (name or numeric gid) given the socket, so its members may connect. */
  group?: string | number;
  /** Bounds on clients (README "pcsc socket limits"); defaults PCSC_LIMITS. */
  limits?: Partial<PcscLimits>;
}

/**
 * What one client may hold. Node cannot read a Unix socket peer's uid
 * (SO_PEERCRED), so the connection cap is global, and the timeouts free the
 * slots of clients that connect and stall: libpcsclite sends each request in
 * one go and reads its reply at once.
 */
export interface PcscLimits {
  /** Simultaneous client connections (pcscd: 200); beyond it a client is closed at once. */
  maxConnections: number;
  /** A client that has sent part of a request (or nothing yet) and no complete one for this long is closed. */
  halfMessageMs: number;
  /** A client that leaves replies unread, with no progress, for this long is closed. */
  writeStallMs: number;
}

export const PCSC_LIMITS: PcscLimits = { maxConnections: 200, halfMessageMs: 10000, writeStallMs: 60000 };

export interface PcscServerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Events after which the whole table is re-read ('reader-state', one reader's entry, is updated alone). */
const CORE_EVENTS = ['reader-added', 'reader-removed', 'card-inserted', 'card-removed', 'reader-error'] as const;

/** Resolves a group name through /etc/group (Node has no getgrnam). */
export function resolveGroup(group: string | number): number {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new Error(`pcsc.group: no group named '${group}' in /etc/group`);
}

export class PcscServer implements ConnectionHost {
  readonly table: () => Buffer;
  private readonly readerTable: ReaderTable;
  private server: Server | null = null;
  private readonly connections = new Set<PcscConnection>();
  private readonly byContext = new Map<ContextId, PcscConnection>();
  private nextId = 1;
  private readonly onCoreEvent = (): void => this.refresh();
  private readonly onReaderState = (r: ReaderSnapshot): void => {
    if (this.readerTable.update(r)) this.signal();
  };
  private readerEventCount = 1;
  private readonly onReaderAddedOrRemoved = (): void => {
    // pcscd 2.3+ keeps an int16 that skips 0 and negative values on wrap-around.
    this.readerEventCount = this.readerEventCount >= 0x7fff ? 1 : this.readerEventCount + 1;
  };
  stats = { accepted: 0, refused: 0, protocolErrors: 0, notifications: 0, cancels: 0, timedOut: 0 };
  private readonly limits: PcscLimits;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    readonly core: ScardCore,
    private readonly opts: PcscServerOptions,
    private readonly log: PcscServerLog,
  ) {
    this.readerTable = new ReaderTable(core);
    this.table = () => this.readerTable.current;
    this.limits = { ...PCSC_LIMITS, ...opts.limits };
  }

  get path(): string {
    return this.opts.socketPath;
  }

  async start(): Promise<void> {
    const path = this.opts.socketPath;
    await prepareSocketPath(path, 'pcsc.socket', 'in use by a running daemon (pcscd or another scardgate)');
    const gid = this.opts.group === undefined ? undefined : resolveGroup(this.opts.group);
    this.core.on('reader-added', this.onReaderAddedOrRemoved);
    this.core.on('reader-removed', this.onReaderAddedOrRemoved);
    for (const ev of CORE_EVENTS) this.core.on(ev, this.onCoreEvent);
    this.core.on('reader-state', this.onReaderState);
    this.refresh();
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: true }, (s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Bound with no access for others, then opened to the configured mode: no window where anyone may connect.
      const old = process.umask(0o177);
      try {
        server.listen({ path, backlog: 64 }, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    if (gid !== undefined) chownSync(path, -1, gid);
    chmodSync(path, this.opts.mode);
    server.on('error', (e) => this.log.warn({ err: e }, 'pcsc socket error'));
    // One timer for every connection, checked at a quarter of the shorter timeout (no per-message timer work).
    const tickMs = Math.max(10, Math.min(this.limits.halfMessageMs, this.limits.writeStallMs) / 4);
    this.sweeper = setInterval(() => this.sweep(tickMs), tickMs);
    this.sweeper.unref();
    this.log.info({ socket: path, mode: `0${this.opts.mode.toString(8)}`, gid }, 'pcsc socket listening');
  }

  async stop(): Promise<void> {
    for (const ev of CORE_EVENTS) this.core.off(ev, this.onCoreEvent);
    this.core.off('reader-state', this.onReaderState);
    this.core.off('reader-added', this.onReaderAddedOrRemoved);
    this.core.off('reader-removed', this.onReaderAddedOrRemoved);
    const server = this.server;
    this.server = null;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const c of [...this.connections]) c.close('daemon stopping');
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        unlinkSync(this.opts.socketPath);
      } catch {
        // already gone
      }
    }
  }

  /** Re-reads the core's readers; when the table changed, every registered client gets its one notification. */
  refresh(): void {
    if (this.readerTable.refresh()) this.signal();
  }

  /** Every registered client gets its one notification. */
  private signal(): void {
    for (const c of this.connections) if (c.notify(SCARD.S_SUCCESS)) this.stats.notifications++;
  }

  private sweep(tickMs: number): void {
    for (const c of this.connections) {
      const why = c.tick(tickMs, this.limits);
      if (why) {
        this.stats.timedOut++;
        this.log.warn({ conn: c.id, reason: why }, 'pcsc client cut off');
        c.close(why);
      }
    }
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.limits.maxConnections) {
      this.stats.refused++;
      socket.destroy();
      return;
    }
    this.stats.accepted++;
    const conn = new PcscConnection(socket, this, this.nextId++);
    this.connections.add(conn);
  }

  // --- ConnectionHost ---

  readerEvents(): number {
    return this.readerEventCount;
  }

  contextOpened(ctx: ContextId, conn: PcscConnection): void {
    this.byContext.set(ctx, conn);
  }

  contextClosed(ctx: ContextId): void {
    this.byContext.delete(ctx);
  }

  cancel(hContext: number): number {
    const target = this.byContext.get(hContext);
    if (!target) return SCARD.E_INVALID_HANDLE;
    this.stats.cancels++;
    target.notify(SCARD.E_CANCELLED);
    // pcscd answers INVALID_HANDLE when the context is not waiting (any more): the client only cancels
    // while it waits, so that is the race with an event or a timeout (PCSC#160); its wait ends anyway.
    return SCARD.S_SUCCESS;
  }

  closed(conn: PcscConnection, reason: string): void {
    this.connections.delete(conn);
    this.log.debug({ conn: conn.id, reason, requests: conn.requests }, 'pcsc client gone');
  }

  protocolError(conn: PcscConnection, err: PcscProtocolError): void {
    this.stats.protocolErrors++;
    this.log.warn({ conn: conn.id, reason: err.reason }, err.message);
  }

  diagnostics(): Record<string, unknown> {
    let registered = 0;
    let handles = 0;
    for (const c of this.connections) {
      if (c.registered) registered++;
      handles += c.handles.size;
    }
    return {
      socket: this.opts.socketPath,
      listening: this.server !== null,
      connections: this.connections.size,
      contexts: this.byContext.size,
      handles,
      waiting: registered,
      readersNotShown: this.readerTable.overflow,
      limits: this.limits,
      ...this.stats,
    };
  }
}
