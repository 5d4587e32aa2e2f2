import type { Page } from 'playwright-core';
import { png } from '../helpers/images.js';
import { go, signedIn, startE2E, type E2E } from '../helpers/e2e.js';

/**
 * A group's library in the browser: folders, sizes, dates and versions, image previews, several files
 * uploaded with a progress bar each and one cancelled on the way, a new version of a file (with progress),
 * deleting and restoring. alice owns the demo group; bruno reads in French.
 */
describe('the group library in the browser', () => {
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

  const row = (page: Page, name: string) => page.locator(`#files tr[data-name="${name}"]`);

  it('folders are created and opened; files show their size, date and version, images a preview', async () => {
    await go(alice, '/groups/welcome/files');
    await alice.locator('details.new-folder summary').click();
    await alice.locator('#new-folder').getByLabel('Folder name').fill('Budgets');
    await alice.locator('#new-folder').getByRole('button', { name: 'Create the folder' }).click();
    await alice.locator('#folders').getByRole('button', { name: 'Budgets' }).click();
    await alice.locator('#library-heading', { hasText: 'Budgets' }).waitFor();

    const upload = alice.locator('#upload');
    await upload.getByLabel('Add files to the library').setInputFiles([
      { name: 'q1.csv', mimeType: 'text/csv', buffer: Buffer.from('quarter,amount\nQ1,1200\n') },
      { name: 'chart.png', mimeType: 'image/png', buffer: png() },
    ]);
    await upload.getByRole('button', { name: 'Add', exact: true }).click();
    await row(alice, 'q1.csv').waitFor();
    await row(alice, 'chart.png').waitFor();
    await alice.getByRole('status').filter({ hasText: 'chart.png was added.' }).waitFor();
    expect(await row(alice, 'q1.csv').locator('td').first().textContent()).toBe('23 bytes');
    expect(await row(alice, 'q1.csv').locator('td').nth(2).textContent()).toBe('1');
    await row(alice, 'q1.csv').locator('time').waitFor();

    // bruno, in French, finds them in the folder; the image's preview comes once its thumbnail is made.
    await go(bruno, '/groups/welcome/files');
    await bruno.locator('#folders').getByRole('button', { name: 'Budgets' }).click();
    expect(await row(bruno, 'q1.csv').locator('td').first().textContent()).toMatch(/^23\soctets$/);
    const preview = row(bruno, 'chart.png').locator('img[alt="Aperçu de chart.png"]');
    for (let i = 0; i < 30 && !(await preview.count()); i++) {
      await bruno.waitForTimeout(200);
      await bruno.locator('.folder-trail').getByRole('button', { name: 'Tous les fichiers' }).click();
      await bruno.locator('#folders').getByRole('button', { name: 'Budgets' }).click();
    }
    await preview.waitFor();
    // Back to the root: the folder trail.
    await bruno.locator('.folder-trail').getByRole('button', { name: 'Tous les fichiers' }).click();
    await bruno.locator('#library-heading', { hasText: 'Tous les fichiers' }).waitFor();
    expect(await row(bruno, 'q1.csv').count()).toBe(0);
  });

  it('several files upload one by one with a progress bar each; one is cancelled on the way', async () => {
    await go(alice, '/groups/welcome/files');
    // A slow uplink, so the progress and the cancel can be seen (Chromium's own network emulation).
    const cdp = await alice.context().newCDPSession(alice);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: 256 * 1024,
    });
    const big = Buffer.alloc(4 * 1024 * 1024, 'a');
    const upload = alice.locator('#upload');
    await upload.getByLabel('Add files to the library').setInputFiles([
      { name: 'archive.txt', mimeType: 'text/plain', buffer: big },
      { name: 'small.txt', mimeType: 'text/plain', buffer: Buffer.from('small') },
    ]);
    await upload.getByRole('button', { name: 'Add', exact: true }).click();
    const item = upload.locator('li.upload[data-name="archive.txt"]');
    await item.locator('progress').waitFor();
    // It advances: some of it sent, not all.
    await alice.waitForFunction(() => {
      const p = (
        globalThis as unknown as { document: { querySelector(s: string): { value: number } | null } }
      ).document.querySelector('li.upload[data-name="archive.txt"] progress');
      return p !== null && p.value > 0.05;
    });
    expect(
      Number(await item.locator('progress').evaluate((p) => (p as unknown as { value: number }).value)),
    ).toBeLessThan(1);
    await item.getByRole('button', { name: /Cancel the upload of archive\.txt/ }).click();
    await upload
      .locator('li.upload.cancelled[data-name="archive.txt"]', { hasText: 'archive.txt: cancelled.' })
      .waitFor();
    // The next one goes on and arrives; the cancelled one never does.
    await row(alice, 'small.txt').waitFor();
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await go(alice, '/groups/welcome/files');
    await row(alice, 'small.txt').waitFor();
    expect(await row(alice, 'archive.txt').count()).toBe(0);
    const listed = await alice.evaluate(
      async () =>
        (await (await fetch('/api/v1/groups/welcome/files')).json()) as { files: { name: string }[] },
    );
    expect(listed.files.map((f) => f.name)).not.toContain('archive.txt');
  });

  it('a new version replaces the file, every version stays downloadable; deleted, it is restored', async () => {
    await go(alice, '/groups/welcome/files');
    await row(alice, 'small.txt').getByRole('button', { name: 'small.txt' }).click();
    const details = alice.locator('.file-details');
    await details.getByRole('heading', { name: 'Details of small.txt' }).waitFor();
    await details.getByLabel('File of the new version').setInputFiles({
      name: 'small-v2.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('small, second edition'),
    });
    await details.locator('form.uploader').getByRole('button', { name: 'Upload a new version' }).click();
    await details.locator('tr[data-version="2"]').waitFor();
    await alice.getByRole('status').filter({ hasText: 'is now at version 2.' }).waitFor();
    expect(await row(alice, 'small.txt').locator('td').nth(2).textContent()).toBe('2');
    const contents = await alice.evaluate(async () => {
      const links = [
        ...(
          globalThis as unknown as {
            document: { querySelectorAll(s: string): { getAttribute(a: string): string }[] };
          }
        ).document.querySelectorAll('.file-details tr[data-version] a'),
      ];
      return Promise.all(links.map(async (a) => (await fetch(a.getAttribute('href'))).text()));
    });
    expect(contents.sort()).toEqual(['small', 'small, second edition']);

    await details.getByRole('button', { name: 'Delete' }).click();
    await alice.locator('dialog.confirm').getByRole('button', { name: 'Delete' }).click();
    await row(alice, 'small.txt').waitFor({ state: 'detached' });
    await alice.getByRole('button', { name: 'Show the deleted files' }).click();
    const deleted = alice.locator('#deleted-files li[data-name="small.txt"]');
    await deleted.getByRole('button', { name: /Restore/ }).click();
    await alice.getByText('small.txt is restored.').waitFor();
    await row(alice, 'small.txt').waitFor();
    expect(await row(alice, 'small.txt').locator('td').nth(2).textContent()).toBe('2');
  });
});
