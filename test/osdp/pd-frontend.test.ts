/**
 * The gateway as OSDP PD over a real serial line (socat pty pair, serialport
 * on both ends): an emulated access panel (CP) takes it through install mode,
 * KEYSET, a secure session, card taps on a simulated reader in 26/34/37-bit
 * formats, LED/BUZ to the reader's feedback, COMSET (persisted), and a panel
 * with the wrong key being refused.
 */
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openSerialLink, type ByteLink } from '../../src/osdp/link.js';
import { CMD, REPLY } from '../../src/osdp/codes.js';
import { encodeBuz, encodeCom, encodeLed } from '../../src/osdp/records.js';
import { decodeCredential } from '../../src/osdp/formats.js';
import type { SimDriver } from '../../drivers/sim/index.js';
import { EmulatedCp } from '../../emulators/osdp/cp.js';
import type { CpPdConfig } from '../../src/osdp/cp.js';
import { ptyPair, type PtyPair } from './pty.js';
import { KEY, OTHER_KEY, waitFor } from './helpers.js';

const UID = '04A1B2C3';

async function rig(t: { teardown(fn: () => unknown): void }, pds: Array<Record<string, unknown>>): Promise<{ gw: TestGateway; pty: PtyPair; link: ByteLink; sim: SimDriver }> {
  const pty = await ptyPair();
  const gw = await startTestGateway({
    logLevel: 'info',
    config: {
      drivers: { sim: { readers: [{ name: 'Door A' }, { name: 'Door B' }, { name: 'Door C' }] } },
      osdp: { enabled: true, path: pty.a, baudRate: 9600, pds },
    },
  });
  const { SERVICES } = await import('../../src/daemon/registry.js');
  if (!gw.gateway.services.some((s) => s.name === 'osdp')) {
    // the test gateway starts only named services
    const entry = SERVICES.find((e) => e.name === 'osdp')!;
    const svc = (await entry.load())(gw.gateway.context);
    await svc.start();
    gw.gateway.services.push(svc);
  }
  const link = await openSerialLink(pty.b, 9600);
  t.teardown(async () => {
    await link.close();
    await gw.stop();
    await pty.stop();
  });
  const sim = gw.gateway.drivers.find((d) => d.name === 'sim') as SimDriver;
  return { gw, pty, link, sim };
}

function panel(link: ByteLink, pds: CpPdConfig[]): EmulatedCp {
  return new EmulatedCp(link, { pds, pollIntervalMs: 20, offlineAfterMs: 2000, reconnectMs: 100 });
}

const readerName = (gw: TestGateway, prefix: string): string => gw.core.readers().find((r) => r.name.startsWith(prefix))!.name;

