/**
 * The UI over HTTPS (the appliance's certificate): login with the Secure
 * cookie, live card state over wss://. The certificate is a throw-away
 * self-signed one, so the browser is told to accept it.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../../src/web/build.js';
import { startTestGateway, PASSWORD } from './harness.js';
import { launchChromium } from './browser.js';

t.test('HTTPS: login and a live card over wss://', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'scardgate-https-ui-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`openssl failed (apt-get install openssl): ${(e as Error).message}`, { cause: e });
  }
  const webDir = join(dir, 'web');
  await buildWeb(webDir);
  const g = await startTestGateway({ config: { http: { webRoot: webDir, tls: { cert, key } } } });
  t.teardown(() => g.stop());
  t.match(g.url, /^https:/);
  const browser = await launchChromium({ ignoreHTTPSErrors: true });
  t.teardown(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(g.url + '/');
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#login').click();
  await page.locator('#readers').waitFor();
  const cookie = (await browser.context.cookies(g.url)).find((c) => c.name === 'scardgate_session');
  t.equal(cookie?.secure, true, 'Secure session cookie');
  t.equal(cookie?.httpOnly, true);
  t.equal(cookie?.sameSite, 'Strict');
  await page.locator('#live-status.open').waitFor();
  const name = g.gw.core.readers().find((r) => r.name.startsWith('Sim A'))!.name;
  await g.gw.core.simulateInsert(name, 'iso7816');
  await page.locator(`li.reader[data-reader="${name}"] .badge[data-state="present"]`).waitFor({ timeout: 5000 });
  t.pass('card shown live over wss');
});
