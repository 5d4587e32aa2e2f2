import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { serveNode, startTestNode, testConfig, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { MailCatcher } from '../../server/mail/mail.catcher.js';
import { documentCounts } from '../helpers/db.js';
import { FakeServer, postSigned, waitUntil, type FakeActor } from '../helpers/fediverse.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

const person = (sub: string, locale?: 'en' | 'fr'): DemoPerson => ({
  sub,
  name: sub,
  email: `${sub}@dept.example`,
  // No locale claim at all when none is given.
  locale: locale as 'en',
  organization: '',
});

/**
 * Two node processes on one database (as behind a load balancer): an administrator changes the federation
 * policy and the node settings through one, and both apply them.
 */
describe('node settings and federation policy at run time', () => {
  let idp: TestIdp;
  let a: RunningNode;
  let b: { url: string; close(): Promise<void> };
  let peer: FakeServer;
  let rita: FakeActor;
  const as: Record<string, ApiClient> = {};
  let alsoOnB: ApiClient;
  let follows = 0;
  const smtp = new MailCatcher(); // a real SMTP server on loopback

  /** A signed Follow from the peer's person, posted to a node's shared inbox: its status. */
  const follow = async (nodeUrl: string) =>
    (
      await postSigned(
        `${nodeUrl}/ap/inbox`,
        {
          '@context': 'https://www.w3.org/ns/activitystreams',
          id: `${rita.id}/follows/${++follows}`,
          type: 'Follow',
          actor: rita.id,
          object: `${nodeUrl}/ap/a/instance`,
        },
        rita,
      )
    ).status;

  beforeAll(async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const urlA = `http://127.0.0.1:${portA}`;
    idp = await startTestIdp({
      id: 'dept',
      nodeUrl: urlA,
      people: [person('alice', 'en'), person('bob', 'en'), person('noe')],
    });
    const env = {
      INSTANCE_ADMINS: `${idp.url}|alice`,
      FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
      SMTP_URL: `smtp://127.0.0.1:${await smtp.start()}`,
    };
    a = await startTestNode({ port: portA, issuers: [idp.issuer], env });
    const urlB = `http://127.0.0.1:${portB}`;
    const configB = testConfig(
      { ...env, PORT: String(portB), PUBLIC_URL: urlB, OIDC_ISSUERS: JSON.stringify([idp.issuer]) },
      a.database.uri,
    );
    const served = await serveNode(configB, a.database, portB);
    b = { url: urlB, close: served.close };
    for (const who of ['alice', 'bob']) {
      const browser = new Browser();
      await signIn(browser, a.url, 'dept', who);
      as[who] = new ApiClient(browser, a.url);
    }
    // Alice's session, used on the other process (the sessions are in the shared database).
    const onB = new Browser();
    for (const [k, v] of as.alice!.browser.cookies(new URL(a.url).origin)) onB.cookies(urlB).set(k, v);
    alsoOnB = new ApiClient(onB, urlB);
    peer = await new FakeServer().start();
    rita = peer.actor('rita');
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    await idp.close();
    await peer.close();
    await smtp.stop();
  });

  it('only administrators read or change the settings', async () => {
    expect((await as.bob!.call('GET', '/admin/settings')).status).toBe(403);
    expect((await as.bob!.call('PATCH', '/admin/settings', { contactEmail: 'x@dept.example' })).status).toBe(
      403,
    );
    expect(
      (await as.bob!.call('PUT', '/admin/federation/policy', { mode: 'open', domains: [] })).status,
    ).toBe(403);
    const anonymous = new ApiClient(new Browser(), a.url);
    expect((await anonymous.call('GET', '/admin/federation/policy')).status).toBe(401);
    const view = await as.alice!.call('GET', '/admin/settings');
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      revision: 0,
      overridden: [],
      values: { name: { en: 'Ensemble' }, defaultLanguage: 'en', federation: { mode: 'open' } },
    });
  });

  it('an allowlist set through one process refuses other servers on both, at once; reset brings back the environment’s', async () => {
    expect(await follow(a.url)).toBeLessThan(300);
    expect(await follow(b.url)).toBeLessThan(300);
    const set = await as.alice!.call('PUT', '/admin/federation/policy', {
      mode: 'allowlist',
      domains: ['*.gc.ca', 'partner.example', '*.GC.CA'],
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      mode: 'allowlist',
      domains: ['*.gc.ca', 'partner.example'],
      source: 'settings',
      revision: 1,
    });
    // The process that saved it: the very next post.
    expect(await follow(a.url)).toBe(403);
    // The other process: as soon as it has read the change.
    await waitUntil(async () => (await follow(b.url)) === 403, 5000, 'the other process to refuse');
    // Outbound too: the other process no longer fetches from or delivers to the peer.
    const gets = peer.gets.length;
    expect(await follow(b.url)).toBe(403);
    expect(peer.gets.length).toBe(gets);

    const reset = await alsoOnB.call('DELETE', '/admin/federation/policy');
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ mode: 'open', domains: [], source: 'environment', revision: 2 });
    expect(await follow(b.url)).toBeLessThan(300);
    await waitUntil(async () => (await follow(a.url)) < 300, 5000, 'the first process to accept again');
  });

  it('refuses an invalid policy or setting naming the field, storing nothing', async () => {
    const before = await documentCounts(a.database.db);
    const policy = await as.alice!.call('PUT', '/admin/federation/policy', {
      mode: 'closed',
      domains: ['not a domain'],
    });
    expect(policy.status).toBe(400);
    expect(policy.type).toMatch(/^application\/problem\+json/);
    expect(policy.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['body.mode', 'body.domains.0']),
    );
    const settings = await as.alice!.call('PATCH', '/admin/settings', {
      contactEmail: 'nobody',
      defaultLanguage: 'de',
      name: { en: '' },
    });
    expect(settings.status).toBe(400);
    expect(settings.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['body.contactEmail', 'body.defaultLanguage', 'body.name.en', 'body.name.fr']),
    );
    const unknown = await as.alice!.call('PATCH', '/admin/settings', { federation: { mode: 'open' } });
    expect(unknown.status).toBe(400);
    const counts = await documentCounts(a.database.db);
    expect(counts.node_settings).toBe(before.node_settings);
  });

  it('settings changed on both processes at the same moment are all kept, and read by both', async () => {
    const [one, two] = await Promise.all([
      as.alice!.call('PATCH', '/admin/settings', {
        name: { en: 'Natural Resources Ensemble', fr: 'Ensemble de Ressources naturelles' },
      }),
      alsoOnB.call('PATCH', '/admin/settings', {
        contactEmail: 'ensemble@nrcan.example',
        defaultLanguage: 'fr',
      }),
    ]);
    expect([one.status, two.status]).toEqual([200, 200]);
    const expected = {
      name: { en: 'Natural Resources Ensemble', fr: 'Ensemble de Ressources naturelles' },
      contactEmail: 'ensemble@nrcan.example',
      defaultLanguage: 'fr',
    };
    for (const url of [a.url, b.url])
      await waitUntil(
        async () => {
          const node = (await (await fetch(`${url}/api/v1/node`)).json()) as Record<string, unknown>;
          return JSON.stringify({ ...node, ...expected }) === JSON.stringify(node);
        },
        5000,
        `${url} to show both changes`,
      );
    // Other servers read the node's name in its default language (NodeInfo).
    const nodeinfo = (await (await fetch(`${b.url}/nodeinfo/2.1`)).json()) as {
      metadata: Record<string, unknown>;
    };
    expect(nodeinfo.metadata).toMatchObject({
      nodeName: 'Ensemble de Ressources naturelles',
      maintainer: { email: 'ensemble@nrcan.example' },
    });
  });

  it('a person whose identity provider sends no language gets the node’s default language', async () => {
    // defaultLanguage is fr since the test above.
    const browser = new Browser();
    await signIn(browser, a.url, 'dept', 'noe');
    const me = await new ApiClient(browser, a.url).call('GET', '/me');
    expect(me.body.locale).toBe('fr');
    // Mail to an address that has not signed in yet: both languages, the default first, the node's name.
    expect(
      (
        await as.alice!.call('POST', '/groups', {
          handle: 'field-ops',
          name: 'Field ops',
          visibility: 'members',
          joinPolicy: 'invite',
        })
      ).status,
    ).toBe(201);
    expect(
      (await as.alice!.call('POST', '/groups/field-ops/invitations', { email: 'zed@elsewhere.example' }))
        .status,
    ).toBe(204);
    const mail = await smtp.waitFor('zed@elsewhere.example');
    expect(mail.subject).toBe(
      'alice vous invite à Field ops sur Ensemble de Ressources naturelles · ' +
        'alice invites you to Field ops on Natural Resources Ensemble',
    );
    // A null goes back to the environment's value.
    expect((await as.alice!.call('PATCH', '/admin/settings', { defaultLanguage: null })).body).toMatchObject({
      values: { defaultLanguage: 'en' },
      overridden: ['name', 'contactEmail'],
    });
  });

  it('keeps who changed what and when, newest first, page by page', async () => {
    const first = await as.alice!.call('GET', '/admin/settings/history?limit=3');
    expect(first.status).toBe(200);
    const all = [...first.body.items];
    let next = first.body.next as number | null;
    while (next) {
      const page = await as.alice!.call('GET', `/admin/settings/history?limit=3&before=${next}`);
      all.push(...page.body.items);
      next = page.body.next;
    }
    expect(all.map((r: { revision: number }) => r.revision)).toEqual([5, 4, 3, 2, 1]);
    expect(all.every((r: { by: { handle: string } }) => r.by.handle === 'alice')).toBe(true);
    const policy = all.find((r: { revision: number }) => r.revision === 1);
    expect(policy.changes).toEqual([
      { field: 'federation.mode', from: 'open', to: 'allowlist' },
      { field: 'federation.domains', from: [], to: ['*.gc.ca', 'partner.example'] },
    ]);
    expect(Date.parse(policy.at)).toBeGreaterThan(Date.now() - 60_000);
    const last = all[0];
    expect(last.changes).toEqual([{ field: 'defaultLanguage', from: 'fr', to: 'en' }]);
  });
});