t.test('install mode, KEYSET, secure session, taps in 26/34/37 bits, LED/BUZ, COMSET', async (t) => {
  const { gw, link, sim } = await rig(t, [
    { address: 1, reader: 'Door A', format: 'wiegand26' },
    { address: 2, reader: 'Door B', format: 'wiegand34', scbk: KEY.toString('hex') },
    { address: 3, reader: 'Door C', format: 'wiegand37', scbk: KEY.toString('hex') },
  ]);
  const cp = panel(link, [
    { address: 1, secure: true, scbk: KEY, installKey: true },
    { address: 2, secure: true, scbk: KEY },
    { address: 3, secure: true, scbk: KEY },
  ]);
  const keysets: number[] = [];
  cp.bus.on('keyset', (a) => keysets.push(a));
  cp.start();
  t.teardown(() => cp.stop());
  await waitFor(() => [1, 2, 3].every((a) => cp.bus.isOnline(a)) && keysets.includes(1), 'three PDs online, PD 1 given its key with KEYSET', 20000);
  t.ok([1, 2, 3].every((a) => cp.bus.info(a)?.secure), 'all three in secure sessions');
  const stateFile = join(gw.config.state.dir, 'osdp-pd.json');
  await waitFor(() => {
    try {
      return JSON.parse(readFileSync(stateFile, 'utf8')).pds[0]?.scbk === KEY.toString('hex');
    } catch {
      return false;
    }
  }, 'the new key in the state file');
  t.equal(statSync(stateFile).mode & 0o777, 0o600, 'state file 0600');
  t.notOk(gw.logs.lines.some((l) => JSON.stringify(l).toLowerCase().includes(KEY.toString('hex'))), 'the key is in no log line');

  const expect: Record<number, { format: string; facility: number; card: number }> = {
    1: { format: 'H10301', facility: 0xb2, card: 0xa104 },
    2: { format: 'wiegand34', facility: 0xc3b2, card: 0xa104 },
    3: { format: 'H10304', facility: 6262, card: 172292 },
  };
  for (const [a, door] of [[1, 'Door A'], [2, 'Door B'], [3, 'Door C']] as const) {
    await gw.core.simulateInsert(readerName(gw, door), { type: 'mifare-classic-1k', uid: UID });
    await waitFor(() => cp.cards.some((c) => c.address === a), `osdp_RAW from PD ${a}`);
    const got = cp.cards.find((c) => c.address === a)!.card;
    t.match(decodeCredential(got.bitCount, got.data), { ...expect[a], parityOk: true }, `PD ${a}: ${expect[a].format}`);
    await gw.core.simulateRemove(readerName(gw, door));
  }

  const slotA = sim.list().find((r) => r.friendlyName === 'Door A')!.slot;
  const led = (onColor: number) => ({
    reader: 0,
    led: 0,
    temporary: { control: 0, onTime: 0, offTime: 0, onColor: 0, offColor: 0, timer: 0 },
    permanent: { control: 1, onTime: 1, offTime: 0, onColor, offColor: 0 },
  });
  t.match(await cp.bus.command(1, CMD.LED, encodeLed([led(2)])), { code: REPLY.ACK });
  await waitFor(() => slotA.feedbackHistory.at(-1)?.led === 'green', 'green LED at the reader');
  t.match(await cp.bus.command(1, CMD.LED, encodeLed([led(1)])), { code: REPLY.ACK });
  await waitFor(() => slotA.feedbackHistory.at(-1)?.led === 'red', 'red LED at the reader');
  t.match(await cp.bus.command(1, CMD.BUZ, encodeBuz({ reader: 0, tone: 2, onTime: 3, offTime: 1, count: 2 })), { code: REPLY.ACK });
  await waitFor(() => slotA.feedbackHistory.at(-1)?.buzzer?.ms === 300, 'buzzer at the reader');
  t.match(slotA.feedbackHistory.at(-1), { buzzer: { ms: 300, count: 2 } });

  const com = await cp.bus.command(3, CMD.COMSET, encodeCom({ address: 9, baudRate: 9600 }));
  t.same(com.data, encodeCom({ address: 9, baudRate: 9600 }), 'osdp_COM confirms');
  await waitFor(() => {
    try {
      return JSON.parse(readFileSync(stateFile, 'utf8')).pds[2]?.address === 9;
    } catch {
      return false;
    }
  }, 'new address persisted');
  const moved = panel(link, [{ address: 9, secure: true, scbk: KEY }]);
  await cp.stop();
  moved.start();
  t.teardown(() => moved.stop());
  await waitFor(() => moved.bus.isOnline(9), 'PD answers at its new address');
});

t.test('a panel with the wrong key is refused; ENFORCE_SECURE refuses SCBK-D', async (t) => {
  const { gw, link } = await rig(t, [
    { address: 1, reader: 'Door A', scbk: KEY.toString('hex'), enforceSecure: true },
    { address: 2, reader: 'Door B', enforceSecure: true },
  ]);
  const cp = panel(link, [
    { address: 1, secure: true, scbk: OTHER_KEY },
    { address: 2, secure: true, installKey: true },
  ]);
  cp.start();
  t.teardown(() => cp.stop());
  await waitFor(() => (cp.bus.diagnostics().pds as Array<{ reconnects: number }>).every((p) => p.reconnects >= 3), 'three attempts on each PD', 20000);
  t.notOk(cp.bus.isOnline(1), 'wrong key: not online');
  t.notOk(cp.bus.isOnline(2), 'SCBK-D refused');
  await gw.core.simulateInsert(readerName(gw, 'Door A'), { type: 'mifare-classic-1k', uid: UID });
  const before = (cp.bus.diagnostics().pds as Array<{ reconnects: number }>)[0].reconnects;
  await waitFor(() => (cp.bus.diagnostics().pds as Array<{ reconnects: number }>)[0].reconnects >= before + 2, 'two more attempts after the tap', 20000);
  t.equal(cp.cards.length, 0, 'no card data to a panel without the key');
});
