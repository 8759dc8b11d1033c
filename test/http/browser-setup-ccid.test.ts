/**
 * The guided "add a reader" flow for a USB CCID reader, end to end, with no file edited by hand:
 * the real daemon (scardgated, its own process, a real Mosquitto for MQTT) and Chromium. The
 * technician picks "an emulated USB CCID reader" (emulators/ccid, hosted by the daemon behind the
 * same USB binding interface as real USB), chooses the ACR122U model and a serial number, probes
 * (PC/SC names as pcscd gives them, firmware, descriptor facts), inserts a test card on the emulator,
 * saves (drivers.ccid.emulate), restarts the gateway from the UI, and a card put on the new reader
 * (scardctl insert, through the control channel to the emulated device's slot) shows in the UI and
 * arrives on MQTT. Run at 1280x800 and 390x844. Screenshots in test-artifacts/http/ccid-*.png.
 */
import t, { type Test } from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeViolations, seriousViolations, shot, type ViewportName } from './browser-a11y.js';
import { go, openSetupView, restartFromUi, root, run, startDaemonEnv } from './daemon-e2e.js';
import type { Page } from 'playwright-core';

t.setTimeout(600_000);

const READER = 'ACS ACR122U PICC Interface (DOOR7)';

async function noSerious(t: Test, page: Page, what: string): Promise<void> {
  const v = await seriousViolations(page);
  t.same(v.map((x) => x.id), [], `${what}: no serious or critical axe violation${v.length ? `\n${describeViolations(v)}` : ''}`);
}

for (const vp of ['desktop', 'phone'] as ViewportName[]) {
  t.test(`guided CCID set-up at ${vp}: emulated ACR122U, probe, test card, save, restart, card -> UI and MQTT`, async (t) => {
    const env = await startDaemonEnv(vp, 'ccid');
    const page = await openSetupView(t, env, vp);
    await page.locator('#place-ccid-emulated').check();
    await page.locator('#ccid-profile').selectOption('acr122u');
    await page.locator('#ccid-serial').fill('DOOR7');
    t.equal(await page.locator('#reader-name').count(), 0, 'no name to type: a CCID reader is named by its device');
    await noSerious(t, page, 'set-up, emulated CCID chosen');
    await page.locator('#probe').click();
    await page.locator('#probe-firmware').waitFor({ timeout: 20_000 });
    t.equal(await page.locator('#probe-firmware').textContent(), '2.06', 'bcdDevice of the ACR122U');
    t.same(await page.locator('#probe-names li').allTextContents(), [`${READER} 00 00`], 'the PC/SC name as pcscd gives it');
    t.match(await page.locator('#probe-device').textContent(), /USB 072f:2200.*short-apdu, 1 slot, T=1.*dwFeatures 00020040/s, 'descriptor facts');

    await page.locator('#test-card-uid').fill('0A1B2C3D');
    await page.locator('#probe-tap').click();
    await page.locator('#probe-uid').waitFor({ timeout: 20_000 });
    t.equal(await page.locator('#probe-uid').textContent(), '0A1B2C3D', 'test card seen by the driver with its UID');
    await noSerious(t, page, 'set-up, CCID probed');
    await shot(page, `ccid-${vp}-1-probed`);

    await page.locator('#reader-save').click();
    await page.locator('#restart-needed').waitFor();
    t.match(await page.locator('#restart-needed').textContent(), /drivers\.ccid/);
    const file = await readFile(env.configFile, 'utf8');
    t.match(file, /emulate:\n\s+- profile: acr122u\n\s+serialNumber: DOOR7/, 'the reader is in the file, under drivers.ccid.emulate');
    t.match(file, /# written once by the test/, 'comments kept');
    await page.locator(`#configured li[data-configured="${READER}"]`).waitFor();
    await noSerious(t, page, 'set-up, CCID saved');
    await shot(page, `ccid-${vp}-2-saved`);

    const said = await restartFromUi(page, env, (n) => shot(page, `ccid-${vp}-${n}`));
    t.match(said, /restarted/);
    t.match(page.url(), /#\/setup$/, 'back on the view the technician was on');
    await page.locator(`[data-emulated="DOOR7"]`).waitFor({ timeout: 20_000 });
    await go(page, vp, 'readers');
    const card = page.locator(`li.reader[data-reader^="${READER}"]`);
    await card.waitFor({ timeout: 20_000 });
    const name = (await card.getAttribute('data-reader'))!;
    t.equal(name, `${READER} 00 00`);

    // The card goes on the emulated device's slot; the driver sees it through NotifySlotChange.
    const mqttFrom = env.messages.length;
    const ctl = run(process.execPath, ['--import', 'tsx', join(root, 'src/bin/scardctl.ts'), '--socket', env.controlSocket, 'insert', name, '{"type":"mifare-classic-1k","uid":"0A0B0C0D"}']);
    t.equal(await ctl.exited(), 0, `scardctl insert: ${ctl.lines.join(' | ')}`);
    await card.locator('.badge[data-state="present"]').waitFor({ timeout: 20_000 });
    t.match(await card.locator('.uid').textContent(), /0A 0B 0C 0D|0A0B0C0D/, 'the card shows on the reader card');
    await noSerious(t, page, 'readers, CCID card present');
    await shot(page, `ccid-${vp}-5-card`);
    await go(page, vp, 'events');
    await page.locator('#events .ev', { hasText: '0A0B0C0D' }).first().waitFor({ timeout: 20_000 });
    const msg = await env.waitMessage(/card\.inserted.*0A0B0C0D|0A0B0C0D.*card\.inserted/, 'card.inserted with UID 0A0B0C0D', mqttFrom);
    t.match(msg, /ACR122U PICC Interface \(DOOR7\)/, 'the card arrived on MQTT, from the new reader');
    await shot(page, `ccid-${vp}-6-event`);
  });
}
