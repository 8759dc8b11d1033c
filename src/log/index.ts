/**
 * Logging: pino, JSON lines to stdout (journald keeps them), one child logger
 * per module (`{module: 'core'}`), secrets redacted by field name and APDUs
 * rendered through redact.ts by the `apdu`/`exchange` serializers.
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino, { type Logger, type LevelWithSilent } from 'pino';
import { REDACTED, SECRET_FIELDS, redactFields, redactOwn, renderApdu, renderResponse } from './redact.js';

export type { Logger } from 'pino';

function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
    return Uint8Array.from((v as { data: number[] }).data);
  }
  return undefined;
}

/** `log.debug({ apdu: buf })` and `log.debug({ exchange: { command, response } })` never print secrets. */
export const serializers = {
  apdu: (v: unknown): unknown => {
    const b = asBytes(v);
    return b ? renderApdu(b) : v;
  },
  exchange: (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const { command, response, ...rest } = v as { command?: unknown; response?: unknown };
    const c = asBytes(command);
    const r = asBytes(response);
    return {
      ...rest,
      ...(c ? { command: renderApdu(c) } : {}),
      ...(c && r ? { response: renderResponse(c, r) } : {}),
    };
  },
  // An error's own enumerable fields are copied by the serializer: the copy is looked through too.
  err: (e: Error): unknown => {
    // Anything may be logged as `err` (a string, a plain object): only the serializer's own new object is changed in place.
    const out: unknown = pino.stdSerializers.err(e);
    return out !== e && typeof out === 'object' && out !== null ? redactOwn(out) : redactFields(out);
  },
  // pino formats a child logger's bindings without the log formatter: a secret field among them is caught here.
  ...Object.fromEntries(SECRET_FIELDS.map((f) => [f, (): string => REDACTED])),
};

/** Recent log lines kept in memory for the web UI and diagnostics, and a live feed. */
export class LogRing extends EventEmitter<{ line: [line: string] }> {
  private readonly lines: string[] = [];
  constructor(readonly capacity = 2000) {
    super();
  }
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
    this.emit('line', line);
  }
  /** The last `n` lines (JSON text), oldest first. */
  tail(n = this.capacity): string[] {
    return this.lines.slice(-n);
  }
}

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where JSON lines go; default stdout. */
  destination?: NodeJS.WritableStream;
  /** Also keep lines in this ring. */
  ring?: LogRing;
  /** Base fields (e.g. gatewayId); pid and hostname are left out, journald has them. */
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest: NodeJS.WritableStream = opts.destination ?? (pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream);
  let stream: NodeJS.WritableStream = dest;
  if (opts.ring) {
    const ring = opts.ring;
    let pending = '';
    stream = new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        const s = chunk.toString();
        dest.write(s);
        pending += s;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          ring.push(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
        cb();
      },
    });
  }
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Secret fields redacted in the record (src/log/redact.ts); a child's bindings by the serializers above.
      formatters: { level: (label) => ({ level: label }), log: (o) => redactFields(o) },
      serializers,
    },
    stream,
  );
}

/** A child logger for one module: every line carries `module`. */
export function moduleLogger(parent: Logger, module: string): Logger {
  return parent.child({ module });
}
