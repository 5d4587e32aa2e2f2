import { freePort } from '../../server/core/net.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';

describe('the development identity provider (no issuer configured, outside production)', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startTestNode({ port: await freePort(), env: { NODE_ENV: 'development' } });
  });
  afterAll(() => node.close());

  it('sends people straight to it, says how to sign in, and signs alice in as an administrator of a demo department', async () => {
    const first = await fetch(`${node.url}/auth/login`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/auth/login/dev');

    const browser = new Browser();
    const page = await browser.navigate(`${node.url}/auth/login/dev`);
    const html = await page.res.text();
    expect(html).toContain('Development identity provider');
    expect(html).toContain('alice');
    expect(html).toContain('bruno');

    await signIn(browser, node.url, 'dev', 'alice');
    const me = await new ApiClient(browser, node.url).call('GET', '/me');
    expect(me.body).toMatchObject({
      isAdmin: true,
      profile: { handle: 'alice', organization: { slug: 'digital-services' } },
    });
  });

  it('signs bruno in, in another demo department, as an ordinary person', async () => {
    const browser = new Browser();
    await signIn(browser, node.url, 'dev', 'bruno');
    const me = await new ApiClient(browser, node.url).call('GET', '/me');
    expect(me.body).toMatchObject({
      isAdmin: false,
      locale: 'fr',
      profile: { organization: { slug: 'natural-resources' } },
    });
  });

  it('seeds a living demo: the public open group welcome with threads, owned by alice', async () => {
    const browser = new Browser();
    await signIn(browser, node.url, 'dev', 'bruno');
    const api = new ApiClient(browser, node.url);
    const group = await api.call('GET', '/groups/welcome');
    expect(group.body).toMatchObject({
      visibility: 'public',
      joinPolicy: 'open',
      memberCount: 2,
      viewer: { role: 'member' },
    });
    const threads = await api.call('GET', '/groups/welcome/threads');
    expect(threads.body.pinned[0]).toMatchObject({
      title: 'Start here · Commencez ici',
      author: { handle: 'alice' },
      replyCount: 1,
    });
    expect(threads.body.items).toHaveLength(1);
    const members = await api.call('GET', '/groups/welcome/members');
    expect(
      members.body.items.map((m: { handle: string; role: string }) => [m.handle, m.role]).sort(),
    ).toEqual([
      ['alice', 'owner'],
      ['bruno', 'member'],
    ]);
  });

  it('keeps outgoing mail in the development catcher and shows it at /dev/mail', async () => {
    const browser = new Browser();
    await signIn(browser, node.url, 'dev', 'alice');
    const api = new ApiClient(browser, node.url);
    expect(
      (await api.call('POST', '/groups/welcome/invitations', { email: 'new.colleague@dsa-asn.example' }))
        .status,
    ).toBe(204);
    let page = '';
    for (let i = 0; i < 100 && !page.includes('new.colleague@dsa-asn.example'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      page = await (await fetch(`${node.url}/dev/mail`)).text();
    }
    expect(page).toContain('Alice Tremblay invites you to Welcome to Ensemble');
    expect(page).toContain('new.colleague@dsa-asn.example');
  });
});
