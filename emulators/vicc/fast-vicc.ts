/**
 * A fast virtual card speaking the vicc side of the vpcd protocol
 * (hardware.md §5): it connects to a vpcd (pcscd's, or scardgate's vpcd
 * driver), answers GET ATR with the ATR and every APDU from a simulated card
 * model (drivers/sim/cards), in process, with no latency of its own: one
 * write per message, TCP_NODELAY. The benchmarks put it behind both
 * daemons so they compare the resource managers, not the card.
 *
 * CLI (emulator style):
 *   npx tsx emulators/vicc/fast-vicc.ts [--host 127.0.0.1] [--port 35963] [--card iso7816|iso14443-4|<json spec>] [--reconnect]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCard, type SimCard } from '../../drivers/sim/cards/index.js';
import { FrameDecoder, VPCD_CTRL, encodeFrame } from '../../drivers/vpcd/frame.js';

export interface FastViccOptions {
  host?: string;
  port: number;
  /** Card spec for createCard (default 'iso7816', T=1 at APDU level). */
  card?: unknown;
  /** Keep retrying the connection until it succeeds (vpcd not up yet) for up to this many ms. */
  connectTimeoutMs?: number;
}

export class FastVicc {
  readonly card: SimCard;
  readonly stats = { apdus: 0, atrRequests: 0, powerOn: 0, powerOff: 0, resets: 0 };
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder();

  private constructor(
    readonly sock: net.Socket,
    card: SimCard,
  ) {
    this.card = card;
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) this.onFrame(f);
    });
    sock.on('error', () => undefined);
    this.closed = new Promise((r) => sock.once('close', () => r()));
  }

  /** Build the card from its spec; only APDU-level cards can sit behind vpcd (which always speaks APDUs). */
  static makeCard(spec: unknown): SimCard {
    const card = createCard(spec ?? 'iso7816');
    if (card.interface !== 'apdu') throw new Error(`fast-vicc: a ${card.type} card is not an APDU-level card; use iso7816 or iso14443-4`);
    return card;
  }

  static async connect(opts: FastViccOptions): Promise<FastVicc> {
    const card = FastVicc.makeCard(opts.card);
    const deadline = Date.now() + (opts.connectTimeoutMs ?? 0);
    for (;;) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ host: opts.host ?? '127.0.0.1', port: opts.port, noDelay: true }, () => {
            s.off('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        });
        return new FastVicc(sock, card);
      } catch (e) {
        if (Date.now() >= deadline) throw new Error(`fast-vicc: cannot connect to vpcd at ${opts.host ?? '127.0.0.1'}:${opts.port}: ${(e as Error).message}`, { cause: e });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private onFrame(f: Buffer): void {
    if (f.length === 1) {
      switch (f[0]) {
        case VPCD_CTRL.ATR:
          this.stats.atrRequests++;
          this.sock.write(encodeFrame(this.card.atr));
          return;
        case VPCD_CTRL.ON:
          this.stats.powerOn++;
          this.card.reset();
          return;
        case VPCD_CTRL.OFF:
          this.stats.powerOff++;
          this.card.reset();
          return;
        case VPCD_CTRL.RESET:
          this.stats.resets++;
          this.card.reset();
          return;
        default:
          return; // vicc ignores unknown control codes too
      }
    }
    if (f.length === 0) return; // vicc logs a protocol error and carries on
    this.stats.apdus++;
    this.sock.write(encodeFrame(this.card.process(f)));
  }

  /** Leave: closing the connection is how a vicc card is removed. */
  close(): Promise<void> {
    this.sock.destroy();
    return this.closed;
  }
}

export interface FastViccProcess {
  proc: ChildProcess;
  /** Resolves when the card is connected (vpcd accepted it); rejects if the process ends first. */
  connected: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Run the fast card in its own process (so it does not share an event loop
 * with the daemon under test). With `reconnect`, it waits for vpcd to listen
 * and comes back after every disconnection.
 */
export function spawnFastVicc(opts: { port: number; host?: string; card?: unknown; reconnect?: boolean; cpu?: number }): FastViccProcess {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--port', String(opts.port)];
  if (opts.host) args.push('--host', opts.host);
  if (opts.card !== undefined) args.push('--card', typeof opts.card === 'string' ? opts.card : JSON.stringify(opts.card));
  if (opts.reconnect) args.push('--reconnect');
  const cmd = opts.cpu === undefined ? process.execPath : 'taskset';
  const argv = opts.cpu === undefined ? args : ['-c', String(opts.cpu), process.execPath, ...args];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const connected = new Promise<void>((resolve, reject) => {
    proc.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes(' connected to ')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`fast-vicc exited (${code}) before connecting: ${err.trim()}`)));
  });
  connected.catch(() => undefined);
  return {
    proc,
    connected,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    },
  };
}

function parseArgs(argv: string[]): FastViccOptions & { reconnect: boolean } {
  const out: FastViccOptions & { reconnect: boolean } = { port: 35963, reconnect: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--host' || a === '-H') out.host = val();
    else if (a === '--port' || a === '-P') {
      const p = Number(val());
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`--port must be 1..65535, got ${argv[i]}`);
      out.port = p;
    } else if (a === '--card' || a === '-t') {
      const v = val();
      out.card = v.trim().startsWith('{') ? JSON.parse(v) : v;
    } else if (a === '--reconnect') out.reconnect = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: fast-vicc [--host H] [--port P] [--card iso7816|iso14443-4|<json spec>] [--reconnect]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return out;
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(process.argv.slice(2));
    FastVicc.makeCard(opts.card);
  } catch (e) {
    process.stderr.write(`fast-vicc: ${(e as Error).message}\n`);
    process.exit(2);
  }
  let stopping = false;
  let current: FastVicc | undefined;
  const stop = (): void => {
    stopping = true;
    void current?.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  do {
    try {
      current = await FastVicc.connect({ ...opts, connectTimeoutMs: opts.reconnect ? 24 * 3600_000 : 0 });
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(1);
    }
    process.stderr.write(`fast-vicc: ${current.card.type} card connected to ${opts.host ?? '127.0.0.1'}:${opts.port}\n`);
    await current.closed;
    process.stderr.write(`fast-vicc: disconnected after ${current.stats.apdus} APDUs\n`);
  } while (opts.reconnect && !stopping);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
