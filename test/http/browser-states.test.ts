/**
 * The UI's empty and error states in Chromium: no readers, MQTT broker down,
 * session expired (ended elsewhere while the page is open).
 */
import t from 'tap';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../../src/web/build.js';
import { startTestGateway, PASSWORD, Client } from './harness.js';
import { launchChromium } from './browser.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'http');

/** A loopback port nobody listens on: the broker is "down". */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

t.test('no readers, broker down, session expired', async (t) => {
  await mkdir(ARTIFACTS, { recursive: true });
  const webDir = await mkdtemp(join(tmpdir(), 'scardgate-web-'));
  t.teardown(() => rm(webDir, { recursive: true, force: true }));
  await buildWeb(webDir);
  const port = await deadPort();
  const g = await startTestGateway({
    services: ['mqtt'],
    config: { http: { webRoot: webDir }, mqtt: { enabled: true, url: `mqtt://127.0.0.1:${port}` }, drivers: { sim: { readers: [] } } },
  });
  t.teardown(() => g.stop());
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.context.newPage();

  await page.goto(g.url + '/');
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#login').click();
  await page.locator('#no-readers').waitFor();
  t.match(await page.locator('#no-readers').textContent(), /No readers/);
  await page.locator('#broker-down').waitFor({ timeout: 10_000 });
  t.match(await page.locator('#broker-down').textContent(), new RegExp(`MQTT broker unreachable \\(mqtt://127\\.0\\.0\\.1:${port}\\)`));
  await page.screenshot({ path: join(ARTIFACTS, '09-no-readers-broker-down.png'), fullPage: true });

  // The technician's session is ended elsewhere (same cookie logged out): the page says so.
  const cookies = await browser.context.cookies(g.url);
  const c = new Client(g.url);
  c.cookie = cookies.map((k) => `${k.name}=${k.value}`).join('; ');
  c.csrf = (await c.req('GET', '/api/auth/session')).json.csrfToken;
  t.equal((await c.req('POST', '/api/auth/logout')).status, 200);
  await page.locator('#session-expired').waitFor({ timeout: 5000 });
  t.match(await page.locator('#session-expired').textContent(), /session expired/i);
  t.ok(await page.locator('#login-form').isVisible(), 'back at the login form');
  await page.screenshot({ path: join(ARTIFACTS, '10-session-expired.png'), fullPage: true });
});
