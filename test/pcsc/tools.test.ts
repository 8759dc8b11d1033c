/**
 * Unmodified Debian clients (opensc-tool, pcsc_scan) use scardgate's readers
 * through the pcsc socket, found with PCSCLITE_CSOCK_NAME.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startSimGateway } from './helpers/sim-gateway.js';
import { Watched, requireTool } from './helpers/clients.js';

const run = promisify(execFile);

t.test('opensc-tool -l, -a, -s', async (t) => {
  requireTool('/usr/bin/opensc-tool', 'opensc');
  const gw = await startSimGateway([{ name: 'Sim Contact', card: { type: 'iso7816' } }, { name: 'Sim Empty' }]);
  t.teardown(() => gw.stop());
  const opensc = async (...args: string[]) => (await run('opensc-tool', args, { env: gw.env, timeout: 20000 })).stdout;

  const list = await opensc('-l');
  t.match(list, /0\s+Yes\s+Sim Contact 00 00/);
  t.match(list, /1\s+No\s+Sim Empty 01 00/);

  const atr = gw.core.readers()[0].atr.toString('hex').match(/../g)!.join(':');
  t.equal((await opensc('-a')).trim(), atr);

  // SELECT of the sim card's demo application, then READ BINARY: status words arrive unchanged.
  const out = await opensc('-r', '0', '-s', '00A4040C00', '-s', '00C0000000');
  t.match(out, /Sending: 00 A4 04 0C 00/);
  t.match(out, /Received \(SW1=0x[0-9A-F]{2}, SW2=0x[0-9A-F]{2}\)/);
  t.equal(gw.server.diagnostics().protocolErrors, 0);
});

t.test('pcsc_scan sees readers, card insertion and removal, and a new reader', async (t) => {
  requireTool('/usr/bin/pcsc_scan', 'pcsc-tools');
  const gw = await startSimGateway([{ name: 'Sim Scan' }]);
  t.teardown(() => gw.stop());
  const scan = new Watched('pcsc_scan', ['-n'], gw.env);
  t.teardown(() => scan.stop());
  let at = await scan.waitFor(/Reader 0: Sim Scan 00 00/);
  at = await scan.waitFor(/Card state: Card removed/, at);
  gw.insert('Sim Scan');
  at = await scan.waitFor(/Card state: Card inserted/, at);
  const atr = gw.core.readers()[0].atr.toString('hex').toUpperCase().match(/../g)!.join(' ');
  at = await scan.waitFor(new RegExp(`ATR: ${atr}`), at);
  gw.remove('Sim Scan');
  at = await scan.waitFor(/Card state: Card removed/, at);
  await gw.waiters(1);
  await gw.addReader('Sim Late');
  await scan.waitFor(/Reader 1: Sim Late 01 00/, at);
});

t.test('pcsc_scan sees vicc cards come and go on the vpcd readers', async (t) => {
  requireTool('/usr/bin/pcsc_scan', 'pcsc-tools');
  const { startVpcdGateway } = await import('./helpers/vpcd-gateway.js');
  const { startVicc } = await import('../helpers/vicc.js');
  const { freePorts } = await import('../vpcd/ports.js');
  const port = await freePorts(2);
  const gw = await startVpcdGateway({ port });
  t.teardown(() => gw.stop());
  const scan = new Watched('pcsc_scan', ['-n'], gw.env);
  t.teardown(() => scan.stop());
  let at = await scan.waitFor(/Reader 1: Virtual PCD 00 01/);
  at = await scan.waitFor(/Card state: Card removed/, at);
  const card = startVicc({ port: port + 1 });
  t.teardown(() => card.stop());
  at = await scan.waitFor(/Reader 1: Virtual PCD 00 01\s+Event number: 1\s+Card state: Card inserted/, at);
  at = await scan.waitFor(/ATR: 3B 95 13 81 01 80 73 FF 01 00 0B/, at);
  await card.stop();
  await scan.waitFor(/Reader 1: Virtual PCD 00 01\s+Event number: 2\s+Card state: Card removed/, at);
});
