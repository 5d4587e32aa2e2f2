import type { Page } from 'playwright-core';
import {
  api,
  axe,
  focused,
  go,
  ready,
  screenshot,
  signedIn,
  startE2E,
  watch,
  type E2E,
} from '../helpers/e2e.js';

/**
 * WCAG 2.1 AA in real Chromium: axe-core on every page of the client and on its dialogs, in English and
 * in French, with zero violations of any impact; the pages' screenshots for docs/screenshots/; and the
 * keyboard alone reaching the skip link, the menu and a form, with the focus always visible.
 */
/** The main pages, photographed for the README. */
const SHOWN = [
  'home',
  'group',
  'thread',
  'files',
  'members',
  'settings',
  'profile',
  'search',
  'lookup',
  'admin-people',
  'admin-federation',
  'admin-settings',
];

describe('accessibility of every page, in English and French', () => {
  let e2e: E2E;
  let alice: Page;
  let threadPath: string;
  let fileName: string;

  beforeAll(async () => {
    e2e = await startE2E();
    alice = (await signedIn(e2e, 'Alice')).page;
    // Content on every page: a thread with a reply, a file, a report, an audit entry.
    const thread = await api(alice, 'POST', '/groups/welcome/threads', {
      title: 'Accessibility review',
      body: 'Please check **every** page with a screen reader, @bruno.',
    });
    threadPath = `/groups/welcome/threads/${thread.body.id}`;
    await api(alice, 'POST', `/threads/${thread.body.id}/replies`, { body: 'On it.' });
    fileName = 'checklist.txt';
    await alice.evaluate(async (name) => {
      const { token } = (await (await fetch('/api/v1/auth/csrf')).json()) as { token: string };
      const form = new FormData();
      form.append('files', new Blob(['1. skip link\n2. focus\n'], { type: 'text/plain' }), name);
      await fetch('/api/v1/groups/welcome/files', {
        method: 'POST',
        headers: { 'x-csrf-token': token },
        body: form,
      });
    }, fileName);
    await api(alice, 'PUT', '/groups/welcome/members/bruno/role', { role: 'moderator' });
    await api(alice, 'PUT', '/groups/welcome/members/bruno/role', { role: 'member' });
    // A value set by an administrator and a policy: the settings' history and reset buttons are shown.
    for (const [method, address, body] of [
      ['PATCH', '/admin/settings', { contactEmail: 'ensemble@dept.example' }],
      ['PUT', '/admin/federation/policy', { mode: 'blocklist', domains: ['spam.example'] }],
    ] as const)
      expect((await api(alice, method, address, body)).status).toBe(200);
  });
  afterAll(async () => {
    await e2e?.close();
  });

  const pages = () => [
    ['home', '/'],
    ['group', '/groups/welcome'],
    ['thread', threadPath],
    ['files', '/groups/welcome/files'],
    ['members', '/groups/welcome/members'],
    ['settings', '/groups/welcome/settings'],
    ['reports', '/groups/welcome/reports'],
    ['audit', '/groups/welcome/audit'],
    ['profile', '/people/alice'],
    ['profile-edit', '/people/alice/edit'],
    ['people', '/people'],
    ['search', '/search?q=welcome'],
    // A group found by its address (@group@host; here this node's own, the card is the same for others).
    ['lookup', `/search?q=${encodeURIComponent(`@welcome@${new URL(e2e.node.url).host}`)}`],
    ['notifications', '/notifications'],
    ['admin-people', '/admin/people'],
    ['admin-organizations', '/admin/organizations'],
    ['admin-federation', '/admin/federation'],
    ['admin-settings', '/admin/settings'],
    ['not-found', '/groups/no-such-group'],
  ];

  it('every page has no axe violation, in English then in French (photographed when asked)', async () => {
    const found: string[] = [];
    for (const lang of ['en', 'fr'] as const) {
      if (lang === 'fr') {
        await go(alice, '/');
        await alice.locator('gcds-lang-toggle').click();
        await alice.locator('html[lang="fr"]').waitFor();
      }
      for (const [name, address] of pages()) {
        await go(alice, address!);
        if (name === 'lookup') await alice.locator('#remote-group').waitFor();
        for (const v of await axe(alice)) found.push(`${lang} ${address}: ${v}`);
        if (name === 'files') {
          // The file's details and versions.
          await alice.locator('#files').getByRole('button', { name: fileName }).click();
          await alice.locator('.file-details').waitFor();
          for (const v of await axe(alice)) found.push(`${lang} ${address} (details): ${v}`);
        }
        if (SHOWN.includes(name!)) await screenshot(alice, `${name}-${lang}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('the confirmation dialog, the mention list and the preview have no axe violation', async () => {
    await go(alice, threadPath);
    await alice
      .locator('#replies li', { hasText: 'On it.' })
      .getByRole('button', { name: /Supprimer|Delete/ })
      .click();
    await alice.locator('dialog.confirm[open]').waitFor();
    expect(await axe(alice)).toEqual([]);
    await alice.keyboard.press('Escape');
    await alice.locator('dialog.confirm').waitFor({ state: 'detached' });

    const editor = alice.locator('#reply-body');
    await editor.fill('Thanks @br');
    await editor.press('u');
    await alice.locator('#reply-body-suggestions [role=option]').first().waitFor();
    expect(await axe(alice)).toEqual([]);
    // The keyboard takes the first one.
    await editor.press('Enter');
    expect(await editor.inputValue()).toBe('Thanks @bruno ');
    await alice
      .locator('#reply-form')
      .getByRole('button', { name: /Aperçu|Preview/ })
      .click();
    await alice.locator('#reply-body-preview a[href="/people/bruno"]').waitFor();
    expect(await axe(alice)).toEqual([]);
  });

  it('a keyboard alone reaches the skip link, the main content and a form; focus is always visible', async () => {
    const page = await (await e2e.browser.newContext()).newPage();
    watch(page, 'visitor', e2e.problems);
    await page.goto(`${e2e.node.url}/`);
    await ready(page, '/');
    await page.keyboard.press('Tab');
    const skip = await focused(page);
    expect(skip.href).toBe('#main-content');
    expect(skip.text).toMatch(/Skip to main content/);
    await page.keyboard.press('Enter');
    expect((await focused(page)).id).toBe('main-content');
    // From the main content, Tab goes to its first control: the sign-in, followed with Enter.
    await page.keyboard.press('Tab');
    const first = await focused(page);
    expect(first.text).toMatch(/Sign in/);
    // Visible focus: an outline or the design system's focus ring.
    expect(first.outline !== 'none' || first.shadow !== 'none').toBe(true);
    await page.keyboard.press('Enter');
    await ready(page, '/signin');
    // The not-found page was asked for on purpose.
    expect(e2e.problems.filter((p) => !p.includes('/no-such-group'))).toEqual([]);
  });
});
