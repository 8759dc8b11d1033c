/**
 * `make soak`: the real daemon (child process) under mixed load on every
 * frontend at once while faults are injected on a schedule; ends with a JSON
 * report. Not part of make test. SOAK_MINUTES (default 10), SOAK_FAULT_S
 * (default 45: one fault every that many seconds, round robin).
 *
 * Load: pyscard (Debian's libpcsclite) clients with transactions on the pcsc
 * socket; MQTT one-shot transmits (sim and vicc readers) and sessions;
 * control-channel clients (pings, transmits, taps on the simulated
 * contactless reader); a vicc virtual card on vpcd.
 * Faults: Mosquitto restart; vicc killed mid-APDU and restarted (its reader's
 * card goes and comes back); SIGKILL of the daemon and restart on the same
 * state directory; disk full (the state directory is a small tmpfs, filled
 * for 10 s).
 * Not covered yet: web UI live channel, emulated PN532 with serial
 * corruption (see the report's `notCovered`).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startDaemon, type Daemon } from '../../test/helpers/daemon.js';
import { startMosquitto, freePort } from '../../test/mqtt/mosquitto.js';
import { startVicc, type Vicc } from '../../test/helpers/vicc.js';
import { ControlClient } from '../../src/cli/client.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const FAULT_S = Number(process.env.SOAK_FAULT_S ?? 45);
const GW = 'soak';
const ROOT = `scardgate/${GW}`;
const CONTACT_A = 'Simulated Contact Reader A 00 00';
const CONTACT_B = 'Simulated Contact Reader B 01 00';
const CONTACTLESS = 'Simulated Contactless Reader 02 00';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const inc = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);

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
  const broker = await startMosquitto({ persistence: true });
  const vpcdPort = await freePort();
  const daemonConfig = {
    gatewayId: GW,
    log: { level: 'info' },
    state: { dir: stateDir },
    control: { socket: controlSocket },
    pcsc: { socket: pcscSocket },
    mqtt: { url: broker.url, reconnectMinMs: 200, reconnectMaxMs: 2000 },
    events: { debounceMs: 0, outbox: { maxBytes: 8 << 20 } },
    drivers: { vpcd: { enabled: true, port: vpcdPort, slots: 1 } },
  };
  const start = (): Promise<Daemon> => startDaemon({ services: ['control', 'pcsc', 'mqtt'], config: daemonConfig, readyTimeoutMs: 60000 });
  let daemon = await start();
  const viccReader = daemon.ready.readerNames.find((n) => !n.startsWith('Simulated')) ?? '';
  log(`daemon ready (pid ${daemon.pid}); readers: ${daemon.ready.readerNames.join(', ')}`);

  // ---- consumer: persistent session, de-dup by seq ----
  const seen = new Set<number>();
  let maxFirst = 0;
  let outOfOrder = 0;
  let duplicates = 0;
  const consumer: MqttClient = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'soak-consumer', clean: false, properties: { sessionExpiryInterval: 7200 }, reconnectPeriod: 300 });
  consumer.on('message', (_t, p) => {
    const ev = JSON.parse(p.toString()) as { seq: number };
    if (seen.has(ev.seq)) {
      duplicates++;
      return;
    }
    seen.add(ev.seq);
    if (ev.seq < maxFirst) outOfOrder++;
    maxFirst = Math.max(maxFirst, ev.seq);
  });
  await consumer.subscribeAsync(`${ROOT}/events`, { qos: 1 });

  let running = true;
  const exchanges = new Map<string, number>();
  const errors = new Map<string, number>();

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
  const req: MqttClient = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 300 });
  await req.subscribeAsync('soak/reply/#', { qos: 1 });
  let corr = 0;
  const waiting = new Map<string, (r: any) => void>();
  req.on('message', (_t, p, packet) => {
    const id = packet.properties?.correlationData?.toString() ?? '';
    const w = waiting.get(id);
    if (w) {
      waiting.delete(id);
      w(JSON.parse(p.toString()));
    }
  });
  const mqttRequest = (method: string, body: Record<string, unknown>): Promise<any> => {
    const id = String(corr++);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve({ status: 'error', error: 'timeout', data: { name: 'TIMEOUT(no answer in 10 s)' } });
      }, 10000);
      waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      req.publish(`${ROOT}/request/${method}`, JSON.stringify(body), { qos: 1, properties: { responseTopic: `soak/reply/${method}`, correlationData: Buffer.from(id) } });
    });
  };
  // An error answer carries the gateway's error body {code, name, message}; a timeout here only a name.
  const errorName = (r: any): string => String(r.error?.name ?? r.data?.name ?? (typeof r.error === 'string' ? r.error : JSON.stringify(r.error ?? r))).slice(0, 60);
  const count = (kind: string, r: any): void => {
    if (r.status === 'ok') {
      const bad = (r.data?.responses ?? []).find((x: any) => x.error);
      if (bad) inc(errors, `${kind} ${bad.error.name ?? 'error'}`);
      else inc(exchanges, kind);
    } else inc(errors, `${kind} ${errorName(r)}`);
  };
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
          const r = await c.request<{ results: Array<{ error?: { name: string } }> }>('transmit', { reader: CONTACT_A, apdus: ['00A4000C023F00'] });
          if (r.results.some((x) => x.error)) inc(errors, `control ${r.results.find((x) => x.error)!.error!.name}`);
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

  // ---- faults ----
  const faults = new Map<string, number>();
  const order = ['broker restart', 'vicc killed mid-APDU', 'daemon SIGKILL + restart', ...(tmpfs ? ['disk full'] : [])];
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
  for (const p of pyClients) p.kill('SIGTERM');
  await Promise.all(loops);
  await sampler;
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
  for (let s = 1; s <= lastSeq; s++) if (!seen.has(s)) missing++;
  const dropped = (await sample())?.mqtt?.outbox?.dropped ?? 0;

  await daemon.stop().catch(() => undefined);
  await vicc?.stop().catch(() => undefined);
  await consumer.endAsync(true);
  await req.endAsync(true);
  await broker.close();
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
      notCovered: ['web UI live channel', 'emulated PN532 with serial corruption'],
    }),
  );
}

await main();
process.exit(0);
