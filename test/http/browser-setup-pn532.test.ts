/**
 * The guided "add a reader" flow end to end, with no file edited by hand: the real daemon
 * (scardgated, its own process, a real Mosquitto for MQTT), an emulated PN532 on a pseudo-terminal
 * (the emulator's command-line program), and Chromium. The technician types the serial path, probes
 * (firmware), tests a tap, saves, restarts the gateway from the UI (confirmation, reconnection, new
 * login), and a tap on the new reader shows in the UI and arrives on MQTT. Run at 1280x800 and 390x844.
 * Screenshots in test-artifacts/http/pn532-*.png.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import mqtt from 'mqtt';
import type { Page } from 'playwright-core';
import { buildWeb } from '../../src/web/build.js';
import { setPassword } from '../../src/api/http/auth/password.js';
import { freePort, MOSQUITTO } from '../mqtt/mosquitto.js';
import { PASSWORD } from './harness.js';
import { launchChromium } from './browser.js';
import { VIEWPORTS, describeViolations, seriousViolations, shot, type ViewportName } from './browser-a11y.js';

t.setTimeout(600_000);

const root = process.cwd();
/** The emulator's CLI: emulators/pn532 once moved there, test/emulators/pn532 before. */
const EMULATOR = [join(root, 'emulators/pn532/cli.ts'), join(root, 'test/emulators/pn532/cli.ts')].find(existsSync)!;

interface Proc {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the first line (seen or to come) matching `re`; fails after `ms` naming what it waited for. */
  waitLine(re: RegExp, what: string, ms?: number, from?: number): Promise<string>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  for (const s of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: s }).on('line', (l) => {
      lines.push(l);
      for (const w of [...waiters]) w();
    });
  }
  return {
    proc,
    lines,
    waitLine(re, what, ms = 20_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = lines.slice(from).find((l) => re.test(l));
          if (hit === undefined) return false;
          waiters.delete(check as () => void);
          clearTimeout(timer);
          resolve(hit);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check as () => void);
          reject(new Error(`not seen within ${ms} ms: ${what} (last lines: ${lines.slice(-5).join(' | ')})`));
        }, ms);
        if (!check()) waiters.add(check as () => void);
      });
    },
  };
}

async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null) return;
  const gone = new Promise((r) => p.proc.once('exit', r));
  p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 8000);
  await gone;
  clearTimeout(timer);
}

