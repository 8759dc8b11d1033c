/**
 * The CCID emulator from the command line.
 *
 *   npx tsx emulators/ccid/cli.ts list
 *   npx tsx emulators/ccid/cli.ts describe acr1252u        # libccid parse-output layout
 *   npx tsx emulators/ccid/cli.ts config acr1252u iso14443-4@0 iso7816@1 [--level tpdu] [--no-interrupt]
 *   npx tsx emulators/ccid/cli.ts run acr1252u iso14443-4@0 iso7816@1 [-- scardgated args]
 *
 * `config` prints the drivers.ccid.emulate entry (JSON, valid YAML) for a
 * configuration file; `run` starts scardgated with that entry in
 * SCARDGATE_DRIVERS_CCID_EMULATE, so the daemon hosts the emulated reader
 * behind the same USB binding interface the real one uses (`make run-ccid`).
 * Cards are card models of drivers/sim (a name or a JSON spec), `@I` or
 * `@I:S` picks the interface and slot.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exchangeLevel } from '../../drivers/ccid/descriptor.js';
import { formatParseOutput } from './libccid-format.js';
import { PROFILES, profile } from './profiles.js';

const USAGE = 'usage: cli.ts list | describe PROFILE | config PROFILE [CARD[@I[:S]]...] [--level tpdu|short-apdu|extended-apdu] [--no-interrupt] | run PROFILE [CARD...] [-- scardgated args]';

function entry(args: string[]): Record<string, unknown> {
  const [key, ...rest] = args;
  profile(key ?? '');
  const out: Record<string, unknown> = { profile: key, cards: [] as unknown[] };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--level') out.level = rest[++i];
    else if (a === '--no-interrupt') out.interrupt = false;
    else if (a === '--serial') out.serialNumber = rest[++i];
    else {
      const m = /^(.*?)(?:@(\d+)(?::(\d+))?)?$/.exec(a)!;
      const card: unknown = m[1].startsWith('{') ? JSON.parse(m[1]) : m[1];
      (out.cards as unknown[]).push({ interface: Number(m[2] ?? 0), slot: Number(m[3] ?? 0), card });
    }
  }
  return out;
}

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case 'list':
    for (const p of Object.values(PROFILES)) {
      console.log(`${p.key.padEnd(14)} ${p.manufacturer} ${p.product}: ${p.interfaces.map((i) => `${exchangeLevel(i.descriptor)}${i.contactless ? ' (contactless)' : ''}, ${i.descriptor.maxSlotIndex + 1} slot(s)`).join(' + ')}`);
    }
    break;
  case 'describe':
    process.stdout.write(formatParseOutput(profile(args[0] ?? '')));
    break;
  case 'config':
    console.log(JSON.stringify({ drivers: { ccid: { emulate: [entry(args)] } } }, null, 2));
    break;
  case 'run': {
    const sep = args.indexOf('--');
    const mine = sep >= 0 ? args.slice(0, sep) : args;
    const daemonArgs = sep >= 0 ? args.slice(sep + 1) : [];
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'bin', 'scardgated.ts'), ...daemonArgs], {
      stdio: 'inherit',
      env: { ...process.env, SCARDGATE_DRIVERS_CCID_EMULATE: JSON.stringify([entry(mine)]) },
    });
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => child.kill(s));
    child.on('exit', (code) => process.exit(code ?? 1));
    break;
  }
  default:
    console.error(USAGE);
    process.exit(2);
}
