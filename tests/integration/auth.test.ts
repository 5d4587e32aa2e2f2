import { collections } from '../../server/db/collections.js';
import { freePort } from '../../server/core/net.js';
import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';

const people = (): DemoPerson[] => [
  { sub: 'alice', name: 'Alice Tremblay', email: 'alice@tbs.example', locale: 'en', organization: 'tbs' },
  {
    sub: 'bruno',
    name: 'Bruno Côté',
    email: 'bruno@nrcan.example',
    locale: 'fr',
    organization: 'unknown-dept',
  },
];

describe('sign-in through a department identity provider (real OIDC code flow)', () => {
  let port: number;
  let idpA: TestIdp;
  let idpB: TestIdp;
  let node: RunningNode;

  beforeAll(async () => {
    port = await freePort();
    const nodeUrl = `http://127.0.0.1:${port}`;
    idpA = await startTestIdp({ id: 'dept-a', nodeUrl, people: people() });
    // A second, central provider that also has a person whose sub is "alice".
    idpB = await startTestIdp({
      id: 'central',
      nodeUrl,
      people: [
        {
          sub: 'alice',
          name: 'Alice Other',
          email: 'a.other@central.example',
          locale: 'fr',
          organization: '',
        },
      ],
    });
    node = await startTestNode({ port, issuers: [idpA.issuer, idpB.issuer] });
    const { organizations } = node.node.services;
    const system = { kind: 'system', reason: 'test' } as const;
    await organizations.create(system, {
      slug: 'tbs',
      name: { en: 'Treasury Board Secretariat', fr: 'Secrétariat du Conseil du Trésor' },
      acronym: { en: 'TBS', fr: 'SCT' },
      emailDomains: [],
      claimValues: ['tbs'],
    });
    await organizations.create(system, {
      slug: 'nrcan',
      name: { en: 'Natural Resources Canada', fr: 'Ressources naturelles Canada' },
      acronym: { en: 'NRCan', fr: 'RNCan' },
      emailDomains: ['nrcan.example'],
      claimValues: [],
    });
  });
  afterAll(async () => {
    await node.close();
    await idpA.close();
    await idpB.close();
  });

  const users = () => node.database.db.collection(collections.users);

  it('offers a choice of providers when the node trusts several', async () => {
    const browser = new Browser();
    const res = await browser.request(`${node.url}/auth/login`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('/auth/login/dept-a');
    expect(html).toContain('/auth/login/central');
  });

  it('creates the account on first sign-in from the claims, bound to the organization named by the claim', async () => {
    const browser = new Browser();
    const { url } = await signIn(browser, node.url, 'dept-a', 'alice');
    expect(url).toBe(`${node.url}/`);
    const me = await new ApiClient(browser, node.url).call('GET', '/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      profile: { handle: 'alice', displayName: 'Alice Tremblay', organization: { slug: 'tbs' } },
      email: 'alice@tbs.example',
      locale: 'en',
      isAdmin: false,
      identities: [{ issuer: idpA.url, sub: 'alice' }],
    });
  });

  it('binds by email domain when the claim names no known organization', async () => {
    const browser = new Browser();
    await signIn(browser, node.url, 'dept-a', 'bruno');
    const me = await new ApiClient(browser, node.url).call('GET', '/me');
    expect(me.body.profile.organization).toMatchObject({ slug: 'nrcan' });
    expect(me.body.locale).toBe('fr');
  });

  it('binds nothing by an email address the provider has not verified', async () => {
    idpA.people.push({
      sub: 'mallory',
      name: 'Mallory',
      email: 'mallory@nrcan.example',
      emailVerified: false,
      locale: 'en',
      organization: '',
    });
    const browser = new Browser();
    await signIn(browser, node.url, 'dept-a', 'mallory');
    const me = await new ApiClient(browser, node.url).call('GET', '/me');
    expect(me.body.profile.organization).toBeNull();
  });

  it('refreshes the account from the claims on every sign-in', async () => {
    const first = new Browser();
    await signIn(first, node.url, 'dept-a', 'alice');
    expect((await new ApiClient(first, node.url).call('GET', '/me')).body.profile.displayName).toBe(
      'Alice Tremblay',
    );
    idpA.people.find((p) => p.sub === 'alice')!.name = 'Alice Tremblay-Roy';
    const browser = new Browser();
    await signIn(browser, node.url, 'dept-a', 'alice');
    const me = await new ApiClient(browser, node.url).call('GET', '/me');
    expect(me.body.profile.displayName).toBe('Alice Tremblay-Roy');
    expect(await users().countDocuments({ claimsName: { $regex: '^Alice Tremblay' } })).toBe(1);
  });

  it('treats the same sub at two issuers as two different people', async () => {
    const browser = new Browser();
    await signIn(browser, node.url, 'central', 'alice');
    const me = await new ApiClient(browser, node.url).call('GET', '/me');
    expect(me.body.profile.handle).not.toBe('alice');
    expect(me.body.identities).toEqual([{ issuer: idpB.url, sub: 'alice' }]);
    expect(await node.database.db.collection(collections.identities).countDocuments({ sub: 'alice' })).toBe(
      2,
    );
  });

  it('rotates the session id at sign-in', async () => {
    const browser = new Browser();
    await browser.navigate(`${node.url}/auth/login/dept-a`); // the flow stores state in a fresh session
    const before = browser.cookies(node.url).get('ensemble.sid');
    expect(before).toBeDefined();
    await signIn(browser, node.url, 'dept-a', 'alice');
    const after = browser.cookies(node.url).get('ensemble.sid');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('sets an httpOnly, SameSite session cookie', async () => {
    const res = await fetch(`${node.url}/auth/login/dept-a`, { redirect: 'manual' });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('ensemble.sid='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
  });

  it('refuses a callback with a forged state and creates no account', async () => {
    const before = await users().countDocuments();
    const browser = new Browser();
    await browser.navigate(`${node.url}/auth/login/dept-a`);
    const res = await browser.request(`${node.url}/auth/callback/dept-a?code=forged&state=forged`, {
      headers: { accept: 'application/json' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(await res.json()).toMatchObject({ type: '/problems/sign-in-refused' });
    expect(await users().countDocuments()).toBe(before);
  });

  it('refuses a code issued to another client (token substitution) and creates no account', async () => {
    const before = await users().countDocuments();
    const browser = new Browser();
    // Start a real sign-in so the node holds state, then answer it with a code minted for another app.
    const start = await browser.request(`${node.url}/auth/login/dept-a`);
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const res = await browser.request(
      `${node.url}/auth/callback/dept-a?code=not-ours&state=${encodeURIComponent(state)}`,
    );
    const text = await res.text();
    expect({ status: res.status, text }).toMatchObject({
      status: 502,
      text: expect.stringContaining('Sign-in with Test provider dept-a failed'),
    });
    expect(await users().countDocuments()).toBe(before);
  });

  it('answers an unknown provider with 404', async () => {
    const res = await fetch(`${node.url}/auth/login/nobody`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ type: '/problems/not-found' });
  });

  it('signs out of Ensemble and of the provider (RP-initiated logout)', async () => {
    const browser = new Browser();
    await signIn(browser, node.url, 'dept-a', 'alice');
    const api = new ApiClient(browser, node.url);
    const token = await api.token();
    const res = await browser.request(`${node.url}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: token }).toString(),
    });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(`${idpA.url}/session/end`);
    expect(location.searchParams.get('id_token_hint')).toMatch(/^ey/);
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${node.url}/`);
    expect((await api.call('GET', '/me')).status).toBe(401);
  });

  it('refuses a state-changing request without the CSRF token and stores nothing', async () => {
    const browser = new Browser();
    await signIn(browser, node.url, 'dept-a', 'alice');
    const api = new ApiClient(browser, node.url);
    const refused = await api.call('PATCH', '/me/profile', { location: 'Ottawa' }, { csrf: false });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ type: '/problems/csrf-failed' });
    const logout = await browser.request(`${node.url}/auth/logout`, { method: 'POST' });
    expect(logout.status).toBe(403);
    expect((await api.call('GET', '/me')).body.profile.location).toBeUndefined();
    const accepted = await api.call('PATCH', '/me/profile', { location: 'Ottawa' });
    expect(accepted.status).toBe(200);
    expect(accepted.body.profile.location).toBe('Ottawa');
  });

  it('answers GET /api/v1/me with 401 problem+json when signed out', async () => {
    const res = await fetch(`${node.url}/api/v1/me`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('a provider that is down', () => {
  let node: RunningNode;
  beforeAll(async () => {
    const port = await freePort();
    const dead = await freePort(); // nothing listens there
    node = await startTestNode({
      port,
      issuers: [
        {
          id: 'down',
          name: { en: 'Department down', fr: 'Ministère en panne' },
          issuer: `http://127.0.0.1:${dead}`,
          clientId: 'x',
          clientSecret: 'y',
          scope: 'openid',
        },
      ],
    });
  });
  afterAll(() => node.close());

  it('does not stop the node; signing in with it says which provider is unreachable, and nothing is created', async () => {
    const res = await fetch(`${node.url}/auth/login/down`);
    expect(res.status).toBe(502);
    const html = await res.text();
    expect(html).toContain('Department down');
    expect(html).toContain('unreachable');
    expect(await node.database.db.collection(collections.users).countDocuments()).toBe(0);
  });
});

describe('sign-in rate limit', () => {
  let node: RunningNode;
  let idp: TestIdp;
  beforeAll(async () => {
    const port = await freePort();
    idp = await startTestIdp({ id: 'dept', nodeUrl: `http://127.0.0.1:${port}`, people: people() });
    node = await startTestNode({ port, issuers: [idp.issuer], env: { AUTH_RATE_LIMIT: '3' } });
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
  });

  it('answers 429 problem+json past the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${node.url}/auth/login/dept`, {
        redirect: 'manual',
        headers: { accept: 'application/json' },
      });
      statuses.push(res.status);
      if (res.status === 429) expect(await res.json()).toMatchObject({ type: '/problems/rate-limited' });
    }
    expect(statuses).toEqual([302, 302, 302, 429]);
  });
});

describe('sign-in from one department network (one address, the default limit)', () => {
  const OFFICE = 25;
  const office = Array.from({ length: OFFICE }, (_, i) => ({
    sub: `clerk${i}`,
    name: `Clerk ${i}`,
    email: `clerk${i}@dept.example`,
    locale: 'en' as const,
    organization: '',
  }));
  let node: RunningNode;
  let idp: TestIdp;
  beforeAll(async () => {
    const port = await freePort();
    idp = await startTestIdp({ id: 'dept', nodeUrl: `http://127.0.0.1:${port}`, people: office });
    node = await startTestNode({ port, issuers: [idp.issuer] });
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
  });

  it('lets a whole office sign in at nine, one after another from the same address', async () => {
    const signedIn: string[] = [];
    for (const clerk of office) {
      const browser = new Browser();
      await signIn(browser, node.url, 'dept', clerk.sub);
      const me = await new ApiClient(browser, node.url).call('GET', '/me');
      if (me.status === 200) signedIn.push(me.body.profile.displayName as string);
    }
    expect(signedIn).toEqual(office.map((c) => c.name));
  });
});

describe('instance administrators named by a claim', () => {
  let node: RunningNode;
  let idp: TestIdp;
  beforeAll(async () => {
    const port = await freePort();
    idp = await startTestIdp({
      id: 'dept',
      nodeUrl: `http://127.0.0.1:${port}`,
      people: [
        {
          sub: 'dana',
          name: 'Dana Admin',
          email: 'dana@x.example',
          locale: 'en',
          organization: '',
          roles: ['ensemble-admin'],
        },
        {
          sub: 'eli',
          name: 'Eli User',
          email: 'eli@x.example',
          locale: 'en',
          organization: '',
          roles: ['reader'],
        },
      ],
    });
    node = await startTestNode({
      port,
      issuers: [idp.issuer],
      env: { OIDC_ADMIN_CLAIM: 'roles=ensemble-admin' },
    });
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
  });

  it('makes a person with the claim value an administrator, and no one else', async () => {
    for (const [who, admin] of [
      ['dana', true],
      ['eli', false],
    ] as const) {
      const browser = new Browser();
      await signIn(browser, node.url, 'dept', who);
      expect((await new ApiClient(browser, node.url).call('GET', '/me')).body.isAdmin).toBe(admin);
    }
  });
});

describe('behind a TLS-terminating proxy', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startTestNode({
      port: await freePort(),
      env: { PUBLIC_URL: 'https://ensemble.example.gc.ca', TRUST_PROXY: 'loopback', DEV_IDP: 'true' },
    });
  });
  afterAll(() => node.close());

  it('marks the session cookie Secure and sends HSTS', async () => {
    const res = await fetch(`${node.url}/auth/login/dev`, {
      redirect: 'manual',
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'ensemble.example.gc.ca' },
    });
    expect(res.status).toBe(302);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('ensemble.sid='));
    expect(cookie).toMatch(/; Secure/i);
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
  });
});
