/**
 * The daemon's memory after load, per frontend: the real daemon (the esbuild
 * bundle with the daemon's node flags, as installed) with the vpcd driver and
 * bench/pcsc's fast C card, in two set-ups:
 *   - lean: control channel + pcsc socket only; load = the libpcsclite C client
 *     (APDUs, 4 clients, Status, Connect+Disconnect, Establish+Release);
 *   - default: the whole gateway (embedded broker, MQTT, HTTP); load = the
 *     pcsc one, then MQTT one-shot transmits, then HTTP transmits.
 * After each load and after IDLE_S s idle: RSS (anonymous / file pages) and
 * what V8 holds (the control channel's diagnostics, gateway.memory).
 *
 *   make bench-pcsc-memory   (BENCH_PCSC_N=5000 calls per pcsc call type, BENCH_MEM_REQUESTS=2000 MQTT
 *                             and HTTP requests, BENCH_PCSC_IDLE_S=30, BENCH_MEM_SETUPS=lean,default)
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { build } from './build.js';
import { benchConfig, lean, startCompiled, tempDir, NODE_FLAGS, type Running } from '../startup/spawn.js';
import { ControlClient } from '../../src/cli/client.js';
import { createToken } from '../../src/api/http/auth/tokens.js';
import { MQTT_CLIENT_USER, MQTT_PASSWORD_FILE } from '../../src/api/mqtt/broker-auth.js';

const execFileP = promisify(execFile);
const N = Number(process.env.BENCH_PCSC_N ?? 5000);
const REQUESTS = Number(process.env.BENCH_MEM_REQUESTS ?? 2000);
const IDLE_S = Number(process.env.BENCH_PCSC_IDLE_S ?? 30);
const SETUPS = (process.env.BENCH_MEM_SETUPS ?? 'lean,default').split(',');
const READER = 'Virtual PCD 00 00';
const SELECT = '00A4040007A000000004101000';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const progress = (msg: string): void => void process.stderr.write(`bench-pcsc-memory: ${msg}\n`);
const rss = (pid: number): Record<string, number> =>
  Object.fromEntries([...readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(VmRSS|RssAnon|RssFile):\s+(\d+) kB/gm)].map((m) => [m[1], +(Number(m[2]) / 1024).toFixed(1)]));

/** Runs `total` requests, `parallel` at a time. */
async function pool(total: number, parallel: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < total) await one(next++);
    }),
  );
}

async function pcscLoad(bin: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (const args of [
    ['transmit', READER, String(N * 2), SELECT, '1'],
    ['transmit', READER, String(N), SELECT, '4'],
    ['calls', 'status', READER, String(N)],
    ['calls', 'connect', READER, String(N)],
    ['calls', 'establish', READER, String(N)],
  ]) {
    await execFileP(bin, args, { env });
  }
}

async function mqttLoad(url: string, root: string, stateDir: string): Promise<void> {
  // MQTT 3.1.1, as a client of the embedded broker (user scardgate, the password file in the state directory).
  const password = readFileSync(join(stateDir, MQTT_PASSWORD_FILE), 'utf8').trim();
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, username: MQTT_CLIENT_USER, password });
  await c.subscribeAsync(`${root}/response/transmit`);
  const waiting = new Map<string, () => void>();
  c.on('message', (_t, payload) => {
    const tx = (JSON.parse(payload.toString()) as { transaction?: string }).transaction;
    if (tx) waiting.get(tx)?.();
  });
  await pool(REQUESTS, 8, async (i) => {
    const tx = `m${i}`;
    const done = new Promise<void>((r) => waiting.set(tx, r));
    await c.publishAsync(`${root}/request/transmit`, JSON.stringify({ reader: READER, apdus: [SELECT], transaction: tx }));
    await done;
    waiting.delete(tx);
  });
  await c.endAsync();
}

