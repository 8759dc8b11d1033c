/**
 * The technician's flows in Chromium, each at 1280x800 and 390x844: events (filter, search, pause,
 * export), APDU console (reader and time in the history, no PIN in localStorage, history gone at
 * logout), Identify, health figures, the settings form (env-locked key, save), reader rename from the
 * set-up view, account (password change ends other logins, tokens, sign out everywhere).
 * Screenshots in test-artifacts/http/flow-*.png; axe-core checked after each flow.
 */
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildWeb } from '../../src/web/build.js';
import { startTestGateway, Client, PASSWORD, type TestGateway } from './harness.js';
import { launchChromium } from './browser.js';
import { announced, signIn } from './browser-page.js';
import { axeClean, shot, type ViewportName } from './browser-a11y.js';
import type { SimSlot } from '../../drivers/sim/slot.js';

// Twelve browser flows on a loaded 2-core machine: more than tap's default file bound.
t.setTimeout(600_000);

let g: TestGateway;
let webDir: string;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let password = PASSWORD;
const ENV_KEY = 'SCARDGATE_CORE_TRANSMIT_TIMEOUT_MS';

t.before(async () => {
  webDir = await mkdtemp(join(tmpdir(), 'scardgate-web-'));
  await buildWeb(webDir);
  // An environment override the settings form must show locked (the HTTP routes read the daemon's environment).
  process.env[ENV_KEY] = '20000';
  g = await startTestGateway({ config: { http: { webRoot: webDir, loginAttemptsPerMinute: 1000 } } });
  browser = await launchChromium();
  page = await browser.context.newPage();
});
t.teardown(async () => {
  delete process.env[ENV_KEY];
  await browser?.close();
  await g?.stop();
  if (webDir) await rm(webDir, { recursive: true, force: true });
});

const simA = () => g.gw.core.readers().find((r) => r.name.startsWith('Sim A'))!.name;
const simB = () => g.gw.core.readers().find((r) => r.name.startsWith('Sim B'))!.name;

async function go(vp: ViewportName, view: string): Promise<void> {
  if (vp === 'phone' && (await page.locator('#menu').getAttribute('aria-expanded')) !== 'true') await page.locator('#menu').click();
  await page.locator(`#tab-${view}`).click();
}

const VPS: ViewportName[] = ['desktop', 'phone'];

