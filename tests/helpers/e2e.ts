import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { projectRoot } from '../../server/core/paths.js';
import { freePort } from '../../server/core/net.js';
import { startTestNode, type RunningNode } from './app.js';
import { launchChromium } from './chromium.js';

/**
 * The web client in real Chromium against a real development node (its identity provider with the demo
 * people alice, bruno, chloe and dev; its demo group `welcome`). One node and one browser per test file;
 * one browser context per person.
 */
export interface E2E {
  node: RunningNode;
  browser: Browser;
  /** Everything that went wrong in any page: page errors, console errors, failed or refused requests. */
  problems: string[];
  close(): Promise<void>;
}

export async function startE2E(env: Record<string, string> = {}): Promise<E2E> {
  const node = await startTestNode({ port: await freePort(), env: { NODE_ENV: 'development', ...env } });
  const browser = await launchChromium();
  return {
    node,
    browser,
    problems: [],
    close: async () => {
      await browser.close();
      await node.close();
    },
  };
}

/** Report what goes wrong in a page; `expected` filters out refusals a test provokes on purpose. */
export function watch(page: Page, name: string, problems: string[]): void {
  page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
  page.on('requestfailed', (r) => {
    const error = r.failure()?.errorText ?? '';
    // A page left while a request was in flight (navigation, a closed socket) is not a failure.
    if (!/ERR_ABORTED/.test(error)) problems.push(`${name}: failed ${r.url()} ${error}`);
  });
  page.on('response', (r) => {
    // The signed-out home page asks who is signed in (401), as it should.
    if (r.status() < 400 || r.url().endsWith('/api/v1/me')) return;
    const line = `${name}: ${r.status()} ${r.url()}`;
    const at = problems.push(line) - 1;
    // A 5xx is a bug: its problem+json `detail` (test nodes expose the error's message) names it, so a CI
    // failure says what went wrong. Read after the line is recorded, so an assertion never waits for it.
    if (r.status() >= 500)
      void r
        .json()
        .then((body: { detail?: unknown }) => {
          if (typeof body?.detail === 'string' && problems[at] === line)
            problems[at] = `${line} (${body.detail})`;
        })
        .catch(() => undefined);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
      problems.push(`${name}: ${m.text()}`);
  });
}

/** A person signed in through the development identity provider, on the home page. */
export async function signedIn(
  e2e: Pick<E2E, 'browser' | 'problems'> & { node: { url: string } },
  name: 'Alice' | 'Bruno' | 'Chloé' | 'Dev',
  options: { viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await e2e.browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  watch(page, name, e2e.problems);
  await page.goto(`${e2e.node.url}/signin`);
  await page.locator('main[data-path="/signin"]').waitFor();
  await page.locator('.providers a').first().click();
  await page.getByRole('button', { name: new RegExp(`^${name}`) }).click();
  await page.waitForURL(`${e2e.node.url}/`);
  await ready(page, '/');
  return { context, page };
}

/** Wait until the page for `address` is drawn (the client marks main with the address it shows). */
export async function ready(page: Page, address: string): Promise<void> {
  await page.locator(`main[aria-busy="false"][data-path="${address}"]`).waitFor();
  // The design system's header is drawn (its components load on their own, after the page).
  await page.locator('gcds-header.hydrated').waitFor();
}

/**
 * Go to an address inside the client, as a link would (no reload), and wait for its page. The page is
 * marked first, so a reload would be noticed (`unreloaded`).
 */
export async function go(page: Page, address: string): Promise<void> {
  await page.evaluate((to) => {
    const w = globalThis as unknown as { unreloaded: boolean; ensemble: { navigate(to: string): void } };
    w.unreloaded = true;
    w.ensemble.navigate(to);
  }, address);
  await ready(page, address);
}

export const unreloaded = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { unreloaded?: boolean }).unreloaded === true);

/** A write through the API from the page itself (its session and CSRF token), as the client makes them. */
export function api(page: Page, method: string, address: string, body?: unknown) {
  return page.evaluate(
    async ({ method, address, body }) => {
      const { token } = (await (await fetch('/api/v1/auth/csrf')).json()) as { token: string };
      const res = await fetch(`/api/v1${address}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-csrf-token': token, accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as any) : null }; // eslint-disable-line @typescript-eslint/no-explicit-any
    },
    { method, address, body },
  );
}

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core in the page: every WCAG 2.0/2.1 A and AA rule and the best practices, on the whole document
 * (open dialogs included, design-system components' shadow trees included). Returns the violations,
 * any impact, as readable lines.
 */
export async function axe(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the node's Content-Security-Policy (no inline script) stays on.
  const hasAxe = await page.evaluate(() => 'axe' in globalThis);
  if (!hasAxe) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const run = (
      globalThis as unknown as {
        axe: {
          run(
            ctx: unknown,
            opts: unknown,
          ): Promise<{
            violations: {
              id: string;
              impact: string;
              nodes: { target: unknown; failureSummary: string }[];
            }[];
          }>;
        };
      }
    ).axe.run;
    const result = await run((globalThis as unknown as { document: unknown }).document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations.map(
      (v) =>
        `${v.id} (${v.impact}): ${v.nodes
          .slice(0, 3)
          .map((n) => `${JSON.stringify(n.target)} ${n.failureSummary.replace(/\s+/g, ' ')}`)
          .join(' | ')}`,
    );
  });
  return violations;
}

/** What has the keyboard focus, through design-system components' shadow trees: its text, link, styles. */
export function focused(page: Page) {
  interface El {
    tagName: string;
    id: string;
    textContent: string | null;
    shadowRoot: { activeElement: El | null } | null;
    getAttribute(name: string): string | null;
  }
  interface Style {
    outlineStyle: string;
    boxShadow: string;
    backgroundColor: string;
  }
  return page.evaluate(() => {
    const w = globalThis as unknown as {
      document: { activeElement: El | null };
      getComputedStyle(el: El): Style;
    };
    let el: El | null = w.document.activeElement;
    let text = el?.textContent?.trim() ?? '';
    while (el?.shadowRoot?.activeElement) {
      el = el.shadowRoot.activeElement;
      // Text slotted into a component is its host's, not the inner element's.
      text = el.textContent?.trim() || text;
    }
    const style = el ? w.getComputedStyle(el) : null;
    return {
      tag: el?.tagName.toLowerCase() ?? '',
      id: el?.id ?? '',
      text,
      href: el?.getAttribute('href') ?? null,
      outline: style?.outlineStyle ?? 'none',
      shadow: style?.boxShadow ?? 'none',
      background: style?.backgroundColor ?? '',
    };
  });
}

/**
 * docs/screenshots/<name>.png: the main pages, shown in the README. Written only when asked
 * (E2E_SCREENSHOTS=1): their content and times differ from run to run, and a test run must leave the
 * working tree as it found it. Animations and the caret are turned off.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.E2E_SCREENSHOTS !== '1') return;
  const dir = path.join(projectRoot, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({
    path: path.join(dir, `${name}.png`),
    fullPage: true,
    animations: 'disabled',
    caret: 'hide',
  });
}
