/**
 * The web UI in a real browser (Debian's Chromium, headless) against a real
 * gateway: login, live card state, APDU console, config editor, logout.
 * Screenshots go to test-artifacts/http/.
 */
import t from 'tap';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildWeb } from '../../src/web/build.js';
import { startTestGateway, PASSWORD, type TestGateway } from './harness.js';
import { launchChromium } from './browser.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'http');
let g: TestGateway;
let webDir: string;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;

t.before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  webDir = await mkdtemp(join(tmpdir(), 'scardgate-web-'));
  await buildWeb(webDir);
  g = await startTestGateway({ config: { http: { webRoot: webDir } } });
  browser = await launchChromium();
  page = await browser.context.newPage();
});
t.teardown(async () => {
  await browser?.close();
  await g?.stop();
  if (webDir) await rm(webDir, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const readerCard = (prefix: string) => page.locator(`li.reader[data-reader^="${prefix}"]`);

t.test('login: a wrong password is refused, the right one opens the readers view', async (t) => {
  await page.goto(g.url + '/');
  await page.locator('#password').fill('not the password');
  await page.locator('#login').click();
  await page.locator('#login-error').waitFor();
  t.equal(await page.locator('#login-error').textContent(), 'Wrong password.');
  await shot('01-login-refused');

  await page.locator('#password').fill(PASSWORD);
  await page.locator('#login').click();
  await page.locator('#readers').waitFor();
  t.equal(await page.locator('li.reader').count(), 2, 'both simulated readers listed');
  t.equal(await readerCard('Sim A').locator('.badge').textContent(), 'No card');
  await page.locator('#live-status.open').waitFor();
  await shot('02-readers-empty-slots');
});

t.test('a simulated card inserted on the gateway shows live, without reload', async (t) => {
  const name = g.gw.core.readers().find((r) => r.name.startsWith('Sim A'))!.name;
  await g.gw.core.simulateInsert(name, 'iso7816');
  await readerCard('Sim A').locator('.badge[data-state="present"]').waitFor({ timeout: 5000 });
  t.equal(await readerCard('Sim A').locator('.badge').textContent(), 'Card present');
  t.match(await readerCard('Sim A').locator('.atr').textContent(), /^3B /, 'ATR shown');

  // And from the UI's own button, on the other reader.
  await readerCard('Sim B').locator('button.sim-insert').click();
  await readerCard('Sim B').locator('.badge[data-state="present"]').waitFor({ timeout: 5000 });
  t.pass('UI insert button works');
  await shot('03-card-present');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('03b-card-present-phone');
  await page.setViewportSize({ width: 1280, height: 720 });

  await page.locator('#tab-events').click();
  await page.locator('#events tr.card-inserted').first().waitFor({ timeout: 5000 });
  t.ok((await page.locator('#events tr.card-inserted').count()) >= 2, 'card events listed');
  await shot('04-events');
});

t.test('APDU console: bad hex refused as typed, SELECT MF answered 9000', async (t) => {
  await page.locator('#tab-console').click();
  const input = page.locator('#apdu-input');
  await input.fill('00 A4 0G');
  t.match(await page.locator('#apdu-check').textContent(), /invalid hex character "G" at position 7/);
  t.equal(await page.locator('#apdu-send').isDisabled(), true, 'cannot send bad hex');
  t.equal(await input.getAttribute('aria-invalid'), 'true');
  await shot('05-apdu-bad-hex');

  await page.locator('#apdu-reader').selectOption({ label: g.gw.core.readers().find((r) => r.name.startsWith('Sim A'))!.name + ' ' });
  await input.fill('00 A4 00 00 02 3F 00');
  t.match(await page.locator('#apdu-check').textContent(), /7 bytes/);
  await page.locator('#apdu-send').click();
  await page.locator('#apdu-sw').waitFor();
  t.equal(await page.locator('#apdu-sw').textContent(), '9000');
  t.equal(await page.locator('#apdu-sw-text').textContent(), 'success');
  t.match(await page.locator('#apdu-response').textContent(), /90 00$/);
  await shot('06-apdu-9000');
});

t.test('config editor: an invalid edit is refused with the key path, file untouched', async (t) => {
  await page.locator('#tab-config').click();
  await page.locator('#config-mode-raw').click();
  const area = page.locator('#config-text');
  await area.waitFor();
  const text = await area.inputValue();
  t.match(text, /port: 0/);
  await area.fill(text.replace('port: 0', 'port: 70000'));
  await page.locator('#config-save').click();
  await page.locator('#config-problems').waitFor();
  t.match(await page.locator('#config-problems').textContent(), /http\.port: 70000 is out of range/);
  await shot('07-config-refused');
});

t.test('logs view: recent lines, and new ones appear live', async (t) => {
  await page.locator('#tab-logs').click();
  await page.locator('#logs li').first().waitFor();
  await fetch(g.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'live-log-probe' }) });
  await page.locator('#logs li', { hasText: 'web login refused' }).first().waitFor({ timeout: 5000 });
  t.pass('a refused login shows in the open logs view without reload');
  await shot('07b-logs');
});

t.test('logout: back to the login form, and the API refuses the old session', async (t) => {
  await page.locator('#logout').click();
  await page.locator('#login-form').waitFor();
  const status = await page.evaluate(async () => (await fetch('/api/readers')).status);
  t.equal(status, 401);
  await page.reload();
  await page.locator('#login-form').waitFor();
  t.pass('a reload shows the login form');
  await shot('08-logged-out');
});

t.test('static UI: compressed, hashed assets cached for good, index revalidated, API never cached', async (t) => {
  const index = await fetch(g.url + '/', { headers: { 'accept-encoding': 'gzip' } });
  t.equal(index.status, 200);
  t.equal(index.headers.get('cache-control'), 'no-cache');
  t.match(index.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await index.text();
  const js = /src="(\/assets\/app-[A-Z0-9]{8}\.js)"/.exec(html)?.[1];
  t.ok(js, 'index points at the hashed bundle');
  const raw = await import('node:http');
  const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
    raw.get(g.url + js, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
      r.resume();
      resolve(r.headers);
    }).on('error', reject);
  });
  t.equal(headers['content-encoding'], 'gzip', 'served pre-compressed');
  t.equal(headers['cache-control'], 'public, max-age=31536000, immutable');
  const api = await fetch(g.url + '/api/readers');
  t.equal(api.headers.get('cache-control'), 'no-store');
});
