/**
 * A PN532 module on a pseudo-terminal, for people and benchmarks:
 *
 *   npx tsx emulators/pn532/cli.ts --link /tmp/pn532 [--baud 115200] [--no-pace] [--trace] [--seed N] [--low-vbat sam-only|any]
 *
 * (--pty-fd 3: the pty's master is inherited as fd 3, see spawnOnPtyMaster in hsu.ts; the benchmark's rig)
 *
 * Point the gateway at the --link path (drivers.pn532.readers[].transport =
 * {type: hsu, path: /tmp/pn532}) and type commands on stdin:
 *
 *   tap <type> [uid-hex]   put a card in the field (iso14443-4, mifare-classic-1k,
 *                          mifare-classic-4k, mifare-ultralight, ntag213, ntag215, ntag216)
 *   tap-ha <tag-id>        an NTAG215 written by the Home Assistant app (URI record)
 *   tap-json <card spec>   any drivers/sim card spec, e.g. {"type":"iso14443-4","uid":"04A1B2C3"}
 *   remove                 take the card away
 *   fault <kind> [arg]     corrupt | corrupt-silent | drop | garbage [n] | late-ack <ms> | reset | silent | no-response | hang
 *   fault-rate <p>         probability that a frame carries a byte fault (0 = off)
 *   reset                  the module resets itself (back to LowVbat)
 *   status                 counters
 *   quit
 *
 * Each accepted command answers one line: "ok <what> at=<epoch ms>" or "error <why>".
 */
import { createInterface } from 'node:readline';
import { encodeNdefMessage } from '../../src/contactless/ndef.js';
import { Pn532Chip, type Fault } from './chip.js';
import { fieldCardOf } from './field.js';
import { HsuAttachment, startPtyPair } from './hsu.js';

interface Args {
  link: string;
  baud: number;
  pace: boolean;
  trace: boolean;
  seed: number;
  lowVbat: 'sam-only' | 'any';
  /** The master of a pty this process inherited (spawnOnPtyMaster), instead of a socat pair. */
  ptyFd?: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { link: '', baud: 115200, pace: true, trace: false, seed: 1, lowVbat: 'sam-only' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--link') a.link = v();
    else if (k === '--baud') a.baud = Number(v());
    else if (k === '--no-pace') a.pace = false;
    else if (k === '--trace') a.trace = true;
    else if (k === '--seed') a.seed = Number(v());
    else if (k === '--pty-fd') a.ptyFd = Number(v());
    else if (k === '--low-vbat') {
      const m = v();
      if (m !== 'sam-only' && m !== 'any') throw new Error(`--low-vbat takes sam-only or any, got ${m}`);
      a.lowVbat = m;
    }
    else if (k === '--help' || k === '-h') {
      process.stdout.write('usage: cli.ts --link <pty path> [--baud 115200] [--no-pace] [--trace] [--seed N] [--low-vbat sam-only|any]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  if (!a.link) throw new Error('--link <path> is required (the path the gateway opens)');
  if (!Number.isInteger(a.baud) || a.baud < 1200) throw new Error(`--baud must be an integer >= 1200, got ${a.baud}`);
  if (a.ptyFd !== undefined && !(Number.isInteger(a.ptyFd) && a.ptyFd >= 3)) throw new Error(`--pty-fd must be an inherited fd number >= 3, got ${a.ptyFd}`);
  return a;
}

const now = (): string => (performance.timeOrigin + performance.now()).toFixed(3);

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`pn532 emulator: ${(e as Error).message}\n`);
    process.exit(2);
  }
  // --pty-fd: started by spawnOnPtyMaster, which made the pty and the link; else socat makes both
  const pty = args.ptyFd === undefined ? await startPtyPair({ host: args.link, device: `${args.link}.emulator` }) : undefined;
  const chip = new Pn532Chip('hsu', { seed: args.seed, lowVbat: args.lowVbat });
  if (args.trace) chip.on('trace', (l) => process.stderr.write(`pn532: ${l}\n`));
  const hsu = new HsuAttachment(chip, pty?.device ?? args.link, { baudRate: args.baud, pace: args.pace, masterFd: args.ptyFd });
  await hsu.open();
  const out = (s: string): boolean => process.stdout.write(`${s}\n`);
  out(`ready ${args.link} baud=${args.baud} pace=${args.pace}`);

  const shutdown = async (): Promise<void> => {
    await hsu.close();
    await pty?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());

  const rl = createInterface({ input: process.stdin });
  rl.on('close', () => void shutdown());
  rl.on('line', (line) => {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    try {
      switch (cmd) {
        case '':
          return;
        case 'tap': {
          if (!rest[0]) throw new Error('tap <type> [uid-hex]');
          const spec: Record<string, unknown> = { type: rest[0] };
          if (rest[1]) spec.uid = rest[1];
          chip.tap(fieldCardOf(spec));
          return void out(`ok tap ${rest[0]} at=${now()}`);
        }
        case 'tap-ha': {
          if (!rest[0]) throw new Error('tap-ha <tag-id>');
          const ndef = encodeNdefMessage([{ uri: `https://www.home-assistant.io/tag/${rest[0]}` }]).toString('hex');
          chip.tap(fieldCardOf({ type: 'ntag215', ndef }));
          return void out(`ok tap-ha ${rest[0]} at=${now()}`);
        }
        case 'tap-json':
          chip.tap(fieldCardOf(JSON.parse(line.trim().slice('tap-json'.length))));
          return void out(`ok tap at=${now()}`);
        case 'remove':
          chip.remove();
          return void out(`ok remove at=${now()}`);
        case 'fault': {
          const kind = rest[0];
          const n = Number(rest[1]);
          let f: Fault;
          if (kind === 'garbage') f = { kind, bytes: Number.isFinite(n) ? n : 5 };
          else if (kind === 'late-ack') f = { kind, ms: Number.isFinite(n) ? n : 30 };
          else if (kind === 'corrupt' || kind === 'corrupt-silent' || kind === 'drop' || kind === 'reset' || kind === 'silent' || kind === 'no-response' || kind === 'hang') f = { kind };
          else throw new Error(`unknown fault ${kind}`);
          chip.inject(f);
          return void out(`ok fault ${kind}`);
        }
        case 'fault-rate': {
          const p = Number(rest[0]);
          if (!(p >= 0 && p <= 1)) throw new Error('fault-rate takes a probability 0..1');
          chip.faultRate = p;
          return void out(`ok fault-rate ${p}`);
        }
        case 'reset':
          chip.reset();
          return void out('ok reset');
        case 'status':
          return void out(`ok status ${JSON.stringify({ card: chip.cardInField?.sim.type ?? null, ...chip.counters })}`);
        case 'quit':
          return void shutdown();
        default:
          throw new Error(`unknown command ${cmd} (tap, tap-ha, tap-json, remove, fault, fault-rate, reset, status, quit)`);
      }
    } catch (e) {
      out(`error ${(e as Error).message}`);
    }
  });
}

void main();
