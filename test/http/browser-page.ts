/**
 * What the browser tests do on the UI's page again and again: sign in at a
 * viewport, and wait for a live-region announcement.
 */
import type { Page } from 'playwright-core';
import { VIEWPORTS, type ViewportName } from './browser-a11y.js';

/** Open the UI at `url` in `vp`'s size, sign in with `password` unless the session is still open, wait for live updates. */
export async function signIn(page: Page, url: string, password: string, vp: ViewportName): Promise<void> {
  await page.setViewportSize(VIEWPORTS[vp]);
  await page.goto(url + '/');
  const form = page.locator('#login-form');
  const readers = page.locator('#readers');
  await Promise.race([form.waitFor(), readers.waitFor()]);
  if (await form.isVisible()) {
    await page.locator('#password').fill(password);
    await page.locator('#login').click();
    await readers.waitFor();
  }
  await page.locator('#live-status.open').waitFor();
}

/**
 * The text of a live region once it matches `pattern`, or (after `ms`) a message saying what it holds instead, which
 * the caller's match then fails on. The UI clears a region and sets it on the next animation frame (so a repeated
 * text is read again): reading it once right after the visible change races.
 */
export async function announced(page: Page, pattern: RegExp, opts: { region?: '#announce' | '#announce-error'; ms?: number } = {}): Promise<string> {
  const { region = '#announce', ms = 10_000 } = opts;
  return page
    .waitForFunction(
      ([sel, src]) => {
        const text = document.querySelector(sel)?.textContent ?? '';
        return new RegExp(src, 'i').test(text) && text;
      },
      [region, pattern.source] as const,
      { timeout: ms },
    )
    .then(
      (h) => h.jsonValue() as Promise<string>,
      async () => `nothing matching within ${ms / 1000} s; ${region} says: ${JSON.stringify(await page.locator(region).textContent())}`,
    );
}
