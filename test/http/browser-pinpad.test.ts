/**
 * The technician types on an emulated PIN pad from the web UI, at 1280x800 and 390x844: a real
 * gateway with an emulated Gemalto Ezio Shield (drivers.ccid.emulate, profile ezio-pinpad) and the
 * HTTP service, headless Chromium on the built web bundle. A PC/SC client (through the core, as the
 * pcsc socket would) waits in VERIFY_PIN_DIRECT; the PIN typed in the Readers view reaches the card
 * (90 00), a wrong one is refused (63 Cx), the pad's Cancel answers 64 01, keys with no prompt are
 * refused with the gateway's message announced; the input is emptied at once and the PIN shows in
 * no page text, storage, URL or gateway log. Sim readers have no pad control.
 * Screenshots in test-artifacts/http/pinpad-*.png; axe-core checked.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildWeb } from '../../src/web/build.js';
import { FEATURE, PROTOCOL, SHARE } from '../../src/pcsc/constants.js';
import { featureIoctl } from '../../drivers/ccid/slot.js';
import { startTestGateway, PASSWORD, type TestGateway } from './harness.js';
import { launchChromium } from './browser.js';
import { announced, signIn } from './browser-page.js';
import { axeClean, shot, type ViewportName } from './browser-a11y.js';
import { waitFor } from '../helpers/wait-for.js';
import { verifyStructure } from '../ccid/helpers.js';

// Two viewports, each with a 10 s wait for a prompt that never comes, on a loaded 2-core machine.
t.setTimeout(300_000);

/** Digits found nowhere else (not 1234): the card's PIN and a wrong one. */
const PIN = '480371';
const WRONG = '905162';
const CARD = { type: 'iso7816', pins: [{ ref: 0x81, pin: PIN }] };
/** Where a PIN could show: as typed, or as the ASCII bytes of the VERIFY the pad builds (plain or spaced hex). */
const forms = [PIN, WRONG].flatMap((p) => {
  const h = Buffer.from(p).toString('hex');
  return [p, h, h.replace(/(..)(?!$)/g, '$1 ')];
});
const leaks = (text: string): string[] => forms.filter((s) => text.toLowerCase().includes(s));

let g: TestGateway;
let webDir: string;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let pad: string;
let handle: number;
let ctx: number;

t.before(async () => {
  webDir = await mkdtemp(join(tmpdir(), 'scardgate-web-'));
  await buildWeb(webDir);
  g = await startTestGateway({
    config: {
      http: { webRoot: webDir, loginAttemptsPerMinute: 1000 },
      drivers: { ccid: { emulate: [{ profile: 'ezio-pinpad', cards: [{ card: CARD }] }] } },
    },
  });
  pad = (await waitFor(() => g.gw.core.readers().find((r) => r.name.startsWith('Gemalto Ezio') && r.atr.length > 0), 'the Ezio Shield with its card')).name;
  // The program on the PC/SC side: one connection to the card, each VERIFY_PIN_DIRECT a prompt on the pad.
  ctx = g.gw.core.establishContext('pinpad-test');
  handle = (await g.gw.core.connect(ctx, pad, SHARE.SHARED, PROTOCOL.ANY)).handle;
  browser = await launchChromium();
  page = await browser.context.newPage();
});
t.teardown(async () => {
  await browser?.close();
  if (g) {
    await g.gw.core.disconnect(handle, 0).catch(() => undefined);
    await g.gw.core.releaseContext(ctx).catch(() => undefined);
    await g.stop();
  }
  if (webDir) await rm(webDir, { recursive: true, force: true });
});

/** The program prompts: VERIFY_PIN_DIRECT (30 s on the pad), answered with the card's status word in hex. */
const prompt = (): Promise<string> => g.gw.core.control(handle, featureIoctl(FEATURE.VERIFY_PIN_DIRECT), verifyStructure(30)).then((b) => b.toString('hex'));

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

