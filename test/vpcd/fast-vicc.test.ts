/** emulators/vicc/fast-vicc: the benchmark's card, checked against our vpcd driver, in process and as a CLI. */
import t from 'tap';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import pino from 'pino';
import { createVpcdDriver } from '../../drivers/vpcd/index.js';
import { FastVicc, spawnFastVicc } from '../../emulators/vicc/fast-vicc.js';
import { DEFAULT_T1_ATR } from '../../drivers/sim/cards/index.js';
import { PROTOCOL } from '../../src/pcsc/constants.js';
import { freePorts } from './ports.js';

const log = pino({ level: 'silent' });
const h = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

t.test('fast-vicc hosts a sim card behind the vpcd driver', async (t) => {
  const port = await freePorts(1);
  const d = createVpcdDriver({ enabled: true, host: '127.0.0.1', port, slots: 1, responseTimeoutMs: 2000 }, { log });
  await d.start();
  t.teardown(() => d.stop());
  const slot = d.reader.slots[0];
  const present = once(slot, 'presence');
  const card = await FastVicc.connect({ port });
  await present;
  t.same(await slot.powerUp(), DEFAULT_T1_ATR);
  t.equal(card.stats.powerOn, 1);
  t.same(await slot.transmit(h('00A4040C0AF0736361726467617465'), PROTOCOL.T1), h('9000'));
  t.same(await slot.transmit(h('00B0810005'), PROTOCOL.T1), h('48656C6C6F9000'), 'the demo file system answers');
  for (let i = 0; i < 1000; i++) await slot.transmit(h('00B0810001'), PROTOCOL.T1);
  t.equal(card.stats.apdus, 1002);
  const gone = once(slot, 'presence');
  await card.close();
  t.same(await gone, [false]);
  t.throws(() => FastVicc.makeCard('mifare-classic-1k'), /not an APDU-level card/);
  t.throws(() => FastVicc.makeCard({ type: 'iso7816', pins: 3 }), /pins must be an array/);
  await t.rejects(FastVicc.connect({ port: 1 }), /cannot connect to vpcd at 127\.0\.0\.1:1/);
});

t.test('fast-vicc CLI: connects, serves, reconnects; bad arguments exit 2 with a message', async (t) => {
  const port = await freePorts(1);
  const d = createVpcdDriver({ enabled: true, host: '127.0.0.1', port, slots: 1, responseTimeoutMs: 2000 }, { log });
  await d.start();
  t.teardown(() => d.stop());
  const slot = d.reader.slots[0];
  const present = once(slot, 'presence');
  const cli = spawnFastVicc({ port, card: { type: 'iso14443-4' }, reconnect: true });
  t.teardown(() => cli.stop());
  await cli.connected;
  await present;
  t.same(await slot.powerUp(), Buffer.from([0x3b, 0x81, 0x80, 0x01, 0x80, 0x80]), 'ATR of the ISO 14443-4 card');
  t.equal((await slot.transmit(h('0084000004'), PROTOCOL.T1)).length, 6, 'GET CHALLENGE: 4 bytes + SW');
  // --reconnect: the card comes back after vpcd drops it (here: the driver restarts).
  const gone = once(slot, 'presence');
  await d.stop();
  t.same(await gone, [false]);
  const back = once(slot, 'presence');
  await d.start();
  t.same(await back, [true, { contactless: false, type: 'vicc' }], 'reconnected');
  await cli.stop();

  const bad = spawn(process.execPath, ['--import', 'tsx', 'emulators/vicc/fast-vicc.ts', '--card', 'nope'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  bad.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const [code] = await once(bad, 'exit');
  t.equal(code, 2);
  t.match(err, /type must be one of/);
});
