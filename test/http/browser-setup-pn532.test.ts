/**
 * The guided "add a reader" flow end to end, with no file edited by hand: the real daemon
 * (scardgated, its own process, a real Mosquitto for MQTT), an emulated PN532 on a pseudo-terminal
 * (the emulator's command-line program), and Chromium. The technician types the serial path, probes
 * (firmware), tests a tap, saves, restarts the gateway from the UI (confirmation, reconnection, new
 * login), and a tap on the new reader shows in the UI and arrives on MQTT. Run at 1280x800 and 390x844.
 * Screenshots in test-artifacts/http/pn532-*.png.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeViolations, seriousViolations, shot, type ViewportName } from './browser-a11y.js';
import { go, openSetupView, restartFromUi, root, run, startDaemonEnv, type Proc } from './daemon-e2e.js';

t.setTimeout(600_000);

/** The emulator's CLI: emulators/pn532 once moved there, test/emulators/pn532 before. */
const EMULATOR = [join(root, 'emulators/pn532/cli.ts'), join(root, 'test/emulators/pn532/cli.ts')].find(existsSync)!;

async function setup(vp: ViewportName) {
  let emulator!: Proc;
  const env = await startDaemonEnv(vp, 'pn532', async (dir) => {
    emulator = run(process.execPath, ['--import', 'tsx', EMULATOR, '--link', join(dir, 'pn532'), '--no-pace']);
    await emulator.waitLine(/^ready /, 'PN532 emulator ready', 90_000);
    return [emulator];
  });
  return { ...env, emulator };
}

for (const vp of ['desktop', 'phone'] as ViewportName[]) {
  t.test(`guided PN532 set-up at ${vp}: probe, test tap, save, restart, tap -> UI and MQTT`, async (t) => {
    const env = await setup(vp);
    const page = await openSetupView(t, env, vp);
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

    const said = await restartFromUi(page, env, (n) => shot(page, `pn532-${vp}-${n}`));
    t.match(said, /restarted/);
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