async function setup(vp: ViewportName) {
  const dir = await mkdtemp(join(tmpdir(), 'scardgate-pn532-ui-'));
  const webDir = join(dir, 'web');
  await buildWeb(webDir);
  const brokerPort = await freePort();
  await writeFile(join(dir, 'mosquitto.conf'), `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const broker = run(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf'), '-v']);
  await broker.waitLine(/mosquitto version .* running/, 'Mosquitto running', 60_000);

  const link = join(dir, 'pn532');
  const emulator = run(process.execPath, ['--import', 'tsx', EMULATOR, '--link', link, '--no-pace']);
  await emulator.waitLine(/^ready /, 'PN532 emulator ready', 90_000);

  const httpPort = await freePort();
  const stateDir = join(dir, 'state');
  const config = {
    gatewayId: `gw-ui-${vp}`,
    log: { level: 'info' },
    state: { dir: stateDir },
    control: { socket: join(dir, 'ctl.sock') },
    pcsc: { enabled: false, socket: join(dir, 'pcscd.comm') },
    mqtt: { enabled: true, url: `mqtt://127.0.0.1:${brokerPort}`, protocolVersion: 4 },
    events: {},
    http: { host: '127.0.0.1', port: httpPort, webRoot: webDir, loginAttemptsPerMinute: 1000 },
    drivers: { sim: { readers: [{ name: 'Bench' }] } },
  };
  const configFile = join(dir, 'scardgate.yaml');
  await writeFile(configFile, `# written once by the test; the UI edits it from here on\n${stringify(config)}`);
  await setPassword(stateDir, PASSWORD);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SCARDGATE_')));
  const daemon = run(process.execPath, ['--import', 'tsx', join(root, 'src/bin/scardgated.ts'), '--config', configFile], env);
  await daemon.waitLine(/"msg":"ready"/, 'scardgated ready', 120_000);

  const sub = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, { protocolVersion: 4 });
  const messages: Array<{ topic: string; text: string }> = [];
  sub.on('message', (topic, payload) => messages.push({ topic, text: payload.toString() }));
  await new Promise<void>((resolve, reject) => sub.once('connect', () => sub.subscribe('#', (err) => (err ? reject(err) : resolve()))));

  return {
    dir,
    url: `http://127.0.0.1:${httpPort}`,
    configFile,
    emulator,
    daemon,
    messages,
    /** The first message from index `from` on whose text matches `re`; fails after `ms` naming what it waited for. */
    waitMessage(re: RegExp, what: string, from: number, ms = 20_000): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = messages.slice(from).find((m) => re.test(m.text));
          if (!hit) return false;
          sub.off('message', onMessage);
          clearTimeout(timer);
          resolve(hit.text);
          return true;
        };
        const onMessage = (): void => void check();
        const timer = setTimeout(() => {
          sub.off('message', onMessage);
          reject(new Error(`not on MQTT within ${ms} ms: ${what} (topics seen: ${[...new Set(messages.map((m) => m.topic))].join(', ')})`));
        }, ms);
        if (!check()) sub.on('message', onMessage);
      });
    },
    async close() {
      sub.end(true);
      await stop(daemon);
      await stop(emulator);
      await stop(broker);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function login(page: Page): Promise<void> {
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#login').click();
  await page.locator('#live-status.open, #login-error').first().waitFor();
  if (await page.locator('#login-error').isVisible()) throw new Error(`login refused: ${await page.locator('#login-error').textContent()}`);
}

async function go(page: Page, vp: ViewportName, view: string): Promise<void> {
  if (vp === 'phone' && (await page.locator('#menu').getAttribute('aria-expanded')) !== 'true') await page.locator('#menu').click();
  await page.locator(`#tab-${view}`).click();
}

for (const vp of ['desktop', 'phone'] as ViewportName[]) {
  t.test(`guided PN532 set-up at ${vp}: probe, test tap, save, restart, tap -> UI and MQTT`, async (t) => {
    const env = await setup(vp);
    const browser = await launchChromium();
    t.teardown(async () => {
      await browser.close();
      await env.close();
    });
    const page = await browser.context.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.setViewportSize(VIEWPORTS[vp]);
    await page.goto(env.url + '/');
    await login(page);

    await go(page, vp, 'setup');
    await page.locator('#place-custom').check();
    await page.locator('#custom-path').fill(join(env.dir, 'pn532'));
    await page.locator('#reader-name').fill('Door PN532');
    await page.locator('#probe').click();
    await page.locator('#probe-firmware').waitFor({ timeout: 20_000 });
    t.match(await page.locator('#probe-firmware').textContent(), /^PN532 /, 'firmware read from the module');

    await page.locator('#probe-tap').click();
    await page.locator('#probe-tap', { hasText: 'Hold a card' }).waitFor();
    const from = env.emulator.lines.length;
    env.emulator.proc.stdin!.write('tap iso14443-4 04A1B2C3D4E5F6\n');
    await env.emulator.waitLine(/^ok tap/, 'emulator tap', 5000, from);
    await page.locator('#probe-uid').waitFor({ timeout: 20_000 });
    t.equal(await page.locator('#probe-uid').textContent(), '04A1B2C3D4E5F6', 'test tap seen with its UID');
    env.emulator.proc.stdin!.write('remove\n');
    const v = await seriousViolations(page);
    t.same(v.map((x) => x.id), [], `setup: no serious or critical axe violation${v.length ? `\n${describeViolations(v)}` : ''}`);
    await shot(page, `pn532-${vp}-1-probed`);

    await page.locator('#reader-save').click();
    await page.locator('#restart-needed').waitFor();
    t.match(await page.locator('#restart-needed').textContent(), /drivers\.pn532/);
    const file = await readFile(env.configFile, 'utf8');
    t.match(file, /name: Door PN532/, 'the reader is in the file');
    t.match(file, /# written once by the test/, 'comments kept');
    await shot(page, `pn532-${vp}-2-saved`);

    await page.locator('#restart').click();
    await page.locator('#restart-confirm').waitFor();
    await shot(page, `pn532-${vp}-3-confirm`);
    const beforeRestart = env.daemon.lines.length;
    await page.locator('#restart-yes').click();
    await page.locator('#restarting').waitFor();
    await env.daemon.waitLine(/"msg":"restarted"/, 'daemon restarted in place', 30_000, beforeRestart);
    await page.locator('#login-form').waitFor({ timeout: 60_000 });
    t.match(await page.locator('#session-expired').textContent(), /restarted/);
    await shot(page, `pn532-${vp}-4-after-restart`);
    await login(page);
    t.match(page.url(), /#\/setup$/, 'back on the view the technician was on');
    await go(page, vp, 'readers');
    const card = page.locator('li.reader[data-reader^="Door PN532"]');
    await card.waitFor({ timeout: 20_000 });

    const mqttFrom = env.messages.length;
    env.emulator.proc.stdin!.write('tap mifare-classic-1k 0A0B0C0D\n');
    await card.locator('.badge[data-state="present"]').waitFor({ timeout: 20_000 });
    t.match(await card.locator('.uid').textContent(), /0A 0B 0C 0D|0A0B0C0D/, 'the tap shows on the reader card');
    await shot(page, `pn532-${vp}-5-tap`);
    await go(page, vp, 'events');
    await page.locator('#events .ev', { hasText: '0A0B0C0D' }).first().waitFor({ timeout: 20_000 });
    const msg = await env.waitMessage(/card\.inserted.*0A0B0C0D|0A0B0C0D.*card\.inserted/, 'card.inserted with UID 0A0B0C0D', mqttFrom);
    t.match(msg, /Door PN532/, 'the tap arrived on MQTT, from the new reader');
    await shot(page, `pn532-${vp}-6-event`);
  });
}
