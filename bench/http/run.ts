/**
 * Web UI benchmark against a real in-process gateway and Debian's Chromium:
 *  - first-load bytes on the wire (compressed, headers included) for the login
 *    page, and for the logged-in readers view;
 *  - card-event-to-UI latency: from the core announcing a card insertion to the
 *    reader's badge changing in the page (MutationObserver), both sides on the
 *    same machine's clock.
 * Last lines: one JSON object each.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../../src/web/build.js';
import { startTestGateway, PASSWORD } from '../../test/http/harness.js';
import { launchChromium } from '../../test/http/browser.js';
import { CARD_STATE } from '../../src/pcsc/constants.js';

const ROUNDS = Number(process.env.ROUNDS ?? 40);
// Both sides on the system's wall clock (Date.now, 1 ms resolution): Chromium's performance.timeOrigin is
// coarsened and not aligned with Node's, which gave negative latencies.
const now = (): number => Date.now();

const webDir = await mkdtemp(join(tmpdir(), 'scardgate-bench-web-'));
const build = await buildWeb(webDir);
const g = await startTestGateway({ config: { http: { webRoot: webDir, loginAttemptsPerMinute: 1000 }, log: { level: 'info' } } });
const browser = await launchChromium();
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;
try {
  // First load on each viewport: a fresh page, no cache, bytes on the wire (compressed, headers included).
  const firstLoad: Record<string, number> = {};
  let page!: Awaited<ReturnType<typeof browser.context.newPage>>;
  for (const [vp, size] of Object.entries(VIEWPORTS)) {
    if (page) await page.close();
    // A first visit: no session cookie from the previous viewport's login.
    await browser.context.clearCookies();
    page = await browser.context.newPage();
    await page.setViewportSize(size);
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    let bytes = 0;
    cdp.on('Network.loadingFinished', (e) => {
      bytes += e.encodedDataLength;
    });
    await page.goto(g.url + '/', { waitUntil: 'networkidle' });
    await page.locator('#login-form').waitFor();
    const loginBytes = bytes;
    bytes = 0;
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#login').click();
    await page.locator('#readers').waitFor();
    await page.locator('#live-status.open').waitFor();
    await page.waitForLoadState('networkidle');
    firstLoad[`first_load_login_bytes_${vp}`] = loginBytes;
    firstLoad[`first_load_after_login_bytes_${vp}`] = loginBytes + bytes;
  }

  // Latency: the page timestamps the badge change; the core's event is timestamped here.
  const reader = g.gw.core.readers().find((r) => r.name.startsWith('Sim A'))!.name;
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const present of [true, false]) {
      const want = present ? 'present' : 'empty';
      // A string, not a function: tsx's name helpers do not exist in the page.
      const seen = page.evaluate(`new Promise((resolve) => {
        const sel = ${JSON.stringify(`li.reader[data-reader="${reader}"] .badge`)};
        const check = () => {
          const el = document.querySelector(sel);
          if (el && el.getAttribute('data-state') === ${JSON.stringify(want)}) { resolve(Date.now()); return true; }
          return false;
        };
        if (check()) return;
        const mo = new MutationObserver(() => { if (check()) mo.disconnect(); });
        mo.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
      })`) as Promise<number>;
      // Let the observer install before the event happens.
      await page.evaluate('new Promise((r) => requestAnimationFrame(() => r(null)))');
      // t0: the core's first announcement of the change (the reader table entry showing the card, or its absence);
      // card-inserted itself comes later, once the card is powered.
      let t0 = 0;
      const ev = 'reader-state';
      const onEv = (r: { name: string; state: number }): void => {
        if (r.name === reader && t0 === 0 && ((r.state & CARD_STATE.PRESENT) !== 0) === present) t0 = now();
      };
      g.gw.core.on(ev, onEv);
      if (present) await g.gw.core.simulateInsert(reader, 'iso7816');
      else await g.gw.core.simulateRemove(reader);
      const t1 = await seen;
      g.gw.core.off(ev, onEv);
      if (present) samples.push(t1 - t0);
    }
  }
  samples.sort((a, b) => a - b);
  const q = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))];
  const round = (n: number): number => Math.round(n * 100) / 100;
  const assets = build.files.reduce((a, f) => a + f.gzip, 0);
  console.log(`web build: ${build.files.map((f) => `${f.path} ${f.bytes} B (gzip ${f.gzip}, br ${f.brotli})`).join('; ')}`);
  console.log(`${ROUNDS} card insertions on ${reader}`);
  console.log('machine shared with other engineers running tests: latency figures are loaded-machine figures');
  console.log(JSON.stringify({ bench: 'http', ...firstLoad, ui_assets_gzip_bytes: assets, goal_first_load_bytes: 150 * 1024 }));
  console.log(JSON.stringify({ bench: 'http', card_event_to_ui_ms_median: round(q(0.5)), card_event_to_ui_ms_p95: round(q(0.95)), card_event_to_ui_ms_max: round(samples[samples.length - 1]), rounds: samples.length, goal_ms: 100 }));
} finally {
  await browser.close();
  await g.stop();
  await rm(webDir, { recursive: true, force: true });
}
