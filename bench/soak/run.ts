/**
 * `make soak`: the real daemon (child process) under mixed load on every
 * frontend and every reader kind at once while faults are injected on a
 * schedule; ends with a JSON report. Not part of make test. SOAK_MINUTES
 * (default 10), SOAK_FAULT_S (default 45: one fault every that many seconds,
 * round robin).
 *
 * Load: pyscard (Debian's libpcsclite) clients with transactions on the pcsc
 * socket; MQTT one-shot transmits (sim, vicc, PN532, CCID readers) and
 * sessions; control-channel clients (pings, transmits, taps on the simulated
 * contactless reader); the web UI's live channel (web-live.ts); a vicc
 * virtual card on vpcd; an emulated PN532 on a pty (pn532.ts); an emulated
 * OSDP reader over the Secure Channel on a pty (osdp.ts); an emulated USB
 * CCID reader hosted by the daemon (ccid.ts).
 * Faults: Mosquitto restart; vicc killed mid-APDU and restarted (its reader's
 * card goes and comes back); SIGKILL of the daemon and restart on the same
 * state directory; disk full (the state directory is a small tmpfs, filled
 * for 10 s); PN532 serial line corruption for 8 s; the PN532's and the OSDP
 * reader's serial adapters unplugged for 5 s and plugged back in; the
 * daemon's wall clock jumped three years ahead, three years back and back to
 * the right time in turn (libfaketime, Debian's faketime, preloaded into the
 * daemon; its monotonic clock is left alone, as NTP leaves it).
 * Hostile clients (hostile.ts): one attack every SOAK_HOSTILE_S (default 20) s.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startDaemon, type Daemon } from '../../test/helpers/daemon.js';
import { LIBFAKETIME } from '../../test/helpers/faketime.js';
import { startMosquitto, freePort } from '../../test/mqtt/mosquitto.js';
import { startVicc, type Vicc } from '../../test/helpers/vicc.js';
import { ControlClient } from '../../src/cli/client.js';
import { setPassword } from '../../src/api/http/auth/password.js';
import { VPCD_FRIENDLY_NAME } from '../../drivers/vpcd/index.js';
import { controlOnce, inc, log, readerNames, sleep, type Tally } from './common.js';
import { startRequester } from './mqtt-requester.js';
import { followLive } from './web-live.js';
import { startPn532, PN532_NAME } from './pn532.js';
import { startOsdp, OSDP_NAME } from './osdp.js';
import { CCID_DRIVER_CONFIG, isCcidReader, runCcidLoad } from './ccid.js';
import { startHostileClients } from './hostile.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const FAULT_S = Number(process.env.SOAK_FAULT_S ?? 45);
const HOSTILE_S = Number(process.env.SOAK_HOSTILE_S ?? 20);
/** Wall-clock offsets of the clock-jump fault, in turn (libfaketime's relative form). */
const CLOCK_JUMPS = ['+1095d', '-1095d', '+0d'];
const GW = 'soak';
const ROOT = `scardgate/${GW}`;
const CONTACT_A = 'Simulated Contact Reader A 00 00';
const CONTACT_B = 'Simulated Contact Reader B 01 00';
const CONTACTLESS = 'Simulated Contactless Reader 02 00';

const PASSWORD = 'soak horse battery staple 16';

/** Which load a reader belongs to (per-load event figures). */
function readerKind(name: string): string {
  if (name.startsWith('Simulated')) return 'sim';
  if (name.startsWith(VPCD_FRIENDLY_NAME)) return 'vicc';
  if (name.startsWith(PN532_NAME)) return 'pn532';
  if (name.startsWith(OSDP_NAME)) return 'osdp';
  if (isCcidReader(name)) return 'ccid';
  return 'other';
}

function procStats(pid: number): { rssMb: number; fds: number } {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { rssMb: m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rssMb: NaN, fds: NaN };
  }
}

