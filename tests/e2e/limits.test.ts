import { api, go, signedIn, startE2E, type E2E } from '../helpers/e2e.js';

/**
 * A person who makes too many changes in a minute (API_WRITE_RATE_LIMIT, docs/operations.md) is told so in
 * the form, in their own language, with how long to wait; what they wrote stays in the form.
 */
describe('too many changes in a minute, in the browser', () => {
  let e2e: E2E;
  const LIMIT = 3;
  beforeAll(async () => {
    e2e = await startE2E({ API_WRITE_RATE_LIMIT: String(LIMIT) });
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('says so in French to a person who reads Ensemble in French, and keeps the reply in the form', async () => {
    // Bruno reads Ensemble in French (his profile's locale).
    const bruno = (await signedIn(e2e, 'Bruno')).page;
    const threads = (await api(bruno, 'GET', '/groups/welcome/threads')).body as { items: { id: string }[] };
    const threadId = threads.items[0]!.id;
    await go(bruno, `/groups/welcome/threads/${threadId}`);
    const form = bruno.locator('#reply-form');
    let posted = 0;
    for (;;) {
      const text = `Réponse ${posted + 1}`;
      await bruno.locator('#reply-body').fill(text);
      await form.getByRole('button', { name: 'Publier' }).click();
      const outcome = await Promise.race([
        bruno
          .locator('#replies li', { hasText: text })
          .waitFor()
          .then(() => 'posted' as const),
        form
          .getByRole('alert')
          .waitFor()
          .then(() => 'refused' as const),
      ]);
      if (outcome === 'refused') break;
      posted++;
      expect(posted).toBeLessThanOrEqual(LIMIT);
    }
    const alert = (await form.getByRole('alert').textContent()) ?? '';
    expect(alert).toMatch(/Vous avez fait beaucoup de modifications en peu de temps\. Attendez \d+ secondes/);
    expect(await bruno.locator('#reply-body').inputValue()).toBe(`Réponse ${posted + 1}`);
    // The refusal is the only problem the page met.
    expect(e2e.problems.filter((p) => !/ 429 .*\/replies$/.test(p))).toEqual([]);
  });
});
