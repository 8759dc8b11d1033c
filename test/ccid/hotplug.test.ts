/**
 * Hotplug without restart: a reader attached and detached 100 times while
 * another reader and the one coming and going are under load. Every pending
 * call is answered (a result or a defined PC/SC error), no handle is left
 * behind, and memory and event-loop handles stay flat. Also the polling
 * fallback for a binding without hotplug events.
 */
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { isPcscError } from '../../src/pcsc/error.js';
import type { ReaderSnapshot } from '../../src/core/api.js';
import { hex, rig, until, waitFor } from './helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const SELECT = hex('00A4040C0AF0736361726467617465');
/** What a call cut off by an unplug may answer: the reader or card went away. */
const GONE = new Set<number>([SCARD.E_READER_UNAVAILABLE, SCARD.E_NO_SMARTCARD, SCARD.W_REMOVED_CARD, SCARD.E_UNKNOWN_READER, SCARD.E_INVALID_HANDLE, SCARD.E_TIMEOUT]);

t.test('attach/detach 100 times under load: every call answered, no stuck handle, no leak', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const stable = r.bus.add('omnikey-class');
  stable.insert('iso7816');
  await until(() => (r.core.readers()[0]?.atr.length ?? 0) > 0, 'stable reader with its card');
  const stableName = r.core.readers()[0].name;
  const ctx = r.core.establishContext('load');
  const sc = await r.core.connect(ctx, stableName, SHARE.SHARED, PROTOCOL.T1);

  // Load on the stable reader for the whole run.
  let loading = true;
  let stableCalls = 0;
  const load = (async () => {
    while (loading) {
      const a = await r.core.transmit(sc.handle, sc.protocol, SELECT);
      if (!a.equals(hex('9000'))) throw new Error(`stable reader answered ${a.toString('hex')}`);
      stableCalls++;
    }
  })();

  const moving = r.bus.add('gempc-twin', { serialNumber: 'MOVING' });
  moving.insert('iso7816-t0');
  let answered = 0;
  let succeeded = 0;
  const unexpected: string[] = [];
  const sample = () => {
    gc();
    return { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss, resources: process.getActiveResourcesInfo().length };
  };
  let base = sample();
  for (let i = 0; i < 100; i++) {
    if (i === 10) base = sample();
    if (!moving.attached) {
      const added = waitFor<[ReaderSnapshot]>(r.core, 'reader-added', 5000, `reader-added for plug ${i}`);
      r.bus.plug(moving);
      await added;
    }
    await until(() => (r.core.readers().find((x) => x.name.includes('MOVING'))?.atr.length ?? 0) > 0, `card on the moving reader (cycle ${i})`);
    const name = r.core.readers().find((x) => x.name.includes('MOVING'))!.name;
    const mctx = r.core.establishContext(`cycle-${i}`);
    const calls: Promise<void>[] = [];
    try {
      const c = await r.core.connect(mctx, name, SHARE.SHARED, PROTOCOL.T0);
      if ((await r.core.transmit(c.handle, c.protocol, SELECT)).equals(hex('9000'))) succeeded++;
      for (let k = 0; k < 4; k++) {
        calls.push(
          r.core.transmit(c.handle, c.protocol, SELECT).then(
            () => {
              answered++;
            },
            (e: unknown) => {
              answered++;
              if (!isPcscError(e) || !GONE.has(e.code)) unexpected.push(`cycle ${i}: ${String(e)}`);
            },
          ),
        );
      }
    } catch (e) {
      if (!isPcscError(e) || !GONE.has(e.code)) unexpected.push(`cycle ${i} connect: ${String(e)}`);
    }
    // Unplug while the calls are queued or on the wire (every third time mid-transfer).
    const removed = waitFor<[ReaderSnapshot]>(r.core, 'reader-removed', 5000, `reader-removed for unplug ${i}`);
    if (i % 3 === 0) moving.inject('unplug-mid-transfer');
    else r.bus.unplug(moving);
    await removed;
    await Promise.all(calls);
    await r.core.releaseContext(mctx);
  }
  loading = false;
  await load;
  const end = sample();
  t.same(unexpected, [], 'every cut-off call ended with a defined PC/SC error');
  t.ok(answered === 400 && succeeded === 100, `${succeeded} cycles answered before the unplug; ${answered} calls cut off by it, all answered`);
  t.ok(stableCalls > 100, `the stable reader kept answering (${stableCalls} calls)`);
  const d = r.core.diagnostics() as { contexts: number; handles: number };
  t.equal(d.contexts, 1, 'only the load context is left');
  t.equal(d.handles, 1, 'only the load handle is left: no stuck handle');
  t.equal(r.bus.listenerCount('attach'), 1, 'one attach listener on the binding');
  t.equal(r.core.readers().length, 1);
  t.equal(r.driver.counters.attaches, 101, '1 stable + 100 plugs');
  t.ok(end.heap - base.heap < 4 * 1024 * 1024, `heap flat over 90 cycles (${((end.heap - base.heap) / 1024).toFixed(0)} KiB)`);
  t.ok(end.rss - base.rss < 16 * 1024 * 1024, `RSS flat over 90 cycles (${((end.rss - base.rss) / 1024).toFixed(0)} KiB)`);
  t.ok(end.resources <= base.resources + 2, `event-loop handles flat (${base.resources} -> ${end.resources})`);
});

t.test('a binding without hotplug events: the bus scan finds readers coming and going', async (t) => {
  const r = await rig({ hotplugPollMs: 50 }, false);
  t.teardown(() => r.close());
  const added = waitFor<[ReaderSnapshot]>(r.core, 'reader-added', 5000);
  const dev = r.bus.add('acr122u');
  t.equal((await added)[0].name, 'ACS ACR122U PICC Interface 00 00', 'found by scanning');
  const removed = waitFor<[ReaderSnapshot]>(r.core, 'reader-removed', 5000);
  r.bus.unplug(dev);
  await removed;
  const again = waitFor<[ReaderSnapshot]>(r.core, 'reader-added', 5000);
  r.bus.plug(dev);
  await again;
  t.equal(r.core.readers().length, 1);
});
