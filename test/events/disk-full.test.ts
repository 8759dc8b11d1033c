/**
 * Disk full and a read-only state directory, on a real small tmpfs (mounted
 * by the test; needs root or CAP_SYS_ADMIN, as CI runs). The configured
 * policy (events.outbox.whenFull) applies to a full file system as to the
 * budget: under refuse, recording fails with a counted, logged error; under
 * drop-oldest, the oldest unsent segment is given up (counted, logged) and
 * new events are still recorded. A read-only state directory does not keep
 * the gateway from starting. Nothing crashes; once space (or write access)
 * returns, events are recorded and delivered over MQTT again.
 */
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway } from '../helpers/gateway.js';
import type { GatewayEvents } from '../../src/events/pipeline.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer } from '../mqtt/client.js';
import type { MqttService } from '../../src/api/mqtt/service.js';

async function until(what: string, cond: () => boolean, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A tmpfs of `size` at a fresh directory, unmounted at teardown. */
function smallTmpfs(t: Test, size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot mount a tmpfs for the disk-full test (${(e as Error).message.trim()}): run the tests as root or with CAP_SYS_ADMIN (CI does)`, { cause: e });
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

for (const kind of ['disk full'] as const) {
  t.test(`${kind} while the broker is away, whenFull refuse: recording fails counted and logged, nothing crashes, delivery resumes`, async (t) => {
    const fs = smallTmpfs(t, '2m');
    const stateDir = join(fs, 'state');
    mkdirSync(stateDir);
    const m = await startMosquitto();
    t.teardown(() => m.close());
    const gw = await startTestGateway({ services: ['mqtt'], logLevel: 'warn', config: { state: { dir: stateDir }, mqtt: { url: m.url }, events: { debounceMs: 0, outbox: { whenFull: 'refuse' } } } });
    t.teardown(() => gw.stop());
    const ev = (gw.gateway.context.api.events() as GatewayEvents);
    const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
    await until('MQTT connected', () => svc.info().broker.connected);
    // A persistent session: the broker keeps what the gateway sends while this observer reconnects.
    const o = await Observer.connect(m.url, ['scardgate/test-gw/events'], { clientId: `disk-full-${kind.replace(/\W/g, '')}`, clean: false, properties: { sessionExpiryInterval: 600 } });
    t.teardown(() => o.close());
    const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
    const tap = async (uid: string): Promise<void> => {
      await gw.core.simulateRemove(reader).catch(() => undefined);
      await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid });
    };
    await tap('04000001');
    await o.waitFor((x) => x.json().data?.uid === '04000001', 10000, 'a tap before the fault');

    // The broker goes away: nothing is acknowledged, so no segment is freed while the disk is full.
    await m.stop();
    await until('MQTT disconnected', () => !svc.info().broker.connected);
    const filler = join(fs, 'filler');
    if (kind === 'disk full') {
      // Take every free block.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'pipe' });
      } catch {
        // dd ends with "No space left on device": that is the point.
      }
    } else {
      execFileSync('mount', ['-o', 'remount,ro', fs], { stdio: 'pipe' });
    }
    const failuresBefore = ev.stats().recordFailures as number;
    // tmpfs counts blocks per CPU in batches, so a few hundred KB may still fit: tap until a write fails (bounded).
    for (let i = 0; i < 3000 && (ev.stats().recordFailures as number) === failuresBefore; i++) {
      await tap(`04${(0x100000 + i).toString(16).toUpperCase()}`);
      if (i % 50 === 49) await ev.settle().catch(() => undefined);
    }
    await until('record failures counted', () => (ev.stats().recordFailures as number) > failuresBefore).catch((e: Error) => {
      throw new Error(`${e.message}; stats ${JSON.stringify(ev.stats())}; df ${execFileSync('df', ['-k', fs]).toString()}`);
    });
    t.ok(gw.logs.lines.some((l) => /could not be recorded/.test(l.msg ?? '')), 'logged');
    t.equal(gw.core.readers().length > 0, true, 'the gateway is still running');

    // Space (or write access) returns.
    if (kind === 'disk full') unlinkSync(filler);
    else execFileSync('mount', ['-o', 'remount,rw', fs], { stdio: 'pipe' });
    await tap('04999999');
    await m.start();
    const got = await o.waitFor((x) => x.json().data?.uid === '04999999', 15000, 'a tap after the fault, delivered');
    t.ok(got.json().seq > 0, `recorded and delivered again (seq ${got.json().seq})`);
    // Every event that was recorded is delivered, the sequence has no hole (failed writes do not use up seqs), the outbox drains.
    await until('the outbox drained', () => svc.info().outbox.depth === 0, 30000);
    const last = svc.info().outbox.lastSeq;
    await until('every recorded event delivered', () => new Set(o.messages.map((x) => x.json().seq)).size >= last, 30000).catch(() => undefined);
    const seqs = [...new Set(o.messages.map((x) => x.json().seq as number))].sort((a, b) => a - b);
    t.same(seqs, Array.from({ length: last }, (_, i) => i + 1), `seq 1..${last}, each delivered`);
    writeFileSync(join(fs, 'probe'), 'x');
  });
}

t.test('file system full before the budget, whenFull drop-oldest: the oldest unsent segment is given up, every new event is recorded', async (t) => {
  const fs = smallTmpfs(t, '1m');
  const stateDir = join(fs, 'state');
  mkdirSync(stateDir);
  const m = await startMosquitto();
  t.teardown(() => m.close());
  // Budget 16 MB on a 1 MB file system: the file system fills first.
  const gw = await startTestGateway({
    services: ['mqtt'],
    logLevel: 'warn',
    config: { state: { dir: stateDir }, mqtt: { url: m.url }, events: { debounceMs: 0, outbox: { whenFull: 'drop-oldest', maxBytes: 16777216, segmentBytes: 32768 } } },
  });
  t.teardown(() => gw.stop());
  const ev = gw.gateway.context.api.events() as GatewayEvents;
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
  await until('MQTT connected', () => svc.info().broker.connected);
  const o = await Observer.connect(m.url, ['scardgate/test-gw/events'], { clientId: 'disk-full-drop-oldest', clean: false, properties: { sessionExpiryInterval: 600 } });
  t.teardown(() => o.close());
  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  const tap = async (uid: string): Promise<void> => {
    await gw.core.simulateRemove(reader).catch(() => undefined);
    await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid });
  };
  await m.stop();
  await until('MQTT disconnected', () => !svc.info().broker.connected);
  const stats = (): Record<string, number> => ev.stats() as Record<string, number>;
  for (let i = 0; i < 6000 && stats().diskFullDrops === 0; i++) {
    await tap(`04${(0x100000 + i).toString(16).toUpperCase()}`);
    if (i % 50 === 49) await ev.settle().catch(() => undefined);
  }
  await ev.settle().catch(() => undefined);
  t.ok(stats().diskFullDrops > 0, `the file system filled and the oldest segment was given up (${stats().diskFullDrops} times)`);
  t.ok(stats().dropped > 0, `unsent events counted as dropped (${stats().dropped})`);
  t.equal(stats().recordFailures, 0, 'no event failed to be recorded');
  t.ok(gw.logs.lines.some((l) => /file system full: oldest unsent events dropped/.test(l.msg ?? '')), 'logged, naming the policy');
  // Keep going past the first drop: still recorded.
  for (let i = 0; i < 200; i++) await tap(`05${(0x100000 + i).toString(16).toUpperCase()}`);
  await tap('04999999');
  await ev.settle().catch(() => undefined);
  t.equal(stats().recordFailures, 0, 'still no failure after further drops');
  await m.start();
  await o.waitFor((x) => x.json().data?.uid === '04999999', 30000, 'the last tap delivered after the broker returns');
  await until('the outbox drained', () => svc.info().outbox.depth === 0, 30000);
  const last = svc.info().outbox.lastSeq;
  const firstKept = (svc.info().outbox as unknown as { ackSeq: number }).ackSeq - svc.info().outbox.depth;
  await until('every kept event delivered', () => o.messages.some((x) => x.json().seq === last), 30000);
  const seqs = [...new Set(o.messages.map((x) => x.json().seq as number))].sort((a, b) => a - b);
  const tail = seqs.filter((q) => q > seqs[seqs.length - 1] - 100);
  t.same(tail, Array.from({ length: tail.length }, (_, i) => last - tail.length + 1 + i), 'the newest events arrive without a hole');
  t.ok(firstKept >= 0);
});

t.test('read-only state directory at start: the gateway starts, its readers work, recording fails counted until the directory takes writes', async (t) => {
  const fs = smallTmpfs(t, '4m');
  const stateDir = join(fs, 'state');
  mkdirSync(join(stateDir, 'events'), { recursive: true });
  execFileSync('mount', ['-o', 'remount,ro', fs], { stdio: 'pipe' });
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw = await startTestGateway({ services: ['mqtt'], logLevel: 'warn', config: { state: { dir: stateDir }, mqtt: { url: m.url }, events: { debounceMs: 0 } } });
  t.teardown(() => gw.stop());
  const ev = gw.gateway.context.api.events() as GatewayEvents;
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
  await until('MQTT connected', () => svc.info().broker.connected);
  t.ok(gw.logs.lines.some((l) => /state directory takes no writes/.test(l.msg ?? '')), 'the start-up says the state directory takes no writes');
  t.match(ev.stats(), { writable: false, notWritable: 'EROFS' }, 'the outbox stats say why');
  const o = await Observer.connect(m.url, ['scardgate/test-gw/events'], { clientId: 'read-only-start' });
  t.teardown(() => o.close());
  const contact = gw.core.readers().find((r) => !r.capabilities.contactless)!.name;
  await gw.core.simulateInsert(contact, { type: 'iso7816' }).catch(() => undefined);
  const answer = (await gw.gateway.context.api.call('transmit', { reader: contact, apdus: ['00A4040007A0000000031010'] }, { owner: 'test', scopes: ['transmit'] })) as unknown;
  t.match(answer, { responses: [{ sw: String }] }, 'a reader answers an APDU');
  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  await gw.core.simulateRemove(reader).catch(() => undefined);
  await ev.settle().catch(() => undefined);
  const before = ev.stats().recordFailures as number;
  await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid: '04AA0001' });
  await until('a record failure counted', () => (ev.stats().recordFailures as number) > before);
  t.ok(gw.logs.lines.some((l) => /could not be recorded/.test(l.msg ?? '')), 'each failure logged');

  execFileSync('mount', ['-o', 'remount,rw', fs], { stdio: 'pipe' });
  await gw.core.simulateRemove(reader);
  await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid: '04AA0002' });
  const got = await o.waitFor((x) => x.json().data?.uid === '04AA0002', 15000, 'a tap after write access returns, delivered');
  t.ok(got.json().seq >= 1, `recorded (seq ${got.json().seq}) and delivered`);
  t.match(ev.stats(), { writable: true }, 'writable again');
  t.ok(gw.logs.lines.some((l) => /takes writes again/.test(l.msg ?? '')), 'logged when it returns');
});
