import type { Page } from 'playwright-core';
import { png } from '../helpers/images.js';
import { api, go, ready, signedIn, startE2E, unreloaded, type E2E } from '../helpers/e2e.js';

/**
 * People in the browser: profiles edited and seen by someone else (in their language, with what the owner
 * hides left out), the directory's filters, one search box for everything in either language, and the
 * interface language switched mid-session and remembered.
 */
describe('people, search and languages in the browser', () => {
  let e2e: E2E;
  let alice: Page;
  let bruno: Page;

  beforeAll(async () => {
    e2e = await startE2E();
    alice = (await signedIn(e2e, 'Alice')).page;
    bruno = (await signedIn(e2e, 'Bruno')).page;
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('alice edits her profile, photo and who sees each field; bruno sees it in French, hidden fields left out', async () => {
    await go(alice, '/people/alice');
    await alice.getByRole('link', { name: 'Edit my profile' }).click();
    await ready(alice, '/people/alice/edit');
    const form = alice.locator('#profile-form');
    await form.getByLabel('Job title in English').fill('Policy analyst');
    await form.getByLabel('Job title in French').fill('Analyste des politiques');
    await form.getByLabel('Location', { exact: true }).fill('Gatineau');
    await alice.locator('#profile-about').fill('I work on **open data**.');
    await form.getByLabel('Skills (separated by commas)').fill('Python, Data analysis');
    await form.getByLabel('First official language').selectOption('en');
    await form.getByLabel('Who sees: Skills').selectOption('private');
    await form.getByLabel('Phone').fill('+1 613 555 0100');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByText('Your profile is saved.').waitFor();

    const photo = alice.locator('#avatar-form');
    await photo
      .locator('input[type=file]')
      .setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png() });
    await photo.getByRole('button', { name: 'Upload the photo' }).click();
    await photo.getByText('Image saved.').waitFor();

    // bruno reads Ensemble in French: the French job title, the rendered about text, no skills.
    await go(bruno, '/people/alice');
    const profile = bruno.locator('#profile');
    await profile.locator('.job-title', { hasText: 'Analyste des politiques' }).waitFor();
    await profile.locator('.body strong', { hasText: 'open data' }).waitFor();
    await profile.getByText('Gatineau').waitFor();
    await profile.getByText('Première langue officielle : anglais').waitFor();
    expect(await profile.locator('img.avatar').getAttribute('src')).toBe('/api/v1/people/alice/avatar');
    expect(await profile.textContent()).not.toContain('Python');
    // The groups they share (both are in the demo group).
    await profile.locator('#shared-groups', { hasText: 'Bienvenue dans Ensemble' }).waitFor();
    await profile.getByText('+1 613 555 0100').waitFor();

    // A contact field emptied in the form is cleared for everyone, not kept.
    await form.getByLabel('Phone').fill('');
    await Promise.all([
      alice.waitForResponse((r) => r.url().endsWith('/api/v1/me/profile') && r.status() === 200),
      form.getByRole('button', { name: 'Save' }).click(),
    ]);
    await go(bruno, '/people');
    await go(bruno, '/people/alice');
    await profile.locator('.job-title', { hasText: 'Analyste des politiques' }).waitFor();
    expect(await profile.textContent()).not.toContain('555 0100');
    expect(e2e.problems).toEqual([]);
  });

  it('the directory filters by skill, organization and first official language', async () => {
    await api(bruno, 'PATCH', '/me/profile', {
      skills: ['Géomatique', 'Python'],
      languages: { first: 'fr' },
      visibility: { skills: 'node', languages: 'node' },
    });
    await go(alice, '/people');
    const filters = alice.locator('#directory-filters');
    await filters.getByLabel('Skill', { exact: true }).fill('geomatique');
    await filters.getByRole('button', { name: 'Search' }).click();
    await ready(alice, '/people?skill=geomatique');
    await alice.locator('#people li[data-handle="bruno"]').waitFor();
    expect(await alice.locator('#people li[data-handle]').count()).toBe(1);
    // Filters are the address: the back button and a shared link work.
    await filters.getByLabel('Skill', { exact: true }).fill('');
    await filters.getByLabel('Organization').selectOption({ label: 'Digital Services Agency' });
    await filters.getByLabel('First official language').selectOption('en');
    await filters.getByRole('button', { name: 'Search' }).click();
    await ready(alice, '/people?organization=digital-services&language=en');
    await alice.locator('#people li[data-handle="alice"]').waitFor();
    expect(await alice.locator('#people li[data-handle="bruno"]').count()).toBe(0);
    await alice.goBack();
    await ready(alice, '/people?skill=geomatique');
    expect(await alice.locator('#people li[data-handle]').count()).toBe(1);
  });

  it('one search box finds people, groups, discussions and files; a French query finds an English-titled group', async () => {
    expect(
      (
        await api(alice, 'POST', '/groups', {
          handle: 'budget-officers',
          name: 'Budget officers',
          names: { en: 'Budget officers' },
          description: { fr: 'Les agents des finances du ministère partagent leurs gabarits.' },
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    await api(alice, 'POST', '/groups/budget-officers/threads', {
      title: 'Gabarits budgétaires',
      body: 'Voici le nôtre.',
    });
    await alice.evaluate(async () => {
      const { token } = (await (await fetch('/api/v1/auth/csrf')).json()) as { token: string };
      const form = new FormData();
      form.append('files', new Blob(['a,b\n'], { type: 'text/csv' }), 'gabarit-finances.csv');
      await fetch('/api/v1/groups/budget-officers/files', {
        method: 'POST',
        headers: { 'x-csrf-token': token },
        body: form,
      });
    });

    // bruno types a French query in the header's search box.
    await go(bruno, '/');
    const box = bruno.locator('gcds-search input');
    await box.fill('agents des finances');
    await box.press('Enter');
    await ready(bruno, '/search?q=agents%20des%20finances');
    await bruno.locator('#group-results').getByRole('link', { name: 'Budget officers' }).waitFor();
    expect(await unreloaded(bruno)).toBe(true);

    await go(bruno, '/search?q=gabarit');
    await bruno.locator('#thread-results').getByRole('link', { name: 'Gabarits budgétaires' }).waitFor();
    await bruno.locator('#file-results').getByRole('link', { name: 'gabarit-finances.csv' }).waitFor();
    // The group's French description speaks of gabarits too: three results, the count in French.
    await bruno.locator('#group-results').getByRole('link', { name: 'Budget officers' }).waitFor();
    await bruno.locator('#search-summary', { hasText: '3 résultats pour « gabarit ».' }).waitFor();

    await go(bruno, '/search?q=tremblay');
    await bruno.locator('#people-results li[data-handle="alice"]').waitFor();

    // An address of another node that answers nothing: looked up there, and said to be not found (groups
    // that are found are in remote-groups.test.ts). Port 9 on loopback: nothing leaves the machine.
    await go(bruno, `/search?q=${encodeURIComponent('@finance@localhost:9')}`);
    await bruno
      .locator('#remote-notice', { hasText: 'Aucun groupe public trouvé à @finance@localhost:9.' })
      .waitFor();
    expect(e2e.problems.filter((p) => !p.includes('/api/v1/lookup'))).toEqual([]);
  });

  it('switching language mid-session redraws in place, keeps what was typed, and is remembered for the person', async () => {
    await go(alice, '/groups/welcome');
    await alice.locator('#new-thread').getByLabel('Title').fill('Half-written title');
    await alice.locator('gcds-lang-toggle').click();
    await alice.locator('html[lang="fr"]').waitFor();
    await alice.getByRole('heading', { name: 'Lancer une discussion' }).waitFor();
    await alice.getByRole('status').filter({ hasText: 'La page est maintenant en français.' }).waitFor();
    expect(await alice.locator('#new-thread').getByLabel('Titre').inputValue()).toBe('Half-written title');
    expect(await unreloaded(alice)).toBe(true);
    // Dates and counts follow the language.
    await alice.locator('#member-count', { hasText: /membres/ }).waitFor();

    // Remembered by the server: a reload and a new session are in French.
    await alice.reload();
    await ready(alice, '/groups/welcome');
    expect(await alice.locator('html').getAttribute('lang')).toBe('fr');
    const again = (await signedIn(e2e, 'Alice')).page;
    expect(await again.locator('html').getAttribute('lang')).toBe('fr');
    await again.getByRole('heading', { name: 'Accueil' }).waitFor();
    expect((await api(again, 'GET', '/me')).body.locale).toBe('fr');

    // And back, from the preferences of her profile.
    await go(again, '/people/alice/edit');
    await again.getByLabel('Langue d’Ensemble').selectOption('en');
    await again.locator('html[lang="en"]').waitFor();
    expect((await api(again, 'GET', '/me')).body.locale).toBe('en');
  });
});
