import { freePort } from '../../server/core/net.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';

/**
 * The web client's addresses (server/web/): a page for a browser, an ActivityPub document for a server
 * (Vary: Accept), 404 for what does not exist or may not be seen, and the design system served by the node
 * itself. A development node: its identity provider and demo group `welcome`.
 */
describe('web addresses: pages for browsers, ActivityPub for servers', () => {
  let node: RunningNode;
  let alice: ApiClient;
  let threadId: string;
  const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
  const activity = { accept: 'application/activity+json' };
  // Each answer is read to its end: a body left unread keeps its connection open after the node has gone.
  const get = async (path: string, headers: Record<string, string> = html) => {
    const res = await fetch(`${node.url}${path}`, { headers, redirect: 'manual' });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text: async () => text,
      json: async () => JSON.parse(text) as unknown,
    };
  };

  beforeAll(async () => {
    node = await startTestNode({ port: await freePort(), env: { NODE_ENV: 'development' } });
    const browser = new Browser();
    await signIn(browser, node.url, 'dev', 'alice');
    alice = new ApiClient(browser, node.url);
    threadId = (await alice.call('GET', '/groups/welcome/threads')).body.items[0].id;
    const created = await alice.call('POST', '/groups', {
      handle: 'cabinet',
      name: 'Cabinet',
      visibility: 'members',
      joinPolicy: 'invite',
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await node?.close();
  });

  it('answers the client’s page to a browser at every client address, never cached, Vary: Accept', async () => {
    for (const path of [
      '/',
      '/signin',
      '/search?q=x',
      '/people',
      '/notifications',
      '/admin',
      '/admin/federation',
      '/groups/welcome',
      '/groups/welcome/files',
      `/groups/welcome/threads/${threadId}`,
      '/people/alice',
      '/people/alice/edit',
    ]) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, 200]);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('vary')).toMatch(/Accept/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const text = await res.text();
      expect(text).toContain('<div id="app">');
      expect(text).toContain('/gcds/gcds.esm.js');
    }
  });

  it('answers ActivityPub clients with the actor or object the address names', async () => {
    // A server searching by URL gets the document itself (its id is the /ap/ IRI), as Mastodon expects.
    const group = await get('/groups/welcome', activity);
    expect(group.status).toBe(200);
    expect(group.headers.get('content-type')).toMatch(/activity\+json/);
    expect(group.headers.get('vary')).toMatch(/Accept/);
    expect((await group.json()) as { id: string; type: string }).toMatchObject({
      id: `${node.url}/ap/a/g.welcome`,
      type: 'Group',
    });

    const person = await get('/people/alice', {
      accept: 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    });
    expect(person.status).toBe(200);
    expect(((await person.json()) as { id: string }).id).toBe(`${node.url}/ap/a/u.alice`);
    const thread = await get(`/groups/welcome/threads/${threadId}`, activity);
    expect(thread.status).toBe(200);
    expect(((await thread.json()) as { type: string }).type).toBe('Page');
    // The IRI it leads to answers a browser with the page again, not a loop.
    const back = await get(`/ap/threads/${threadId}`);
    expect(back.headers.get('location')).toBe(`${node.url}/groups/welcome/threads/${threadId}`);
  });

  it('answers 404 for what does not exist or this viewer may not see, exactly alike', async () => {
    for (const path of [
      '/groups/nowhere',
      '/groups/cabinet',
      '/groups/cabinet/members',
      '/people/nobody',
      '/no/such/page',
      '/admin/nothing',
    ]) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('<div id="app">');
    }
    // The members-only group is there for its member, and nothing about it goes to ActivityPub clients.
    const member = await alice.browser.request(`${node.url}/groups/cabinet`, { headers: html });
    expect(member.status).toBe(200);
    expect(await member.text()).toContain('<div id="app">');
    expect((await get('/groups/cabinet', activity)).status).toBe(404);
    expect((await get('/ap/a/g.cabinet', activity)).status).toBe(404);
    // A thread under another group's address is not that thread.
    expect((await get(`/groups/cabinet/threads/${threadId}`)).status).toBe(404);
    // Other clients get problem details.
    const json = await get('/no/such/page', { accept: 'application/json' });
    expect(json.status).toBe(404);
    expect(json.headers.get('content-type')).toMatch(/problem\+json/);
    const api = await get('/api/v1/nothing');
    expect(api.headers.get('content-type')).toMatch(/problem\+json/);
    const refused = await get('/groups/welcome', { accept: 'application/json' });
    expect(refused.status).toBe(406);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('leads the old thread address to the thread’s own', async () => {
    const res = await get(`/threads/${threadId}`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe(`/groups/welcome/threads/${threadId}`);
    expect((await get('/threads/0123456789abcdef01234567')).status).toBe(404);
  });

  it('serves the design system and its fonts from the node, naming no outside host', async () => {
    const css = await get('/gcds/gcds.css', {});
    expect(css.status).toBe(200);
    const text = await css.text();
    expect(text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(text).toContain('url(fonts/icons/gcds-icons.woff)');
    expect((await get('/gcds/fonts/icons/gcds-icons.woff', {})).status).toBe(200);
    const fonts = await (await get('/gcds/fonts.css', {})).text();
    for (const url of fonts.match(/url\("([^"]+)"\)/g) ?? []) {
      const file = /url\("([^"]+)"\)/.exec(url)![1]!;
      expect([file, (await get(`/gcds/${file}`, {})).status]).toEqual([file, 200]);
    }
    expect((await get('/gcds/gcds.esm.js', {})).headers.get('content-type')).toMatch(/javascript/);
    // The client's bundles are hashed: cached for good.
    const index = await (await get('/')).text();
    const bundle = /src="(\/assets\/index-[^"]+\.js)"/.exec(index)![1]!;
    const res = await get(bundle, {});
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/immutable/);
  });
});