for (const vp of VPS) {
  t.test(`events at ${vp}: filter by reader, type and UID, search, pause, export CSV and JSON, dated times`, async (t) => {
    await signIn(page, g.url, password, vp);
    await g.gw.core.simulateInsert(simA(), { type: 'iso14443-4', uid: '04A1B2C3D4E5F6' });
    await g.gw.core.simulateInsert(simB(), 'iso7816');
    await go(vp, 'events');
    const rows = page.locator('#events .ev');
    await page.locator('#events .ev[data-type="card.inserted"]').nth(1).waitFor();
    const before = await rows.count();

    await page.locator('#ev-uid').fill('04a1b2');
    await page.waitForFunction(`document.querySelectorAll('#events .ev').length === ${await countWhere((e) => String(e.data.uid ?? '').includes('04A1B2'))}`);
    t.match(await rows.first().textContent(), /04A1B2C3D4E5F6/, 'UID filter keeps the contactless card');
    await page.locator('#ev-uid').fill('');

    await page.locator('#ev-reader').selectOption(simB());
    await page.waitForFunction(`[...document.querySelectorAll('#events .ev')].every((r) => r.textContent.includes(${JSON.stringify(simB())}))`);
    t.ok((await rows.count()) >= 1, 'reader filter shows Sim B events');
    await page.locator('#ev-reader').selectOption('');

    await page.locator('#ev-type').selectOption('card.inserted');
    await page.waitForFunction(`[...document.querySelectorAll('#events .ev')].every((r) => r.dataset.type === 'card.inserted')`);
    await page.locator('#ev-type').selectOption('');
    await page.locator('#ev-search').fill('iso14443');
    await page.waitForFunction(`document.querySelectorAll('#events .ev').length >= 1 && [...document.querySelectorAll('#events .ev')].every((r) => /iso14443/.test(r.textContent))`);
    await page.locator('#ev-search').fill('');
    await page.waitForFunction(`document.querySelectorAll('#events .ev').length === ${before}`);

    // Times carry the date and the zone.
    t.match(await rows.first().textContent(), /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC[+-]\d\d:\d\d/);

    // Pause: a new event does not move the list; resume shows it.
    await page.locator('#ev-pause').click();
    t.equal(await page.locator('#ev-pause').getAttribute('aria-pressed'), 'true');
    await g.gw.core.simulateRemove(simB());
    await page.locator('#ev-pause', { hasText: '1 new' }).waitFor();
    t.equal(await rows.count(), before, 'paused list unchanged while the new event is counted');
    await page.locator('#ev-pause').click();
    await page.waitForFunction(`document.querySelectorAll('#events .ev').length === ${before + 1}`);

    for (const [button, ext] of [['#ev-csv', 'csv'], ['#ev-json', 'json']] as const) {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.locator(button).click()]);
      t.match(dl.suggestedFilename(), new RegExp(`^scardgate-events-.*\\.${ext}$`));
      const path = await dl.path();
      const text = await readFile(path, 'utf8');
      if (ext === 'csv') {
        const lines = text.trim().split(/\r\n/);
        t.equal(lines[0], 'seq,time,type,reader,uid,cardType,atr,protocol,data');
        t.equal(lines.length, before + 2, 'header and one line per shown event');
        t.ok(lines.some((l) => l.includes('04A1B2C3D4E5F6')), 'CSV has the UID');
      } else {
        const list = JSON.parse(text) as Array<{ seq: number }>;
        t.equal(list.length, before + 1);
      }
    }
    await axeClean(t, page, 'events');
    await shot(page, `flow-${vp}-events`);
    await g.gw.core.simulateRemove(simA());
  });

  t.test(`APDU console at ${vp}: history with reader and time, VERIFY PIN never stored, history cleared at logout`, async (t) => {
    await signIn(page, g.url, password, vp);
    await g.gw.core.simulateInsert(simA(), 'iso7816');
    await go(vp, 'console');
    await page.locator('#apdu-reader').selectOption(simA());
    await page.locator('#apdu-input').fill('00 A4 00 0C 02 3F 00');
    await page.locator('#apdu-send').click();
    await page.locator('#apdu-history li').first().waitFor();
    await page.locator('#apdu-input').fill('00 20 00 81 04 31 32 33 34');
    await page.locator('#apdu-send').click();
    await page.locator('#apdu-history li').nth(1).waitFor();
    const first = await page.locator('#apdu-history li').first().textContent();
    t.match(first, /00 20 00 81 04 <4 bytes redacted>/, 'the VERIFY shows redacted');
    t.match(first, new RegExp(`${simA().replace(/[()]/g, '.')} · \\d{4}-\\d\\d-\\d\\d`), 'reader and dated time in the history');
    t.equal(await page.locator('#apdu-input').inputValue(), '', 'the PIN does not stay in the input');
    t.match(await announced(page, /9000|63C|success|verification/i), /9000|63C|success|verification/i, 'result announced in the live region');
    const stored = (await page.evaluate(`localStorage.getItem('scardgate.apdu.history')`)) as string;
    t.ok(stored.includes('00 A4 00 0C 02 3F 00'), 'ordinary command kept');
    t.notMatch(stored, /31 ?32 ?33 ?34/, 'no PIN digits in localStorage');
    t.notMatch(await page.content(), /31 32 33 34/, 'no PIN digits in the page');
    await axeClean(t, page, 'console');
    await shot(page, `flow-${vp}-console`);

    await page.locator('#logout').click();
    await page.locator('#login-form').waitFor();
    t.equal(await page.evaluate(`localStorage.getItem('scardgate.apdu.history')`), null, 'history gone after logout');
    await g.gw.core.simulateRemove(simA());
  });

  t.test(`Identify and health at ${vp}: feedback confirmed, exchanges and card counts shown`, async (t) => {
    await signIn(page, g.url, password, vp);
    const slot = () => (g.gw.drivers.find((d) => d.name === 'sim') as unknown as { list(): Array<{ slots: SimSlot[]; friendlyName: string }> }).list().find((r) => r.friendlyName === 'Sim B')!.slots[0];
    const before = slot().feedbackHistory.at(-1)?.at;
    const card = page.locator(`li.reader[data-reader="${simB()}"]`);
    await card.locator('button.identify').click();
    await card.locator('.identify-note', { hasText: 'LED blinked' }).waitFor();
    const got = slot().feedbackHistory.at(-1);
    t.ok(got && got.at !== before && got.led === 'blink', 'the reader got the feedback');
    t.match(await announced(page, /LED blinked/), /LED blinked/, 'announced');
    await shot(page, `flow-${vp}-identify`);

    await go(vp, 'health');
    const h = page.locator(`#reader-health li[data-reader="${simA()}"]`);
    await h.waitFor();
    t.match(await h.locator('.h-exchanges').textContent(), /^[1-9]\d*/, 'APDUs of the console flow counted');
    t.match(await h.locator('.h-cards').textContent(), /[1-9]\d* inserted · [1-9]\d* removed/);
    t.ok(await h.locator('svg.chart[role="img"]').first().getAttribute('aria-label'), 'chart has a text alternative');
    await axeClean(t, page, 'health');
    await shot(page, `flow-${vp}-health`);
  });

  t.test(`settings form at ${vp}: env-locked key named, a change saved through the config path`, async (t) => {
    await signIn(page, g.url, password, vp);
    await go(vp, 'config');
    await page.locator('#config-form').waitFor();
    t.match(await page.locator('#env-locked').textContent(), new RegExp(`core.transmitTimeoutMs \\(${ENV_KEY}\\)`));
    await page.locator('details[data-section="core"] > summary').click();
    const locked = page.locator('#cfg-core-transmitTimeoutMs');
    t.equal(await locked.isDisabled(), true, 'locked field disabled');
    t.match(await page.locator('#cfg-core-transmitTimeoutMs-h').textContent(), new RegExp(`set by the environment variable ${ENV_KEY}`));
    await page.locator('details[data-section="http"] > summary').click();
    const idle = page.locator('#cfg-http-sessionIdleMinutes');
    const want = vp === 'desktop' ? '600' : '601';
    await idle.fill(want);
    await page.locator('#form-save').click();
    await page.locator('#config-saved').waitFor();
    t.match(await readFile(g.configFile, 'utf8'), new RegExp(`sessionIdleMinutes: ${want}`), 'written to the file');
    t.match(await page.locator('#config-saved').textContent(), /Changed: .*http/, `saved: ${await page.locator('#config-saved').textContent()}`);
    await axeClean(t, page, 'config form');
    await shot(page, `flow-${vp}-config-form`);
    await page.locator('#config-mode-raw').click();
    await page.locator('#config-text').waitFor();
    t.equal(await page.locator('label[for="config-text"]').count(), 1, 'the YAML textarea is labelled');
    t.match(await page.locator('#config-text').inputValue(), new RegExp(`sessionIdleMinutes: ${want}`));
  });

  t.test(`set-up view at ${vp}: rename a configured reader, board listing says what it could not probe`, async (t) => {
    await signIn(page, g.url, password, vp);
    await go(vp, 'setup');
    await page.locator('#configured').waitFor();
    const item = page.locator('#configured li').nth(1);
    const newName = vp === 'desktop' ? 'Door West' : 'Door East';
    await item.locator('input').fill(newName);
    await item.locator('button', { hasText: 'Rename' }).click();
    await page.locator('#configured-config-saved').waitFor();
    t.match(await readFile(g.configFile, 'utf8'), new RegExp(`name: ${newName}`));
    t.match(await page.locator('#configured-restart-needed').textContent(), /drivers\.sim/, 'a driver change waits for a restart');
    await page.locator('#place-custom').check();
    await page.locator('#custom-path').fill('/dev/null-no-such-reader');
    await page.locator('#probe').click();
    await page.locator('#probe-result .error').waitFor({ timeout: 15_000 });
    t.match(await page.locator('#probe-result').textContent(), /No answer/);
    await axeClean(t, page, 'setup');
    await shot(page, `flow-${vp}-setup`);
  });

  t.test(`account at ${vp}: tokens created, listed, used and revoked; password change ends other logins`, async (t) => {
    await signIn(page, g.url, password, vp);
    await go(vp, 'account');
    const other = new Client(g.url);
    await other.login(password);
    t.equal((await other.req('GET', '/api/readers')).status, 200);

    const name = `door-${vp}`;
    await page.locator('#token-name').fill(name);
    await page.locator('#token-scope-transmit').check();
    await page.locator('#token-create').click();
    const token = await page.locator('#token-value').inputValue();
    t.match(token, /^sgt_/);
    await page.locator(`#token-list li[data-token="${name}"]`).waitFor();
    t.equal(await page.locator(`#token-list li[data-token="${name}"] .token-scopes`).textContent(), 'transmit');
    const withToken = await fetch(g.url + '/api/readers', { headers: { authorization: `Bearer ${token}` } });
    t.equal(withToken.status, 200, 'the new token works');
    const asAdmin = await fetch(g.url + '/api/config', { headers: { authorization: `Bearer ${token}` } });
    t.equal(asAdmin.status, 403, 'a transmit token cannot read the configuration');
    await axeClean(t, page, 'account');
    await shot(page, `flow-${vp}-account-token`);
    page.once('dialog', (d) => void d.accept());
    await page.locator(`#token-list li[data-token="${name}"] button`).click();
    await page.locator(`#token-list li[data-token="${name}"]`).waitFor({ state: 'detached' });
    t.equal((await fetch(g.url + '/api/readers', { headers: { authorization: `Bearer ${token}` } })).status, 401, 'revoked token refused');

    const next = `${PASSWORD} ${vp}`;
    await page.locator('#pw-current').fill(password);
    await page.locator('#pw-new').fill(next);
    await page.locator('#pw-again').fill(next);
    await shot(page, `flow-${vp}-account-password-form`);
    await page.locator('#pw-save').click();
    await page.locator('#pw-result').waitFor();
    const changed = (await page.locator('#pw-result').getAttribute('class')) === 'ok';
    if (changed) password = next;
    t.ok(changed, `password changed: ${await page.locator('#pw-result').textContent()}`);
    t.equal((await other.req('GET', '/api/readers')).status, 401, 'the other login ended');
    await go(vp, 'readers');
    await page.locator('#readers').waitFor();
    t.equal(await page.evaluate(`fetch('/api/readers').then((r) => r.status)`), 200, 'this browser continues');
    await shot(page, `flow-${vp}-account-password`);

    await go(vp, 'account');
    page.once('dialog', (d) => void d.accept());
    await page.locator('#signout-everywhere').click();
    await page.locator('#login-form').waitFor();
    t.match(await page.locator('#session-expired').textContent(), /Signed out/);
    t.equal(await page.evaluate(`fetch('/api/readers').then((r) => r.status)`), 401);
  });
}

async function countWhere(f: (e: { data: Record<string, unknown> }) => boolean): Promise<number> {
  const events = (await page.evaluate(`fetch('/api/events/recent?limit=500').then((r) => r.json())`)) as { events: Array<{ data: Record<string, unknown> }> };
  return events.events.filter(f).length;
}
