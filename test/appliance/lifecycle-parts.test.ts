/**
 * The lifecycle's parts in process: NOTIFY_SOCKET parsing and message
 * framing (with a fuzz loop), the watchdog's settings and its stall rule, the
 * in-process datagram reaching a socket, and the bounded stop with a part that
 * never finishes (the core still stops and the sim cards end unpowered).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimDriver } from '../../drivers/sim/index.js';
import { createNotifier, formatNotification, parseNotifySocket } from '../../src/daemon/sd-notify.js';
import { stopGateway } from '../../src/daemon/shutdown.js';
import type { Service } from '../../src/daemon/service.js';
import { startWatchdog, watchdogSettings } from '../../src/daemon/watchdog.js';
import { createLogger } from '../../src/log/index.js';
import { LogCapture, startTestGateway } from '../helpers/gateway.js';
import { NotifyListener } from './notify-listener.js';
import { waitFor } from '../helpers/wait-for.js';

t.test('NOTIFY_SOCKET: absolute path or @abstract name, anything else named as the problem', async (t) => {
  t.same(parseNotifySocket('/run/systemd/notify'), { kind: 'path', path: '/run/systemd/notify' });
  t.same(parseNotifySocket('@org/systemd/notify'), { kind: 'abstract', name: 'org/systemd/notify' });
  t.throws(() => parseNotifySocket('run/notify'), /must be an absolute path or an @abstract name, got "run\/notify"/);
  t.throws(() => parseNotifySocket('@'), /names no abstract socket/);
  t.throws(() => parseNotifySocket(`/${'x'.repeat(107)}`), /longer than 107 bytes/);
  t.throws(() => parseNotifySocket(`@${'x'.repeat(108)}`), /longer than 107 bytes/);
  const off = createNotifier({});
  t.equal(off.enabled, false, 'no NOTIFY_SOCKET: disabled');
  await off.notify({ READY: '1' });
  const abstract = createNotifier({ NOTIFY_SOCKET: '@scardgate-none' }, { loadAddon: () => undefined });
  t.equal(abstract.transport, 'systemd-notify', 'an abstract name without the compiled addon: the helper');
  t.match(abstract.fallbackReason, /sd_notify addon is not built.*NotifyAccess=all/);
  const bad = createNotifier({ NOTIFY_SOCKET: 'notify' });
  t.equal(bad.enabled, false);
  await t.rejects(bad.notify({ READY: '1' }), /absolute path/);
});

t.test('one datagram of KEY=value lines; a value cannot smuggle in another assignment', async (t) => {
  t.equal(formatNotification({ READY: '1', STATUS: '2 readers' }).toString(), 'READY=1\nSTATUS=2 readers');
  t.equal(formatNotification({ STATUS: 'a\nREADY=1\r\nb' }).toString(), 'STATUS=a READY=1 b');
  t.throws(() => formatNotification({ 'ready': '1' }), /not an upper-case identifier/);
  t.throws(() => formatNotification({ 'A=B': '1' }), /not an upper-case identifier/);
  // Seeded fuzz: whatever the values hold, the datagram has exactly one line per field, each KEY=.
  let seed = 0x5eed;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let i = 0; i < 2000; i++) {
    const fields: Record<string, string> = {};
    const count = 1 + rnd(4);
    for (let f = 0; f < count; f++) {
      fields[`K${f}`] = Array.from({ length: rnd(40) }, () => String.fromCharCode(rnd(3) === 0 ? [10, 13, 61][rnd(3)] : 32 + rnd(95))).join('');
    }
    const lines = formatNotification(fields).toString().split('\n');
    if (lines.length !== count || !lines.every((l, j) => l.startsWith(`K${j}=`))) {
      t.fail(`fuzz case ${i}: ${JSON.stringify(fields)} -> ${JSON.stringify(lines)}`);
      return;
    }
  }
  t.pass('2000 random field sets framed one line per field');
});

t.test('the in-process datagram reaches the socket from our own pid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-sdn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const listener = await NotifyListener.start(join(dir, 'n.sock'));
  t.teardown(() => listener.close());
  // The compiled addon (make build) sends from this process.
  const n = createNotifier({ NOTIFY_SOCKET: join(dir, 'n.sock') });
  t.equal(n.transport, 'addon', `in-process transport (${n.transport}); run make build to compile the addon`);
  await n.notify({ STATUS: 'hello', WATCHDOG: '1' });
  const got = await listener.waitFor((x) => x.fields.STATUS === 'hello', 'the datagram');
  t.equal(got.pid, process.pid, 'SCM_CREDENTIALS name this process');
  t.equal(got.raw, 'STATUS=hello\nWATCHDOG=1');
  const gone = createNotifier({ NOTIFY_SOCKET: join(dir, 'nobody.sock') });
  await t.rejects(gone.notify({ READY: '1' }), /sd_notify to .*nobody\.sock/, 'a socket nobody listens on is reported, not thrown');

  const helper = createNotifier({ NOTIFY_SOCKET: join(dir, 'n.sock') }, { loadAddon: () => undefined });
  t.equal(helper.transport, 'systemd-notify', 'without the addon: the systemd-notify helper');
  t.match(helper.fallbackReason, /addon is not built.*NotifyAccess=all/);
  await helper.notify({ STATUS: 'via systemd-notify' });
  t.ok(await listener.waitFor((x) => x.fields.STATUS === 'via systemd-notify', 'the helper\'s datagram'), 'systemd-notify delivered it');
});

t.test('watchdog settings: half of WATCHDOG_USEC, only for our pid', async (t) => {
  t.same(watchdogSettings({ WATCHDOG_USEC: '30000000' }, 42), { pingEveryMs: 15000, lagBoundMs: 7500 });
  t.same(watchdogSettings({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), { pingEveryMs: 15000, lagBoundMs: 7500 });
  t.equal(watchdogSettings({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, 42), undefined, 'another process\'s watchdog');
  t.equal(watchdogSettings({}, 42), undefined);
  for (const bad of ['', '0', '-5', '1e6', 'abc', '99999999999999999999']) t.equal(watchdogSettings({ WATCHDOG_USEC: bad }, 42), undefined, `WATCHDOG_USEC=${JSON.stringify(bad)}`);
});

t.test('a stalled event loop gets its ping withheld, a healthy one pings again', async (t) => {
  const logs = new LogCapture();
  const log = createLogger({ level: 'debug', destination: logs.stream });
  const pings: number[] = [];
  const wd = startWatchdog({ pingEveryMs: 300, lagBoundMs: 200, log, ping: () => pings.push(performance.now()) });
  t.teardown(() => wd.stop());
  const waitPings = async (n: number): Promise<void> => {
    await waitFor(() => pings.length >= n, `${n} watchdog pings`, 10000);
  };
  await waitPings(1);
  const before = wd.stats().withheld;
  // Block the loop well past the bound, like a synchronous hang would.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 900);
  const sent = pings.length;
  const withheld = await logs.waitFor((l) => l.msg === 'event loop stalled; watchdog ping withheld' && (l.lagMs as number) >= 600, 5000);
  t.ok(withheld, `the ping after the stall was withheld (lag ${withheld.lagMs} ms, bound 200 ms)`);
  t.ok(wd.stats().withheld > before, 'counted as withheld');
  t.equal(pings.length, sent, 'no ping went out for the stalled period');
  await waitPings(sent + 2);
  t.pass('pings resume once the loop is healthy');
});

t.test('bounded stop: a service that never stops is named, the core still stops, cards end unpowered', async (t) => {
  const gw = await startTestGateway({ services: ['control'] });
  t.teardown(() => gw.stop());
  const sim = gw.gateway.drivers.find((d) => d.name === 'sim') as unknown as SimDriver;
  const simReaders = sim.list();
  const target = gw.core.readers().find((r) => r.name.startsWith('Simulated Contact Reader A'))!;
  const ctx = gw.core.establishContext('test');
  const { handle, protocol } = await gw.core.connect(ctx, target.name, 2 /* SHARED */, 3 /* T0|T1 */);
  await gw.core.transmit(handle, protocol, Buffer.from('00A4000C023F00', 'hex'));
  const powered = simReaders.filter((r) => r.slot.diagnostics().powered).map((r) => r.friendlyName);
  t.ok(powered.includes('Simulated Contact Reader A'), 'the card is powered before the stop');

  const hang: Service = { name: 'hang', start: async () => undefined, stop: () => new Promise(() => undefined) };
  gw.gateway.services.push(hang);
  const report = await stopGateway(gw.gateway, { log: gw.log, boundMs: 600, coreReserveMs: 300 });
  t.same(report.hung, ['service hang'], 'the hung part is reported');
  t.same(report.failed, []);
  t.ok(report.poweredCards.includes(target.name));
  const line = gw.logs.find((l) => l.part === 'service hang' && /did not stop within \d+ ms/.test(String(l.msg)));
  t.ok(line, 'the log line names what hung');
  t.equal(line?.level, 'error');
  t.ok(gw.logs.find((l) => l.msg === 'readers closed, cards unpowered'), 'the core stopped after the hung part');
  t.ok(simReaders.every((r) => r.slot.diagnostics().powered === false), 'every simulated card is unpowered');
  t.same(gw.gateway.services.map((s) => s.name), ['hang'], 'stopped services leave the list, the hung one stays for diagnostics');
  gw.gateway.services.length = 0;
});
