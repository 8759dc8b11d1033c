/**
 * Clock jumps on the real daemon: its wall clock is moved by libfaketime
 * (Debian's faketime package, LD_PRELOAD; the offset is re-read from a file,
 * so the test moves it while the daemon runs) and its monotonic clock is left
 * alone, as on a Raspberry Pi without a real-time clock that starts years
 * behind and jumps when NTP synchronises. Events carry `timeUnsynced` while the
 * clock is before the release floor, `seq` goes on through every jump, and a
 * session lease (monotonic) outlives jumps of years both ways.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer } from '../mqtt/client.js';
import { ControlClient } from '../../src/cli/client.js';
import { LIBFAKETIME } from '../helpers/faketime.js';

const DAY = 24 * 3600 * 1000;
const CONTACTLESS = 'Simulated Contactless Reader 02 00';

t.test('wall clock jumps of years, both ways: seq goes on, times say when unsynced, leases hold', async (t) => {
  if (!LIBFAKETIME) throw new Error('libfaketime is missing: apt-get install faketime (the Makefile DEB_PACKAGES has it)');
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-clock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const offsetFile = join(dir, 'offset');
  // A board that booted about seven years behind.
  writeFileSync(offsetFile, '-2555d\n');
  const broker = await startMosquitto();
  t.teardown(() => broker.close());
  const daemon = await startDaemon({
    services: ['control', 'mqtt'],
    config: { gatewayId: 'clock', mqtt: { url: broker.url }, events: { debounceMs: 0 } },
    env: { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    readyTimeoutMs: 60000,
  });
  t.teardown(() => daemon.stop());
  const events = await Observer.connect(broker.url, ['scardgate/clock/events']);
  t.teardown(() => events.close());
  const c = await ControlClient.connect(daemon.controlSocket);
  t.teardown(() => c.close());

  let n = 0;
  const tap = async (): Promise<{ seq: number; time: string; timeUnsynced?: boolean }> => {
    const uid = `04C10C${(++n).toString(16).padStart(2, '0').toUpperCase()}`;
    await c.request('simulate/remove', { reader: CONTACTLESS }).catch(() => undefined);
    await c.request('simulate/insert', { reader: CONTACTLESS, card: { type: 'mifare-classic-1k', uid } });
    const m = await events.waitFor((x) => x.json().type === 'card.inserted' && x.json().data?.uid === uid, 15000, `card.inserted of ${uid}`);
    return m.json();
  };
  const jump = (offset: string): void => writeFileSync(offsetFile, `${offset}\n`);

  const behind = await tap();
  const year = (e: { time: string }): number => new Date(e.time).getUTCFullYear();
  t.ok(year(behind) <= new Date().getUTCFullYear() - 6, `an event while the clock is years behind is stamped then (${behind.time})`);
  t.equal(behind.timeUnsynced, true, 'and says its time is not synchronised');

  // A session with a 30 s lease, opened while the clock is wrong.
  const opened = await c.request<{ session: string; expiresAt: string }>('session/open', { reader: 'Simulated Contact Reader A 00 00', leaseMs: 30000 });

  jump('+0d'); // NTP synchronises: seven years forward
  const synced = await tap();
  t.equal(year(synced), new Date().getUTCFullYear(), `after NTP the time is right (${synced.time})`);
  t.notOk(synced.timeUnsynced, 'and no longer flagged');
  t.ok(synced.seq > behind.seq, `seq goes on (${behind.seq} -> ${synced.seq})`);

  jump('+1095d'); // a bad time source: three years ahead
  const ahead = await tap();
  t.ok(ahead.seq > synced.seq, 'seq goes on after a jump forward');
  t.ok(new Date(ahead.time).getTime() > Date.now() + 1000 * DAY, 'the event says the (wrong) wall time, as the host does');
  const still = await c.request<{ responses: Array<{ sw: string }> }>('session/transmit', { session: opened.session, apdus: ['00A4040007A0000000031010'] });
  t.ok(still.responses.length === 1, 'the 30 s session lease survives seven, then three years of wall-clock jumps forward');

  jump('-1095d'); // and back three years before now
  const back = await tap();
  t.ok(back.seq > ahead.seq, 'seq goes on after a jump backwards');
  const again = await c.request<{ responses: Array<{ sw: string }> }>('session/transmit', { session: opened.session, apdus: ['00A4040007A0000000031010'] });
  t.ok(again.responses.length === 1, 'the session lease survives the jump backwards too');
  const seqs = events.messages.map((m) => m.json().seq as number);
  t.same(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'every event in seq order',
  );
  t.same(
    seqs.slice(1).map((s, i) => s - seqs[i]),
    seqs.slice(1).map(() => 1),
    'no seq missing',
  );
  await c.request('session/close', { session: opened.session });
});
