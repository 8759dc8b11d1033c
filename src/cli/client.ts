/** A control-channel client: one Unix socket connection, requests matched to responses by id, watch events as a callback. */
import { createConnection, type Socket } from 'node:net';
import { LineSplitter, type ControlErrorBody, type ControlEvent } from '../api/control/protocol.js';

export type { ControlEvent };

/** The daemon answered with an error. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(readonly body: ControlErrorBody) {
    super(`${body.name}: ${body.message}`);
  }
}

/** The daemon cannot be reached. */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly eventHandlers = new Map<number, (e: ControlEvent) => void>();
  private closedError: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    const splitter = new LineSplitter(
      (line) => this.onLine(line),
      () => this.fail(new Error('response line too long')),
      64 << 20,
    );
    sock.on('data', (d: string) => splitter.push(d));
    sock.on('error', (err) => this.fail(err));
    sock.on('close', () => this.fail(new ConnectError('the daemon closed the connection')));
  }

  static connect(path: string, timeoutMs = 5000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ConnectError(`no answer from ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new ControlClient(sock));
      });
      sock.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why =
          err.code === 'ENOENT'
            ? 'no such socket (is scardgated running? use --socket PATH)'
            : err.code === 'ECONNREFUSED'
              ? 'connection refused (stale socket: the daemon is not running)'
              : err.code === 'EACCES'
                ? 'permission denied (the socket is mode 0660: run as the service user or a member of its group)'
                : err.message;
        reject(new ConnectError(`cannot connect to the control socket ${path}: ${why}`));
      });
    });
  }

  private onLine(line: string): void {
    let msg: { id?: unknown; result?: unknown; error?: ControlErrorBody; event?: string };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : -1;
    if (msg.event !== undefined) {
      this.eventHandlers.get(id)?.(msg as unknown as ControlEvent);
      return;
    }
    const p = this.pending.get(id);
    if (!p) {
      // An error the daemon could not tie to a request (e.g. a line too long) fails everything in flight.
      if (msg.error) for (const q of this.pending.values()) q.reject(new ControlError(msg.error));
      return;
    }
    this.pending.delete(id);
    if (msg.error) p.reject(new ControlError(msg.error));
    else p.resolve(msg.result);
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  request<T = unknown>(method: string, params?: Record<string, unknown>, onEvent?: (e: ControlEvent) => void): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    if (onEvent) this.eventHandlers.set(id, onEvent);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(`${JSON.stringify({ id, method, ...(params ? { params } : {}) })}\n`);
    });
  }

  /** Resolves when the daemon closes the connection (e.g. it stops). */
  closed(): Promise<void> {
    return new Promise((resolve) => (this.sock.destroyed ? resolve() : this.sock.once('close', () => resolve())));
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}
