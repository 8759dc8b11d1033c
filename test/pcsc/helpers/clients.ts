/**
 * Running Debian's libpcsclite clients against a socket: the line-driven C
 * client (compiled at test time with gcc), pcsc_scan, opensc-tool, pyscard.
 * A missing package is a failure that says what to install, never a skip.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const CLIENT_SOURCE = join(here, '..', 'clients', 'pcsc-calls.c');

export function requireTool(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package '${pkg}' (apt-get install ${pkg}, or make deb-deps)`);
}

let built: string | undefined;

/** Compiles test/pcsc/clients/pcsc-calls.c against libpcsclite once per process. */
export function buildCallsClient(): string {
  if (built) return built;
  requireTool('/usr/bin/gcc', 'gcc');
  requireTool('/usr/include/PCSC/winscard.h', 'libpcsclite-dev');
  const out = join(mkdtempSync(join(tmpdir(), 'pcsc-calls-')), 'pcsc-calls');
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libpcsclite'], { encoding: 'utf8' }).trim().split(/\s+/);
  execFileSync('gcc', ['-O2', '-Wall', '-o', out, CLIENT_SOURCE, ...flags, '-lpthread'], { stdio: 'pipe' });
  built = out;
  return out;
}

/** An interactive pcsc-calls process: send a line, await its result line. */
export class CallsClient {
  private readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private readonly lines: string[] = [];
  private waiter: ((l: string) => void) | null = null;
  stderr = '';

  constructor(env: NodeJS.ProcessEnv) {
    this.proc = spawn(buildCallsClient(), [], { env });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w(line);
        } else this.lines.push(line);
      }
    });
    this.proc.stderr.on('data', (d) => (this.stderr += String(d)));
  }

  /** Sends one command; resolves with its result line. */
  call(cmd: string, timeoutMs = 15000): Promise<string> {
    this.proc.stdin.write(cmd + '\n');
    return this.next(timeoutMs, cmd);
  }

  /** Sends a command whose result comes later (gsc-bg...). */
  send(cmd: string): void {
    this.proc.stdin.write(cmd + '\n');
  }

  next(timeoutMs = 15000, what = 'result'): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`pcsc-calls: no answer to '${what}' within ${timeoutMs} ms (stderr: ${this.stderr})`));
      }, timeoutMs);
      this.waiter = (line) => {
        clearTimeout(t);
        resolve(line);
      };
    });
  }

  /** Runs a whole script, one result line per command. */
  async script(lines: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const l of lines) out.push(`${l} => ${await this.call(l)}`);
    return out;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return resolve();
      this.proc.once('close', () => resolve());
      this.proc.kill(signal);
    });
  }

  async end(): Promise<void> {
    this.proc.stdin.end();
    await new Promise((r) => this.proc.once('close', r));
  }
}

/** A long-running tool (pcsc_scan) whose output is watched for patterns. */
export class Watched {
  readonly proc: ChildProcessWithoutNullStreams;
  out = '';
  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
    this.proc = spawn(cmd, args, { env });
    this.proc.stdout.on('data', (d) => (this.out += String(d)));
    this.proc.stderr.on('data', (d) => (this.out += String(d)));
  }
  /** Resolves when the output, from `from` on, matches; returns the index after the match. */
  waitFor(re: RegExp, from = 0, timeoutMs = 15000): Promise<number> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(this.out.slice(from));
        if (m) {
          resolve(from + m.index + m[0].length);
          return true;
        }
        return false;
      };
      if (check()) return;
      const onData = () => {
        if (check()) {
          clearTimeout(t);
          this.proc.stdout.off('data', onData);
        }
      };
      const t = setTimeout(() => {
        this.proc.stdout.off('data', onData);
        reject(new Error(`timed out waiting for ${re} in:\n${this.out.slice(from)}`));
      }, timeoutMs);
      this.proc.stdout.on('data', onData);
    });
  }
  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return resolve();
      this.proc.once('close', () => resolve());
      this.proc.kill('SIGTERM');
    });
  }
}
