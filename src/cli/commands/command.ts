/** What a scardctl command is: a name, its usage, and a run function. The table is in ./index.ts. */
import type { ControlClient } from '../client.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CommandIo {
  args: string[];
  /** Print JSON results instead of text. */
  json: boolean;
  /** Connects on first use (commands that fail on their arguments never touch the socket). */
  client(): Promise<ControlClient>;
  out(text: string): void;
  err(text: string): void;
  /** Standard input: secrets typed by the user, a script read from `-` (process.stdin unless the caller gives another). */
  stdin?: NodeJS.ReadStream;
  /** Aborted on SIGINT/SIGTERM (for `watch`). */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  /** Argument synopsis, e.g. "<reader> <hex APDU>...". */
  usage: string;
  summary: string;
  /** Returns the exit code (0 ok, 1 failed). Throws UsageError for bad arguments (exit 2). */
  run(io: CommandIo): Promise<number>;
}

/** Refuse a wrong number of arguments, naming what is missing or extra. */
export function expectArgs(cmd: Pick<Command, 'name' | 'usage'>, args: string[], min: number, max = min): void {
  if (args.length < min) {
    const names = cmd.usage.match(/<[^>]+>(\.\.\.)?|\S+/g) ?? [];
    throw new UsageError(`${cmd.name}: missing ${names[args.length] ?? 'argument'} (usage: scardctl ${cmd.name} ${cmd.usage})`);
  }
  if (args.length > max) {
    throw new UsageError(`${cmd.name}: unexpected argument ${JSON.stringify(args[max])} (usage: scardctl ${`${cmd.name} ${cmd.usage}`.trim()})`);
  }
}