async function main(): Promise<void> {
  const end = performance.now() + MINUTES * 60000;
  log(`${MINUTES} min, a fault every ${FAULT_S} s (machine shared with other engineers: rates are indicative)`);
  const base = mkdtempSync(join(tmpdir(), 'scardgate-soak-'));
  const stateDir = join(base, 'state');
  mkdirSync(stateDir);
  let tmpfs = false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', stateDir], { stdio: 'pipe' });
    tmpfs = true;
  } catch (e) {
    log(`no tmpfs for the state directory (${(e as Error).message.trim()}): the disk-full fault is skipped; run as root for it`);
  }
  mkdirSync(join(base, 'run'));
  const pcscSocket = join(base, 'run', 'pcscd.comm');
  const controlSocket = join(base, 'run', 'scardgate.ctl');
  await setPassword(stateDir, PASSWORD);
  const broker = await startMosquitto({ persistence: true });
  const vpcdPort = await freePort();
  const httpPort = await freePort();
  const httpBase = `http://127.0.0.1:${httpPort}`;
  const pn532 = await startPn532(join(base, 'run'));
  const osdp = await startOsdp(join(base, 'run'));
  const daemonConfig = {
    gatewayId: GW,
    log: { level: 'info' },
    state: { dir: stateDir },
    control: { socket: controlSocket },
    pcsc: { socket: pcscSocket },
    mqtt: { url: broker.url, reconnectMinMs: 200, reconnectMaxMs: 2000 },
    events: { debounceMs: 0, outbox: { maxBytes: 8 << 20 } },
    http: { host: '127.0.0.1', port: httpPort, loginAttemptsPerMinute: 1000 },
    drivers: {
      vpcd: { enabled: true, port: vpcdPort, slots: 1 },
      pn532: pn532.driverConfig,
      osdp: osdp.driverConfig,
      ccid: CCID_DRIVER_CONFIG,
    },
  };
  // ---- consumer: persistent session, de-dup by seq; subscribed before the daemon starts (readers with cards at start-up record events at once) ----
  const seen = new Set<number>();
  let maxFirst = 0;
  let outOfOrder = 0;
  let duplicates = 0;
  const consumer: MqttClient = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'soak-consumer', clean: false, properties: { sessionExpiryInterval: 7200 }, reconnectPeriod: 300 });
  const eventsByKind = new Map<string, number>();
  const insertedByKind = new Map<string, number>();
  const present = new Map<string, boolean>();
  consumer.on('message', (_t, p) => {
    const ev = JSON.parse(p.toString()) as { seq: number; type: string; reader: string };
    if (ev.type === 'card.inserted') present.set(ev.reader, true);
    else if (ev.type === 'card.removed' || ev.type === 'reader.removed') present.set(ev.reader, false);
    if (seen.has(ev.seq)) {
      duplicates++;
      return;
    }
    seen.add(ev.seq);
    inc(eventsByKind, readerKind(ev.reader));
    if (ev.type === 'card.inserted') inc(insertedByKind, readerKind(ev.reader));
    if (ev.seq < maxFirst) outOfOrder++;
    maxFirst = Math.max(maxFirst, ev.seq);
  });
  await consumer.subscribeAsync(`${ROOT}/events`, { qos: 1 });

  // The daemon's wall clock comes from this file (re-read every second); its monotonic clock is real.
  const clockFile = join(base, 'run', 'clock-offset');
  writeFileSync(clockFile, '+0d\n');
  if (!LIBFAKETIME) log('libfaketime is missing (apt-get install faketime): the clock-jump fault is skipped');
  const clockEnv: Record<string, string> = LIBFAKETIME
    ? { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' }
    : {};
  const start = (): Promise<Daemon> => startDaemon({ services: ['control', 'pcsc', 'mqtt', 'http'], config: daemonConfig, env: clockEnv, readyTimeoutMs: 60000 });
  let daemon = await start();
  const viccReader = daemon.ready.readerNames.find((n) => readerKind(n) === 'vicc') ?? '';
  // serial and USB readers come up after `ready`: follow the reader list
  let names: string[] = daemon.ready.readerNames;
  const kinds = ['sim', 'vicc', 'pn532', 'osdp', 'ccid'];
  const upBy = performance.now() + 30000;
  while (performance.now() < upBy && !kinds.every((k) => names.some((n) => readerKind(n) === k))) {
    await sleep(500);
    names = await readerNames(controlSocket);
  }
  log(`daemon ready (pid ${daemon.pid}); readers: ${names.join(', ')}`);
  const missingKinds = kinds.filter((k) => !names.some((n) => readerKind(n) === k));
  if (missingKinds.length) log(`WARNING: no reader of kind ${missingKinds.join(', ')} after 30 s`);

  let running = true;
  const isRunning = (): boolean => running;
  const tally: Tally = { exchanges: new Map(), errors: new Map() };
  const { exchanges, errors } = tally;
  const readerRefresh = (async () => {
    while (running) {
      await sleep(2000);
      const now = await readerNames(controlSocket);
      if (now.length) names = now;
    }
  })();

  // ---- vicc ----
  let vicc: Vicc | undefined = startVicc({ port: vpcdPort });

  // ---- pcsc clients (pyscard) ----
  const pyClients: ChildProcess[] = [];
  const startPy = (): void => {
    for (let i = 0; i < 2; i++) {
      const p = spawn('/usr/bin/python3', [join(import.meta.dirname, 'pcsc_client.py'), CONTACT_B, '0.05'], { env: { ...process.env, PCSCLITE_CSOCK_NAME: pcscSocket }, stdio: ['ignore', 'pipe', 'pipe'] });
      let buf = '';
      p.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === 'ok') inc(exchanges, 'pcsc');
          else if (line.startsWith('err ')) inc(errors, `pcsc ${line.split(' ')[1]} ${line.split(' ')[2]}`);
        }
      });
      p.stderr!.on('data', () => undefined);
      pyClients.push(p);
    }
  };
  startPy();

  // ---- MQTT requests: one-shot transmits (sim + vicc) and sessions ----
  const requester = await startRequester(broker.url, ROOT, tally);
  const mqttRequest = requester.request;
  const count = requester.count;
  const loops: Array<Promise<void>> = [];
  loops.push(
    (async () => {
      while (running) {
        count('mqtt-transmit', await mqttRequest('transmit', { reader: CONTACT_A, apdus: ['00A4000C023F00', '0084000008'] }));
        if (viccReader) count('mqtt-transmit-vicc', await mqttRequest('transmit', { reader: viccReader, apdus: ['00A4040000'] }));
        await sleep(50);
      }
    })(),
    (async () => {
      while (running) {
        const o = await mqttRequest('session/open', { reader: CONTACT_B, leaseMs: 5000 });
        if (o.status !== 'ok') {
          count('mqtt-session', o);
          await sleep(300);
          continue;
        }
        for (let i = 0; i < 3; i++) count('mqtt-session', await mqttRequest('session/transmit', { session: o.data.session, apdus: ['0084000008'] }));
        count('mqtt-session-close', await mqttRequest('session/close', { session: o.data.session }));
        await sleep(200);
      }
    })(),
  );

  // ---- the web UI's live channel, PN532, OSDP and CCID loads ----
  const live = followLive(httpBase, PASSWORD);
  const ccidFigures = { taps: 0 };
  loops.push(
    pn532.run({ running: isRunning, requester, readerName: () => names.find((n) => readerKind(n) === 'pn532'), present: (r) => present.get(r) === true }),
    osdp.run(isRunning),
    runCcidLoad(isRunning, requester, () => names.filter((n) => readerKind(n) === 'ccid'), tally, ccidFigures),
  );

  // ---- control clients: pings (latency), transmits, taps ----
  const pings: number[] = [];
  let taps = 0;
  loops.push(
    (async () => {
      let c: ControlClient | undefined;
      let n = 0;
      while (running) {
        try {
          c ??= await ControlClient.connect(controlSocket);
          const t0 = performance.now();
          await c.request('ping');
          pings.push(performance.now() - t0);
          const r = await c.request<{ responses: Array<{ error?: { name: string } }> }>('transmit', { reader: CONTACT_A, apdus: ['00A4000C023F00'] });
          const bad = r.responses.find((x) => x.error);
          if (bad) inc(errors, `control ${bad.error!.name}`);
          else inc(exchanges, 'control');
          await c.request('simulate/remove', { reader: CONTACTLESS }).catch(() => undefined);
          const uid = `04${(0x100000 + (n++ % 0xeffff)).toString(16).toUpperCase()}A1B2C3`;
          await c.request('simulate/insert', { reader: CONTACTLESS, card: { type: 'mifare-classic-1k', uid } });
          taps++;
        } catch (e) {
          inc(errors, `control ${(e as Error).message.slice(0, 50)}`);
          c?.close();
          c = undefined;
          await sleep(300);
        }
        await sleep(150);
      }
      c?.close();
    })(),
  );

  // ---- diagnostics sampling ----
  let recordFailures = 0;
  let lifeFailures = 0;
  let lagP99Max = 0;
  const lives: Array<{ pid: number; start: { rssMb: number; fds: number }; end?: { rssMb: number; fds: number } }> = [];
  const sample = async (): Promise<Record<string, any> | undefined> => {
    try {
      const c = await ControlClient.connect(controlSocket);
      try {
        return await c.request<Record<string, any>>('diagnostics');
      } finally {
        c.close();
      }
    } catch {
      return undefined;
    }
  };
  const sampler = (async () => {
    while (running) {
      const d = await sample();
      if (d) {
        lifeFailures = d.mqtt?.recordFailures ?? lifeFailures;
        lagP99Max = Math.max(lagP99Max, d.gateway?.eventLoopDelay?.p99Ms ?? 0);
      }
      await sleep(5000);
    }
  })();

  await sleep(20000);
  lives.push({ pid: daemon.pid, start: procStats(daemon.pid) });
  log(`warmed up: ${JSON.stringify(lives[0].start)}`);

  // ---- hostile clients ----
  const hostile = startHostileClients(() => ({ pcscSocket, controlSocket, mqtt: { url: broker.url, root: ROOT }, httpUrl: httpBase }), HOSTILE_S * 1000, log);

  // ---- faults ----
  const faults = new Map<string, number>();
  let clockJumps = 0;
  const order = [
    'broker restart',
    'PN532 serial corruption',
    'vicc killed mid-APDU',
    'serial readers unplugged',
    ...(LIBFAKETIME ? ['wall clock jump'] : []),
    'daemon SIGKILL + restart',
    ...(tmpfs ? ['disk full'] : []),
  ];
  let k = 0;
  while (performance.now() + FAULT_S * 1000 < end) {
    await sleep(FAULT_S * 1000);
    const f = order[k++ % order.length];
    inc(faults, f);
    log(`fault: ${f}`);
    try {
      if (f === 'broker restart') {
        await broker.stop();
        await sleep(3000);
        await broker.start();
      } else if (f === 'wall clock jump') {
        const to = CLOCK_JUMPS[clockJumps++ % CLOCK_JUMPS.length];
        log(`wall clock offset now ${to}`);
        writeFileSync(clockFile, `${to}\n`);
      } else if (f === 'PN532 serial corruption') {
        await pn532.corrupt(8000);
      } else if (f === 'serial readers unplugged') {
        await Promise.all([pn532.unplug(5000), osdp.unplug(5000)]);
      } else if (f === 'vicc killed mid-APDU') {
        vicc?.proc.kill('SIGKILL');
        await vicc?.exited;
        vicc = undefined;
        await sleep(2000);
        vicc = startVicc({ port: vpcdPort });
      } else if (f === 'daemon SIGKILL + restart') {
        lives[lives.length - 1].end = procStats(daemon.pid);
        recordFailures += lifeFailures;
        lifeFailures = 0;
        daemon.proc.kill('SIGKILL');
        await new Promise((r) => daemon.proc.once('exit', r));
        await sleep(1000);
        daemon = await start();
        lives.push({ pid: daemon.pid, start: procStats(daemon.pid) });
        // vicc lost its listener with the daemon: it exits; bring it back.
        vicc?.proc.kill('SIGKILL');
        vicc = startVicc({ port: vpcdPort });
      } else if (f === 'disk full') {
        const filler = join(stateDir, 'filler');
        try {
          execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'pipe' });
        } catch {
          // "No space left on device": full.
        }
        await sleep(10000);
        unlinkSync(filler);
      }
    } catch (e) {
      inc(errors, `fault ${f}: ${(e as Error).message.slice(0, 80)}`);
    }
  }
  while (performance.now() < end) await sleep(1000);

  // ---- wind down: stop load, let the outbox drain ----
  running = false;
  writeFileSync(clockFile, '+0d\n');
  const hostileTally = await hostile.stop();
  for (const p of pyClients) p.kill('SIGTERM');
  await Promise.all(loops);
  await sampler;
  await readerRefresh;
  const endStats = procStats(daemon.pid);
  lives[lives.length - 1].end = endStats;
  const d = await sample();
  recordFailures += d?.mqtt?.recordFailures ?? lifeFailures;
  const lag = d?.gateway?.eventLoopDelay ?? {};
  let lastSeq = d?.mqtt?.outbox?.lastSeq ?? 0;
  const drainDeadline = performance.now() + 60000;
  while (performance.now() < drainDeadline) {
    const x = await sample();
    lastSeq = x?.mqtt?.outbox?.lastSeq ?? lastSeq;
    if ((x?.mqtt?.outbox?.depth ?? 1) === 0 && seen.size >= lastSeq) break;
    await sleep(500);
  }
  await sleep(2000);
  let missing = 0;
  const missingSeqs: Array<{ seq: number; inJournal: boolean | null; type?: string; reader?: string }> = [];
  for (let s = 1; s <= lastSeq; s++) {
    if (seen.has(s)) continue;
    missing++;
    if (missingSeqs.length >= 20) continue;
    // recorded but never delivered, or a seq the journal never used?
    const h = await controlOnce<{ events: Array<{ seq: number; type: string; reader: string }> }>(controlSocket, 'events', { afterSeq: s - 1, limit: 1 });
    const ev = h?.events[0];
    missingSeqs.push({ seq: s, inJournal: h ? ev?.seq === s : null, type: ev?.seq === s ? ev.type : undefined, reader: ev?.seq === s ? ev.reader : undefined });
  }
  if (missingSeqs.length) log(`missing seqs: ${JSON.stringify(missingSeqs)}`);
  const dropped = (await sample())?.mqtt?.outbox?.dropped ?? 0;

  await live.stop();
  await daemon.stop().catch(() => undefined);
  await vicc?.stop().catch(() => undefined);
  await consumer.endAsync(true);
  await requester.close();
  await broker.close();
  await pn532.close();
  await osdp.close();
  if (tmpfs) execFileSync('umount', ['-l', stateDir], { stdio: 'pipe' });
  rmSync(base, { recursive: true, force: true });

  const pct = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10 : NaN;
  };
  const first = lives[0];
  const last = lives[lives.length - 1];
  console.log(
    JSON.stringify({
      bench: 'soak',
      minutes: MINUTES,
      faults: Object.fromEntries(faults),
      exchanges: Object.fromEntries(exchanges),
      exchangesTotal: [...exchanges.values()].reduce((a, b) => a + b, 0),
      errorsByCode: Object.fromEntries([...errors.entries()].sort((a, b) => b[1] - a[1])),
      taps,
      // A failed write uses up no seq (src/events/outbox.ts): seq 1..lastSeq is every recorded event.
      eventsRecorded: lastSeq,
      eventsDelivered: seen.size,
      eventsLost: Math.max(0, missing - dropped),
      seqGaps: missing,
      missingSeqs,
      eventRecordFailures: recordFailures,
      outboxDropped: dropped,
      duplicates,
      outOfOrder,
      rssMbStart: first.start.rssMb,
      rssMbEnd: endStats.rssMb,
      fdsStart: first.start.fds,
      fdsEnd: endStats.fds,
      lastLife: { rssMbStart: last.start.rssMb, rssMbEnd: endStats.rssMb, fdsStart: last.start.fds, fdsEnd: endStats.fds },
      daemonLives: lives.length,
      eventLoopDelayP99Ms: lag.p99Ms,
      eventLoopDelayMaxMs: lag.maxMs,
      eventLoopDelayP99MsWorstSample: lagP99Max,
      controlPingP99Ms: pct(pings, 99),
      eventsDeliveredByReaderKind: Object.fromEntries(eventsByKind),
      loads: {
        webLive: live.figures,
        pn532: { ...pn532.figures, exchanges: exchanges.get('pn532-transmit') ?? 0, cardInsertedEvents: insertedByKind.get('pn532') ?? 0 },
        osdp: { ...osdp.figures, cardInsertedEvents: insertedByKind.get('osdp') ?? 0, cardEvents: eventsByKind.get('osdp') ?? 0 },
        ccid: { readers: names.filter((n) => readerKind(n) === 'ccid').length, exchanges: exchanges.get('ccid-transmit') ?? 0, taps: ccidFigures.taps, cardInsertedEvents: insertedByKind.get('ccid') ?? 0 },
      },
      hostile: hostileTally,
      clockJumps,
      notCovered: [
        ...(tmpfs ? [] : ['disk full (needs root for the tmpfs state directory)']),
        ...(LIBFAKETIME ? [] : ['wall clock jumps (needs libfaketime: apt-get install faketime)']),
        ...missingKinds.map((k) => `${k} readers (none came up)`),
      ],
    }),
  );
}

await main();
process.exit(0);
