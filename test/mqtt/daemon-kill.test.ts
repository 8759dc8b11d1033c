/**
 * The gateway as a real daemon process, killed with SIGKILL during a broker
 * outage and started again on the same state directory: every event it had
 * recorded arrives once the broker is back, in order.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { ControlClient } from '../../src/cli/client.js';
import { startMosquitto } from './mosquitto.js';
import { Observer } from './client.js';
import { waitFor } from '../helpers/wait-for.js';

const ROOT = 'scardgate/test-gw';

async function outboxOf(d: Daemon): Promise<{ recordedSeq: number; lastSeq: number; depth: number }> {
  const c = await ControlClient.connect(d.controlSocket);
  try {
    const diag = (await c.request('diagnostics')) as Record<string, any>;
    const mq = diag.mqtt ?? diag.services?.mqtt;
    return mq.outbox;
  } finally {
    c.close();
  }
}

t.test('SIGKILL during an outage loses no recorded event', { timeout: 180000 }, async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const state = mkdtempSync(join(tmpdir(), 'scardgate-state-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  const config = {
    state: { dir: state },
    mqtt: { url: m.url, reconnectMinMs: 200, reconnectMaxMs: 1000 },
    events: { debounceMs: 0 },
  };
  const o = await Observer.connect(m.url, [`${ROOT}/events`], { clientId: 'door-controller-k', clean: false, properties: { sessionExpiryInterval: 3600 } });
  t.teardown(() => o.close());

  const d1 = await startDaemon({ services: ['mqtt'], config });
  const reader = d1.ready.readerNames.find((n: string) => n.includes('Contactless'))!;
  t.ok(reader, 'a contactless sim reader');
  const before = await outboxOf(d1);
  await m.stop();

  // Taps keep coming while we read how far the journal got, then the process is killed mid-stream.
  const ctl = await ControlClient.connect(d1.controlSocket);
  let tapping = true;
  let taps = 0;
  const tapper = (async () => {
    while (tapping) {
      try {
        await ctl.request('simulate/remove', { reader });
        await ctl.request('simulate/insert', { reader, card: { type: 'mifare-classic-1k', uid: (0x20000000 + taps).toString(16).toUpperCase() } });
        taps++;
      } catch {
        return;
      }
    }
  })();
  // Kill once a good number of events is on disk (a loaded disk may take a while), while taps go on.
  let recorded = 0;
  await waitFor(
    async () => {
      recorded = (await outboxOf(d1)).recordedSeq;
      return recorded >= before.lastSeq + 200;
    },
    '200 events recorded on disk before the kill',
    60000,
    20,
  ).catch(() => undefined); // the assertion below reports how far it got
  d1.proc.kill('SIGKILL');
  tapping = false;
  await d1.exited;
  await tapper;
  ctl.close();
  t.ok(recorded >= before.lastSeq + 200, `events recorded before the kill (up to seq ${recorded}, ${taps} taps)`);

  // Same state directory, broker still down: the daemon starts and keeps the backlog.
  const d2 = await startDaemon({ services: ['mqtt'], config });
  t.teardown(() => d2.stop().catch(() => undefined));
  const after = await outboxOf(d2);
  t.ok(after.recordedSeq >= recorded, 'the journal still holds everything recorded');
  await m.start();

  const got = await o.waitCount((x) => x.json().seq > before.lastSeq && x.json().seq <= recorded, recorded - before.lastSeq, 60000);
  const seqs = [...new Set(got.map((x) => x.json().seq as number))];
  t.same(seqs, Array.from({ length: recorded - before.lastSeq }, (_, k) => before.lastSeq + 1 + k), 'every recorded event, in order, no gap');
  const all = o.messages.map((x) => x.json().seq as number);
  for (let k = 1; k < all.length; k++) if (all[k] < all[k - 1] && all[k] > before.lastSeq) t.fail(`out of order: ${all[k - 1]} then ${all[k]}`);
  // New events after the restart continue the sequence.
  const c2 = await ControlClient.connect(d2.controlSocket);
  await c2.request('simulate/remove', { reader });
  c2.close();
  const next = await o.waitFor((x) => x.json().seq > after.lastSeq, 20000, 'a new event after restart');
  t.equal(next.json().seq, after.lastSeq + 1, 'the sequence goes on after the restart');
});