for (const vp of ['desktop', 'phone'] as ViewportName[]) {
  t.test(`PIN pad at ${vp}: right PIN 90 00, wrong 63 Cx, Cancel 64 01, no prompt announced; the PIN nowhere`, async (t) => {
    await signIn(page, g.url, PASSWORD, vp);
    const card = page.locator(`li.reader[data-reader="${pad}"]`);
    const input = card.locator('form.pinpad input.pin');
    await input.waitFor();
    // Bounded by the pad's control having rendered in the same list.
    const sims = page.locator('li.reader[data-reader^="Sim "]');
    t.equal(await sims.count(), 2, 'both sim readers listed');
    t.equal(await sims.locator('form.pinpad').count(), 0, 'no PIN pad control on a reader without a pad');
    t.same(
      await input.evaluate((el: HTMLInputElement) => [el.type, el.inputMode, el.autocomplete, el.pattern, el.maxLength, el.labels?.[0]?.textContent?.trim()]),
      ['password', 'numeric', 'off', '[0-9]{1,16}', 16, 'PIN'],
      'a labelled numeric password input, no autocomplete',
    );
    t.match(await card.locator('form.pinpad').textContent(), /program must be waiting in secure PIN entry/, 'the hint says where the keys go');
    await axeClean(t, page, 'readers with a PIN pad');
    await shot(page, `pinpad-${vp}-1-pad`);

    // The right PIN, all from the keyboard: type, Enter.
    let answer = prompt();
    await input.focus();
    await page.keyboard.type(PIN);
    await page.keyboard.press('Enter');
    t.equal(await input.inputValue(), '', 'the input is emptied as the PIN is sent');
    t.equal(await answer, '9000', 'right PIN typed in the browser: the waiting VERIFY gets 90 00');
    t.match(await announced(page, new RegExp(`PIN entered on ${escape(pad)}`)), /^PIN entered on Gemalto Ezio/, 'announced');
    await card.locator('.pinpad-note', { hasText: 'PIN entered on' }).waitFor();

    // A wrong one, with the mouse.
    answer = prompt();
    await input.fill(WRONG);
    await card.locator('button.pin-enter').click();
    t.equal(await input.inputValue(), '', 'emptied again');
    t.match(await answer, /^63c[0-9a-f]$/, 'wrong PIN: 63 Cx, the tries left');
    await card.locator('button.pin-enter:not([disabled])').waitFor();

    // The pad's Cancel key, reached with Tab from the input.
    answer = prompt();
    await input.focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Cancel', 'Tab reaches the Cancel key');
    await page.keyboard.press('Space');
    t.equal(await answer, '6401', 'Cancel on the pad: 64 01');
    t.match(await announced(page, /Cancel pressed on Gemalto Ezio/), /^Cancel pressed on Gemalto Ezio/, 'announced');
    await card.locator('button.pin-enter:not([disabled])').waitFor();
    t.equal(await page.evaluate(() => document.activeElement?.closest('form.pinpad') !== null), true, 'the keyboard focus is back on the pad once the Cancel key (disabled while waiting) is answered');

    // No program waiting: the gateway waits its 10 s for a prompt, then refuses; the UI says so.
    await input.fill(PIN);
    await input.press('Enter');
    t.equal(await input.inputValue(), '', 'emptied even though the keys will not be taken');
    await card.locator('.pinpad-note', { hasText: 'Waiting for the PIN prompt' }).waitFor();
    t.match(await announced(page, /showed no PIN prompt within 10000 ms/, { region: '#announce-error', ms: 30_000 }), /showed no PIN prompt within 10000 ms: .*nothing was kept/, 'the refusal is announced');
    t.match(await card.locator('.pinpad-note.error').textContent(), /showed no PIN prompt/, 'and shown on the reader');
    t.equal(await page.evaluate(() => document.activeElement?.classList.contains('pin')), true, 'the focus is still on the PIN input');
    await axeClean(t, page, 'readers after a refused PIN');
    await shot(page, `pinpad-${vp}-2-refused`);

    const storage = (await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]))) as string;
    for (const [what, text] of [
      ['the page', await page.content()],
      ['localStorage and sessionStorage', storage],
      ['the URL', page.url()],
      ['the live regions', `${await page.locator('#announce').textContent()} ${await page.locator('#announce-error').textContent()}`],
      ["the gateway's log (debug level)", g.ring.tail().join('\n')],
    ] as const)
      t.same(leaks(text), [], `no PIN in ${what}`);
    t.ok(g.ring.tail().some((l) => l.includes('PIN pad keys pressed')), 'the presses were logged (without the digits)');
  });
}
