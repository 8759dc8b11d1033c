/**
 * Accessibility and screenshots for the browser tests: axe-core (npm axe-core, injected into the page)
 * and full-page PNGs under test-artifacts/http/ at the issue's two viewports.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;
export type ViewportName = keyof typeof VIEWPORTS;

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'http');

let axeSource: string | undefined;
function axe(): string {
  if (axeSource === undefined) {
    const require = createRequire(import.meta.url);
    axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  }
  return axeSource;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/** Serious and critical violations on the page as it is now (WCAG 2.0/2.1 A and AA rules). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  const has = await page.evaluate('typeof window.axe !== "undefined"');
  // Evaluated through the debugger protocol: the page's CSP (script-src 'self') refuses inline script tags.
  if (!has) await page.evaluate(axe());
  const result = (await page.evaluate(
    `window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] })`,
  )) as { violations: AxeViolation[] };
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export const describeViolations = (vs: AxeViolation[]): string =>
  vs.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`).join('\n');

export async function shot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** One assertion: the page has no serious or critical axe violation (each named with its nodes when it has). */
export async function axeClean(t: { same: (a: unknown, b: unknown, m: string) => unknown }, page: Page, what: string): Promise<void> {
  const v = await seriousViolations(page);
  t.same(v.map((x) => x.id), [], `${what}: no serious or critical axe violation${v.length ? `\n${describeViolations(v)}` : ''}`);
}