async function httpLoad(url: string, token: string): Promise<void> {
  const body = JSON.stringify({ reader: READER, apdus: [SELECT] });
  await pool(REQUESTS, 8, async () => {
    const r = await fetch(`${url.replace(/\/$/, '')}/api/transmit`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    if (r.status !== 200) throw new Error(`HTTP transmit: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  });
}

async function run(setup: string, bin: string): Promise<Record<string, unknown>[]> {
  const t = tempDir('bench-pcsc-mem-');
  const port = 43000 + Math.floor(Math.random() * 5000);
  const base = benchConfig(t.dir);
  const config: Record<string, any> = { ...(setup === 'lean' ? lean(base) : base), pcsc: { ...base.pcsc, enabled: true } };
  config.drivers = { ...config.drivers, vpcd: { ...config.drivers.vpcd, enabled: true, port, slots: 1 } };
  let token = '';
  if (setup !== 'lean') token = (await createToken(join(t.dir, 'state'), 'bench-memory', ['transmit'])).token;
  const lines: Record<string, unknown>[] = [];
  let d: Running | undefined;
  let card: ReturnType<typeof execFile> | undefined;
  try {
    d = await startCompiled(t.dir, config, 'bundle');
    card = execFile(bin, ['card', String(port)]);
    card.on('error', () => undefined);
    const pid = d.proc.pid!;
    const env = { ...process.env, PCSCLITE_CSOCK_NAME: config.pcsc.socket as string };
    for (let i = 0; ; i++) {
      try {
        await execFileP(bin, ['transmit', READER, '1', '00B0000000', '1'], { env });
        break;
      } catch {
        if (i > 100) throw new Error('the card never showed up');
        await sleep(100);
      }
    }
    const ctl = await ControlClient.connect(config.control.socket as string);
    const snapshot = async (when: string): Promise<void> => {
      const diag = await ctl.request<{ gateway: { memory: Record<string, number> } }>('diagnostics', {});
      const line = { bench: 'pcsc-memory', setup, when, ...rss(pid), v8: diag.gateway.memory };
      console.log(JSON.stringify(line));
      lines.push(line);
    };
    // Settled: V8 shrinks the start-up's heap by itself within about 10 s.
    await sleep(15000);
    await snapshot('idle');
    const listen = d.ready.listen as Record<string, string>;
    const loads: [string, () => Promise<void>][] = [['pcsc', () => pcscLoad(bin, env)]];
    if (setup !== 'lean') {
      loads.push(['mqtt', () => mqttLoad(listen.mqtt, listen.mqttTopics.replace(/\/#$/, ''), join(t.dir, 'state'))]);
      loads.push(['http', () => httpLoad(listen.http, token)]);
    }
    for (const [name, load] of loads) {
      progress(`${setup}: ${name} load`);
      await load();
      await snapshot(`after ${name} load`);
      await sleep(IDLE_S * 1000);
      await snapshot(`after ${name} load + ${IDLE_S} s idle`);
    }
    ctl.close();
  } finally {
    card?.kill('SIGKILL');
    await d?.stop();
    t.remove();
  }
  return lines;
}

const bin = build();
const summary: Record<string, unknown>[] = [];
for (const setup of SETUPS) {
  const lines = await run(setup, bin);
  const idle = lines[0].VmRSS as number;
  const rests = lines.filter((l) => String(l.when).endsWith('idle') && l.when !== 'idle');
  for (const r of rests) {
    const load = String(r.when).replace(/^after (\w+) load.*/, '$1');
    const peak = lines.find((l) => l.when === `after ${load} load`)!.VmRSS as number;
    summary.push({ bench: 'pcsc-memory', setup, load, node_flags: NODE_FLAGS.join(' '), rss_idle_mb: idle, rss_after_load_mb: peak, rss_after_idle_mb: r.VmRSS, growth_mb: +((r.VmRSS as number) - idle).toFixed(1), goal_growth_mb: 5 });
  }
}
for (const s of summary) console.log(JSON.stringify(s));
