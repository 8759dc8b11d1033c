/**
 * The real daemon for the guided set-up's end-to-end browser tests: scardgated in its own process
 * (started from a config file the test writes once; the UI edits it from there on), a real Mosquitto
 * it publishes to, an MQTT subscriber on every topic, and the login/navigation steps the tests share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
import { VIEWPORTS, type ViewportName } from './browser-a11y.js';
import { launchChromium } from './browser.js';

export const root = process.cwd();

export interface Proc {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the first line (seen or to come) matching `re`; fails after `ms` naming what it waited for. */
  waitLine(re: RegExp, what: string, ms?: number, from?: number): Promise<string>;
  /** Resolves with the exit code; fails after `ms` naming the command. */
  exited(ms?: number): Promise<number>;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  for (const s of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: s }).on('line', (l) => {
      lines.push(l);
      for (const w of [...waiters]) w();
    });
  }
  const exit = new Promise<number>((resolve) => proc.once('exit', (code) => resolve(code ?? -1)));
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
    exited(ms = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${cmd} ${args.join(' ')} did not exit within ${ms} ms (last lines: ${lines.slice(-5).join(' | ')})`)), ms);
        void exit.then((code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
  };
}

export async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null) return;
  const gone = new Promise((r) => p.proc.once('exit', r));
  p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 8000);
  await gone;
  clearTimeout(timer);
}

export interface DaemonEnv {
  dir: string;
  url: string;
  configFile: string;
  controlSocket: string;
  daemon: Proc;
  messages: Array<{ topic: string; text: string }>;
  /** The first message from index `from` on whose text matches `re`; fails after `ms` naming what it waited for. */
  waitMessage(re: RegExp, what: string, from: number, ms?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Mosquitto, then `before(dir)` (an emulator the daemon will reach; the processes it returns are
 * stopped at close), then scardgated with a sim reader only, a password set, and a subscriber on '#'.
 */
export async function startDaemonEnv(vp: ViewportName, prefix: string, before?: (dir: string) => Promise<Proc[]>): Promise<DaemonEnv> {
  const dir = await mkdtemp(join(tmpdir(), `scardgate-${prefix}-ui-`));
  const webDir = join(dir, 'web');
  await buildWeb(webDir);
  const brokerPort = await freePort();
  await writeFile(join(dir, 'mosquitto.conf'), `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const broker = run(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf'), '-v']);
  await broker.waitLine(/mosquitto version .* running/, 'Mosquitto running', 60_000);
  const others = before ? await before(dir) : [];

  const httpPort = await freePort();
  const stateDir = join(dir, 'state');
  const controlSocket = join(dir, 'ctl.sock');
  const config = {
    gatewayId: `gw-ui-${vp}`,
    log: { level: 'info' },
    state: { dir: stateDir },
    control: { socket: controlSocket },
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
    controlSocket,
    daemon,
    messages,
    waitMessage(re, what, from, ms = 20_000) {
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
      for (const o of others) await stop(o);
      await stop(broker);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function login(page: Page): Promise<void> {
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#login').click();
  await page.locator('#live-status.open, #login-error').first().waitFor();
  if (await page.locator('#login-error').isVisible()) throw new Error(`login refused: ${await page.locator('#login-error').textContent()}`);
}

export async function go(page: Page, vp: ViewportName, view: string): Promise<void> {
  if (vp === 'phone' && (await page.locator('#menu').getAttribute('aria-expanded')) !== 'true') await page.locator('#menu').click();
  await page.locator(`#tab-${view}`).click();
}

/** Restart the gateway from the UI (confirmation, reconnection, new login); returns what the login form said. */
export async function restartFromUi(page: Page, env: DaemonEnv, shot: (name: string) => Promise<void>): Promise<string> {
  await page.locator('#restart').click();
  await page.locator('#restart-confirm').waitFor();
  await shot('3-confirm');
  const beforeRestart = env.daemon.lines.length;
  await page.locator('#restart-yes').click();
  await page.locator('#restarting').waitFor();
  await env.daemon.waitLine(/"msg":"restarted"/, 'daemon restarted in place', 30_000, beforeRestart);
  await page.locator('#login-form').waitFor({ timeout: 60_000 });
  const said = (await page.locator('#session-expired').textContent()) ?? '';
  await shot('4-after-restart');
  await login(page);
  return said;
}

/**
 * Chromium on `env`'s UI at viewport `vp`, logged in, on the set-up view; the browser and `env`
 * are closed at teardown. Dialogs (the remove confirmation) are accepted.
 */
export async function openSetupView(t: { teardown(fn: () => Promise<void>): void }, env: DaemonEnv, vp: ViewportName): Promise<Page> {
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
  return page;
}
