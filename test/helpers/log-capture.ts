/** Collects a logger's JSON lines in memory so tests can read and wait for them. */
import { Writable } from 'node:stream';

export interface LogLine {
  level: string;
  msg?: string;
  module?: string;
  [k: string]: unknown;
}

export class LogCapture {
  readonly lines: LogLine[] = [];
  /** Raw text exactly as written (for "never appears in the output" checks). */
  raw = '';
  private waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  private pending = '';

  readonly stream = new Writable({
    write: (chunk: Buffer | string, _enc, cb) => {
      this.push(chunk.toString());
      cb();
    },
  });

  push(text: string): void {
    this.raw += text;
    this.pending += text;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const s = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (!s.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(s) as LogLine;
      } catch {
        line = { level: 'text', msg: s };
      }
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.pred(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  }

  find(pred: (l: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(pred);
  }

  /** Resolves with the first line (already seen or to come) matching pred; rejects after timeoutMs. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs = 10000, what = 'log line'): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (l: LogLine) => (clearTimeout(timer), resolve(l)) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}
