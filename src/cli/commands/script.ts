/**
 * `scardctl script`: a file of APDUs run on one card, as a technician runs
 * pcsc-tools' scriptor, with expected status words that stop the run when the
 * card answers otherwise. The whole script is checked before the card is
 * touched; one session (one PC/SC transaction) holds the card from the first
 * line to the last, and the card is reset at the end.
 */
import { readFile } from 'node:fs/promises';
import { parseApdu } from '../../iso7816/apdu.js';
import { parseHex, toHex } from '../../iso7816/hex.js';
import type { Exchange } from '../../gateway/apdu.js';
import type { SessionExchanged, SessionOpened } from '../../gateway/types.js';
import { UsageError, expectArgs, type Command, type CommandIo } from './command.js';

export type ScriptStep = { line: number; kind: 'apdu'; apdu: string; expect?: RegExp; expectText?: string } | { line: number; kind: 'reset' };

/** At most this many lines (a script is for a technician's checks, not a bulk load). */
const MAX_STEPS = 10_000;

/**
 * Parse a script: one step per line; `#` starts a comment; `reset` resets the
 * card; otherwise a hex APDU (spaces allowed), optionally followed by `=` and
 * the status word expected (four hex digits, X for any digit: `= 61XX`).
 */
export function parseScript(text: string): ScriptStep[] {
  const steps: ScriptStep[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const body = raw.replace(/#.*$/, '').trim();
    if (!body) continue;
    if (steps.length >= MAX_STEPS) throw new UsageError(`script: more than ${MAX_STEPS} steps (line ${line})`);
    if (/^reset$/i.test(body)) {
      steps.push({ line, kind: 'reset' });
      continue;
    }
    const [hex, want, extra] = body.split('=');
    if (extra !== undefined) throw new UsageError(`script: line ${line}: more than one "=" (write: <hex APDU> = <status word>)`);
    let apdu: Buffer;
    try {
      apdu = parseHex(hex);
      parseApdu(apdu);
    } catch (err) {
      throw new UsageError(`script: line ${line}: ${(err as Error).message}`);
    }
    const step: ScriptStep = { line, kind: 'apdu', apdu: toHex(apdu, '') };
    if (want !== undefined) {
      const sw = want.replace(/\s+/g, '').toUpperCase();
      if (!/^[0-9A-FX]{4}$/.test(sw)) throw new UsageError(`script: line ${line}: expected status word ${JSON.stringify(want.trim())} is not four hex digits (X for any digit, e.g. 9000 or 61XX)`);
      step.expect = new RegExp(`^${sw.replace(/X/g, '[0-9A-F]')}$`);
      step.expectText = sw;
    }
    steps.push(step);
  }
  if (!steps.some((s) => s.kind === 'apdu')) throw new UsageError('script: no APDU in the script');
  return steps;
}

async function readScript(io: CommandIo, file: string): Promise<string> {
  if (file !== '-') {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`script: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of io.stdin ?? process.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

interface StepResult {
  line: number;
  reset?: { atr: string };
  exchange?: Exchange;
  expected?: string;
  met?: boolean;
}

export const script: Command = {
  name: 'script',
  usage: '<reader> <FILE | ->',
  summary: 'run APDUs from a file (- for stdin) on the card in one transaction; "= 9000" after an APDU stops the run when the card answers otherwise (README, scardctl)',
  async run(io) {
    expectArgs(this, io.args, 2);
    const [reader, file] = io.args;
    const steps = parseScript(await readScript(io, file));
    const client = await io.client();
    let s = await client.request<SessionOpened>('session/open', { reader });
    const results: StepResult[] = [];
    let failed: StepResult | undefined;
    if (!io.json) io.out(`${s.reader} (${s.protocol ?? '-'}), ATR ${s.atr}`);
    try {
      for (const step of steps) {
        if (step.kind === 'reset') {
          await client.request('session/close', { session: s.session, disposition: 'reset' });
          s = await client.request<SessionOpened>('session/open', { reader: s.reader });
          results.push({ line: step.line, reset: { atr: s.atr } });
          if (!io.json) io.out(`-- reset, ATR ${s.atr}`);
          continue;
        }
        const r = await client.request<SessionExchanged>('session/transmit', { session: s.session, apdus: [step.apdu] });
        const x = r.responses[0];
        const res: StepResult = { line: step.line, exchange: x };
        if (step.expect) {
          res.expected = step.expectText;
          res.met = step.expect.test(x.sw);
        }
        results.push(res);
        if (!io.json) {
          // The daemon's answer is redacted like its logs: a PIN in a script does not reach the scrollback.
          io.out(`> ${x.apdu}`);
          io.out(`< ${x.response}${x.sw ? `  (${x.sw} ${x.swText})` : ''}`);
        }
        if (res.met === false || !x.sw) {
          failed = res;
          break;
        }
      }
    } finally {
      await client.request('session/close', { session: s.session }).catch(() => undefined);
    }
    if (io.json) io.out(JSON.stringify({ reader: s.reader, steps: results, ok: !failed }, null, 2));
    if (failed) {
      const got = failed.exchange?.sw ? `${failed.exchange.sw} (${failed.exchange.swText})` : 'no status word';
      io.err(`scardctl: script line ${failed.line}: expected ${failed.expected ?? 'a status word'}, the card answered ${got}; stopped there`);
      return 1;
    }
    return 0;
  },
};
