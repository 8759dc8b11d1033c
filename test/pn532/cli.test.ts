/**
 * The emulator as a person runs it: `cli.ts --link PATH` in its own process,
 * cards tapped by typing on its stdin, the driver pointed at the path.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CardInfo } from '../../src/driver/contract.js';
import { createPn532Driver } from '../../drivers/pn532/index.js';
import { hex, log, waitFor } from './helpers.js';

t.test('cli: ready line, tap/remove/fault/status by stdin, errors named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pn532-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const link = join(dir, 'pn532');
  const proc = spawn(process.execPath, ['--import', 'tsx', 'emulators/pn532/cli.ts', '--link', link, '--no-pace'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => (waiters.length ? waiters.shift()!(l) : lines.push(l)));
  const next = (): Promise<string> =>
    lines.length
      ? Promise.resolve(lines.shift()!)
      : new Promise((r, j) => {
          const timer = setTimeout(() => j(new Error('no line from the emulator within 15 s')), 15000);
          waiters.push((l) => {
            clearTimeout(timer);
            r(l);
          });
        });
  const say = async (c: string): Promise<string> => {
    proc.stdin!.write(`${c}\n`);
    return next();
  };
  t.teardown(
    () =>
      new Promise<void>((r) => {
        if (proc.exitCode !== null) return r();
        proc.once('exit', () => r());
        proc.stdin!.end('quit\n');
      }),
  );
  t.match(await next(), new RegExp(`^ready ${link} baud=115200 pace=false`));

  const driver = createPn532Driver({ readers: [{ transport: { type: 'hsu', path: link, baudRate: 115200 } }] } as never, { log });
  t.teardown(() => driver.stop());
  await driver.start();
  const slot = driver.readers()[0].slots[0];
  const present = waitFor<[boolean, CardInfo]>(slot, 'presence');
  t.match(await say('tap mifare-classic-1k 04A1B2C3'), /^ok tap mifare-classic-1k at=\d+/);
  const [, info] = await present;
  t.same(info.uid, hex('04A1B2C3'));
  t.match(await say('fault corrupt'), /^ok fault corrupt/);
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('04A1B2C3 9000'));
  t.match(await say('status'), /^ok status \{"card":"mifare-classic-1k",/);
  const gone = waitFor<[boolean]>(slot, 'presence');
  t.match(await say('remove'), /^ok remove/);
  t.same(await gone, [false]);
  t.match(await say('tap floppy-disk'), /^error .*card spec: type must be one of .*mifare-classic-1k/, 'bad card type named');
  t.match(await say('fault meteor'), /^error unknown fault meteor/);
  t.match(await say('jump'), /^error unknown command jump/);
  const again = waitFor<[boolean, CardInfo]>(slot, 'presence');
  t.match(await say('tap-json {"type":"iso14443-4","uid":"04112233445566"}'), /^ok tap/);
  t.match((await again)[1], { type: 'iso14443-4' });
});

t.test('cli: bad arguments are refused with a message', async (t) => {
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'emulators/pn532/cli.ts', '--baud', 'fast'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => resolve({ code, err }));
  });
  t.equal(r.code, 2);
  t.match(r.err, /--link <path> is required|--baud must be/);
});
