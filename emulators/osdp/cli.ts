/**
 * OSDP device emulator from the command line, for people and benchmarks.
 *
 *   npx tsx emulators/osdp/cli.ts pd --port <tty> [--baud 9600] [--address 1] [--scbk HEX32] [--install]
 *        [--enforce] [--bad-crc P] [--drop P] [--wrong-mac P] [--slow MS] [--trace]
 *     stdin: tap <uid-hex> [wiegand26|wiegand34|wiegand37|wiegand40|uid] | keys <digits>
 *            | tamper on|off | power on|off | status | quit
 *
 *   npx tsx emulators/osdp/cli.ts cp --port <tty> [--baud 9600] [--address 1] [--scbk HEX32] [--install-key]
 *        [--plain] [--poll MS] [--trace]
 *     prints one JSON line per event (online, offline, card, status, keyset);
 *     stdin: led green|red|off | buz <ms> | comset <address> <baud> | status | quit
 *
 * Two ends of a pseudo-terminal pair make a line:
 *   socat -d -d pty,raw,echo=0,link=/tmp/osdp-a pty,raw,echo=0,link=/tmp/osdp-b
 */
import { createInterface } from 'node:readline';
import pino from 'pino';
import { openSerialLink } from '../../src/osdp/link.js';
import { CMD } from '../../src/osdp/codes.js';
import { decodeCredential, CARD_FORMATS, type CardFormat } from '../../src/osdp/formats.js';
import { encodeBuz, encodeCom, encodeLed } from '../../src/osdp/records.js';
import { EmulatedPd } from './pd.js';
import { EmulatedCp } from './cp.js';

function args(argv: string[]): { role: string; opt: Map<string, string | true> } {
  const [role, ...rest] = argv;
  const opt = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const k = rest[i];
    if (!k.startsWith('--')) throw new Error(`unexpected argument ${k}`);
    const v = rest[i + 1];
    if (v === undefined || v.startsWith('--')) opt.set(k.slice(2), true);
    else {
      opt.set(k.slice(2), v);
      i++;
    }
  }
  return { role, opt };
}

const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);

async function main(): Promise<void> {
  const { role, opt } = args(process.argv.slice(2));
  const str = (k: string): string | undefined => (typeof opt.get(k) === 'string' ? (opt.get(k) as string) : undefined);
  const num = (k: string, d: number): number => (str(k) !== undefined ? Number(str(k)) : d);
  const port = str('port');
  if ((role !== 'pd' && role !== 'cp') || !port) {
    process.stderr.write('usage: cli.ts pd|cp --port <tty> [options]  (see the comment at the top of emulators/osdp/cli.ts)\n');
    process.exit(2);
  }
  const scbk = str('scbk') ? Buffer.from(str('scbk')!, 'hex') : undefined;
  if (scbk && scbk.length !== 16) throw new Error('--scbk needs 32 hex digits');
  const log = pino({ level: opt.has('trace') ? 'info' : 'warn' }, pino.destination(2));
  const link = await openSerialLink(port, num('baud', 9600));
  const rl = createInterface({ input: process.stdin });
  if (role === 'pd') {
    const pd = new EmulatedPd(link, {
      address: num('address', 1),
      scbk,
      installMode: opt.has('install') || !scbk,
      enforceSecure: opt.has('enforce'),
      faults: { badCrc: num('bad-crc', 0), drop: num('drop', 0), wrongMac: num('wrong-mac', 0), slowMs: num('slow', 0) || undefined },
    });
    pd.engine.o.log = log;
    pd.engine.o.trace = { enabled: opt.has('trace'), cardData: true };
    say({ event: 'ready', role, port, address: pd.engine.address });
    for await (const line of rl) {
      const [cmd, a, b] = line.trim().split(/\s+/);
      try {
        if (cmd === 'tap') {
          const format = (b ?? 'wiegand26') as CardFormat;
          if (!CARD_FORMATS.includes(format)) throw new Error(`format must be one of ${CARD_FORMATS.join(', ')}`);
          pd.tap(Buffer.from(a ?? '', 'hex'), format);
          say({ ok: 'tap', uid: a, format });
        } else if (cmd === 'keys') {
          pd.keys(a ?? '');
          say({ ok: 'keys' });
        } else if (cmd === 'tamper' || cmd === 'power') {
          pd.setStatus({ [cmd]: a === 'on' });
          say({ ok: cmd, on: a === 'on' });
        } else if (cmd === 'status') {
          say({ address: pd.engine.address, secure: pd.engine.secureActive, installMode: pd.engine.installMode, led: pd.led.at(-1), buzzer: pd.buzzer.at(-1), ...pd.engine.counters, injected: pd.injected });
        } else if (cmd === 'quit') break;
        else if (cmd) throw new Error(`unknown command ${cmd}`);
      } catch (e) {
        say({ error: (e as Error).message });
      }
    }
  } else {
    const address = num('address', 1);
    const cp = new EmulatedCp(link, {
      pds: [{ address, secure: !opt.has('plain'), scbk, installKey: opt.has('install-key') }],
      pollIntervalMs: num('poll', 50),
      offlineAfterMs: 8000,
      reconnectMs: 1000,
      log,
      trace: opt.has('trace'),
    });
    cp.bus.on('online', (a, info) => say({ event: 'online', address: a, secure: info.secure, vendorCode: info.identity.vendorCode.toString(16), serial: info.identity.serial }));
    cp.bus.on('offline', (a, why) => say({ event: 'offline', address: a, why }));
    cp.bus.on('card', (a, c) => say({ event: 'card', address: a, ...decodeCredential(c.bitCount, c.data) }));
    cp.bus.on('keypad', (a, k) => say({ event: 'keypad', address: a, keys: k.keys }));
    cp.bus.on('status', (a, s) => say({ event: 'status', address: a, ...s }));
    cp.bus.on('keyset', (a) => say({ event: 'keyset', address: a }));
    cp.start();
    say({ event: 'ready', role, port, address });
    for await (const line of rl) {
      const [cmd, a, b] = line.trim().split(/\s+/);
      try {
        if (cmd === 'led') {
          const color = a === 'red' ? 1 : a === 'off' ? 0 : 2;
          await cp.bus.command(address, CMD.LED, encodeLed([{ reader: 0, led: 0, temporary: { control: 0, onTime: 0, offTime: 0, onColor: 0, offColor: 0, timer: 0 }, permanent: { control: 1, onTime: 1, offTime: 0, onColor: color, offColor: 0 } }]));
          say({ ok: 'led', color: a });
        } else if (cmd === 'buz') {
          await cp.bus.command(address, CMD.BUZ, encodeBuz({ reader: 0, tone: 2, onTime: Math.max(1, Math.ceil(Number(a ?? 100) / 100)), offTime: 1, count: 1 }));
          say({ ok: 'buz' });
        } else if (cmd === 'comset') {
          const r = await cp.bus.command(address, CMD.COMSET, encodeCom({ address: Number(a), baudRate: Number(b) }));
          say({ ok: 'comset', reply: r.data.toString('hex'), note: 'restart the CP with the new --address/--baud' });
        } else if (cmd === 'status') say({ ...cp.bus.diagnostics() });
        else if (cmd === 'quit') break;
        else if (cmd) throw new Error(`unknown command ${cmd}`);
      } catch (e) {
        say({ error: (e as Error).message });
      }
    }
    await cp.stop();
  }
  await link.close();
  process.exit(0);
}

main().catch((e: Error) => {
  process.stderr.write(`osdp emulator: ${e.message}\n`);
  process.exit(1);
});
