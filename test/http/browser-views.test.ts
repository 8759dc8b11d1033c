/**
 * Every view of the web UI in Chromium at 1280x800 and 390x844 (light, and dark on the phone):
 * it renders its content, axe-core finds no serious or critical violation, the navigation marks
 * the current view (aria-current) and fits the phone behind a menu button. Screenshots in
 * test-artifacts/http/views-*.png.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildWeb } from '../../src/web/build.js';
import { startTestGateway, PASSWORD, type TestGateway } from './harness.js';
import { launchChromium } from './browser.js';
import { VIEWPORTS, describeViolations, seriousViolations, shot, type ViewportName } from './browser-a11y.js';

// Nine views, three times, with axe each time, on a loaded 2-core machine: more than tap's default file bound.
t.setTimeout(400_000);

let g: TestGateway;
let webDir: string;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;

/** Each view and what proves it rendered its content (not a loading line). */
const VIEWS: Array<[string, string]> = [
  ['readers', '#readers li.reader'],
  ['health', '#reader-health li.reader'],
  ['events', '#events .ev'],
  ['console', '#apdu-form'],
  ['setup', '#places'],
  ['config', '#config-form'],
  ['account', '#token-create'],
  ['diagnostics', '#board-serial'],
  ['logs', '#logs li'],
];

t.before(async () => {
  webDir = await mkdtemp(join(tmpdir(), 'scardgate-web-'));
  await buildWeb(webDir);
  g = await startTestGateway({ config: { http: { webRoot: webDir } } });
  // Something in every view: a card (events, health), an APDU exchanged (latency chart).
  const name = g.gw.core.readers().find((r) => r.name.startsWith('Sim A'))!.name;
  await g.gw.core.simulateInsert(name, 'iso7816');
  browser = await launchChromium();
  page = await browser.context.newPage();
  await page.setViewportSize(VIEWPORTS.desktop);
  await page.goto(g.url + '/');
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#login').click();
  await page.locator('#readers').waitFor();
  await page.evaluate(`fetch('/api/auth/session').then((r) => r.json()).then((s) => fetch('/api/transmit', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ reader: ${JSON.stringify(name)}, apdu: '00A4000C023F00' }) }))`);
});
t.teardown(async () => {
  await browser?.close();
  await g?.stop();
  if (webDir) await rm(webDir, { recursive: true, force: true });
});

async function open(view: string, marker: string, vp: ViewportName): Promise<void> {
  if (vp === 'phone') {
    // The phone's navigation is a menu: closed at first, every view reachable from it.
    const menu = page.locator('#menu');
    if ((await menu.getAttribute('aria-expanded')) !== 'true') await menu.click();
    await page.locator('#nav.open').waitFor();
  }
  await page.locator(`#tab-${view}`).click();
  await page.locator(marker).first().waitFor({ timeout: 10_000 });
}

for (const [vp, scheme] of [['desktop', 'light'], ['phone', 'light'], ['phone', 'dark']] as Array<[ViewportName, 'light' | 'dark']>) {
  t.test(`every view at ${vp} (${VIEWPORTS[vp].width}x${VIEWPORTS[vp].height}), ${scheme}`, async (t) => {
    await page.setViewportSize(VIEWPORTS[vp]);
    await page.emulateMedia({ colorScheme: scheme });
    for (const [view, marker] of VIEWS) {
      await open(view, marker, vp);
      t.equal(await page.locator(`#tab-${view}`).getAttribute('aria-current'), 'page', `${view}: the nav marks the current view`);
      t.equal(await page.locator('nav [aria-current]').count(), 1, `${view}: one current view`);
      if (vp === 'phone') {
        t.equal(await page.locator('#nav').isVisible(), false, `${view}: the menu closes once a view is chosen`);
        const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
        t.equal(overflow, 0, `${view}: nothing wider than the phone's screen`);
      }
      const v = await seriousViolations(page);
      t.same(v.map((x) => x.id), [], `${view}: no serious or critical axe violation${v.length ? `\n${describeViolations(v)}` : ''}`);
      await shot(page, `views-${vp}-${scheme}-${view}`);
    }
  });
}

t.test('phone: the menu button is labelled, announces its state and lists every view', async (t) => {
  await page.setViewportSize(VIEWPORTS.phone);
  await page.emulateMedia({ colorScheme: 'light' });
  const menu = page.locator('#menu');
  t.equal(await menu.getAttribute('aria-expanded'), 'false');
  await menu.click();
  t.equal(await menu.getAttribute('aria-expanded'), 'true');
  t.equal(await page.locator('#nav a').count(), VIEWS.length);
  for (const [view] of VIEWS) t.ok(await page.locator(`#tab-${view}`).isVisible(), `${view} reachable`);
  await shot(page, 'views-phone-menu-open');
  // Keyboard: Tab from the menu button reaches the first view link.
  await menu.focus();
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'tab-readers');
  await menu.click();
});

t.test('the empty reader card is a card, not the page placeholder', async (t) => {
  await page.setViewportSize(VIEWPORTS.desktop);
  await page.locator('#tab-readers').click();
  const card = page.locator('li.reader[data-reader^="Sim B"]');
  await card.waitFor();
  t.equal(await card.locator('.badge').getAttribute('data-state'), 'empty');
  const style = await card.evaluate((el) => ({ align: getComputedStyle(el).textAlign, cls: el.className }));
  t.notMatch(style.cls, /\bempty\b/, 'no .empty class on the card');
  t.equal(style.align, 'start', 'left-aligned like the other cards');
});
