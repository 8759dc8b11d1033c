/**
 * scardctl: the command-line client of the control channel.
 * Exit codes: 0 ok, 1 the daemon answered with an error or cannot be reached, 2 bad arguments.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ControlClient, ConnectError, ControlError } from './client.js';
import { COMMANDS, UsageError, type CommandIo } from './commands/index.js';
import { ControlConfig } from '../config/sections.js';
import { packageVersion } from '../daemon/version.js';

/** Where the appliance's config lives; its control.socket is used when nothing else names a socket. */
export const SYSTEM_CONFIG = '/etc/scardgate/scardgate.yaml';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Default process.stdin. */
  stdin?: NodeJS.ReadStream;
}

/** Help text fits an 80-column terminal: the summary beside a short usage, under a long one, wrapped at word breaks. */
const HELP_COLUMNS = 80;
const SUMMARY_AT = 32;

function wrap(text: string, indent: number, restIndent = indent): string[] {
  const lines: string[] = [];
  let line = '';
  const at = (): number => (lines.length ? restIndent : indent);
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && at() + line.length + 1 + word.length > HELP_COLUMNS) {
      lines.push(' '.repeat(at()) + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(' '.repeat(at()) + line);
  return lines;
}

function commandHelp(c: { name: string; usage: string; summary: string }): string[] {
  const head = `  ${c.name}${c.usage ? ` ${c.usage}` : ''}`;
  const body = wrap(c.summary, SUMMARY_AT);
  return head.length + 2 <= SUMMARY_AT ? [head.padEnd(SUMMARY_AT) + body[0].trimStart(), ...body.slice(1)] : [...wrap(head.trim(), 2, 6), ...body];
}

export function usage(): string {
  return [
    'Usage: scardctl [--socket PATH] [--json] COMMAND [ARGS...]',
    '',
    'Commands:',
    ...COMMANDS.flatMap(commandHelp),
    '',
    'Options:',
    '  -s, --socket PATH  control socket of the daemon (default:',
    `                     $SCARDGATE_CONTROL_SOCKET, else control.socket of`,
    `                     ${SYSTEM_CONFIG},`,
    `                     else ${ControlConfig.properties.socket.default})`,
    '  -j, --json         print results as JSON',
    '  -V, --version      print the version',
    '  -h, --help         print this help',
    '',
    'A reader is named by its full name, its number in `scardctl readers`, or any',
    'part of its name that matches one reader.',
  ].join('\n');
}

/** The control socket: --socket, SCARDGATE_CONTROL_SOCKET, the system config's control.socket, the default. */
export function resolveSocket(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  if (explicit) return explicit;
  if (env.SCARDGATE_CONTROL_SOCKET) return env.SCARDGATE_CONTROL_SOCKET;
  if (existsSync(SYSTEM_CONFIG)) {
    try {
      const c = parse(readFileSync(SYSTEM_CONFIG, 'utf8')) as { control?: { socket?: unknown } } | null;
      if (typeof c?.control?.socket === 'string') return c.control.socket;
    } catch {
      // An unreadable system config is the daemon's problem to report; fall back to the default.
    }
  }
  return ControlConfig.properties.socket.default as string;
}

interface Parsed {
  socket?: string;
  json: boolean;
  help: boolean;
  version: boolean;
  command?: string;
  args: string[];
}

/** Global options come before the command; everything after the command is its own (so hex like "-1" is not an option). */
export function parseCliArgs(argv: string[]): Parsed {
  const p: Parsed = { json: false, help: false, version: false, args: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (a === '-h' || a === '--help') p.help = true;
    else if (a === '-V' || a === '--version') p.version = true;
    else if (a === '-j' || a === '--json') p.json = true;
    else if (a === '-s' || a === '--socket' || a.startsWith('--socket=')) {
      const v = a.startsWith('--socket=') ? a.slice('--socket='.length) : argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${a.split('=')[0]} needs a socket path`);
      p.socket = v;
    } else throw new UsageError(`unknown option ${JSON.stringify(a)}`);
  }
  p.command = argv[i];
  p.args = argv.slice(i + 1);
  return p;
}

export async function cliMain(argv: string[], io: CliIo): Promise<number> {
  const out = (s: string): void => void io.stdout.write(`${s}\n`);
  const err = (s: string): void => void io.stderr.write(`${s}\n`);
  let client: ControlClient | undefined;
  try {
    const p = parseCliArgs(argv);
    if (p.help || p.command === 'help') {
      out(usage());
      return 0;
    }
    if (p.version) {
      out(`scardctl ${packageVersion()}`);
      return 0;
    }
    if (!p.command) throw new UsageError('missing command');
    const cmd = COMMANDS.find((c) => c.name === p.command);
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(p.command)} (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
    const socket = resolveSocket(p.socket, io.env);
    const cio: CommandIo = {
      args: p.args,
      json: p.json,
      async client() {
        client ??= await ControlClient.connect(socket);
        return client;
      },
      out,
      err,
      stdin: io.stdin ?? process.stdin,
      signal: io.signal ?? new AbortController().signal,
    };
    return await cmd.run(cio);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`scardctl: ${e.message}`);
      err(`Try 'scardctl --help'.`);
      return 2;
    }
    if (e instanceof ControlError || e instanceof ConnectError) {
      err(`scardctl: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    client?.close();
  }
}
