import { createPublicGroup } from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'application/activity+json';

describe('federation discovery: WebFinger, actors, NodeInfo, objects', () => {
  let world: World;
  let host: string;
  const get = (url: string, accept = AS) => fetch(url, { headers: { accept }, redirect: 'manual' });
  const json = async (url: string, accept = AS) =>
    (await (await get(url, accept)).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  beforeAll(async () => {
    world = await startWorld(['alice', 'bruno']);
    host = new URL(world.node.url).host;
    const { as } = world;
    await createPublicGroup(as.alice!, 'policy-lab', { name: 'Policy lab' });
    expect(
      (
        await as.alice!.call('POST', '/groups', {
          handle: 'cabinet',
          name: 'Cabinet prep',
          visibility: 'members',
          joinPolicy: 'invite',
        })
      ).status,
    ).toBe(201);
    await createPublicGroup(as.alice!, 'intake', { joinPolicy: 'request' });
    // A person and a group may share a name.
    await createPublicGroup(as.bruno!, 'alice');
  });
  afterAll(() => world.close());

  it('finds a person by acct: and passes Mastodon’s round trip (preferredUsername@host resolves to the same actor)', async () => {
    const res = await get(`${world.node.url}/.well-known/webfinger?resource=acct:alice@${host}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/jrd+json');
    const jrd = (await res.json()) as {
      subject: string;
      links: { rel: string; type?: string; href: string; properties?: Record<string, string> }[];
    };
    expect(jrd.subject).toBe(`acct:alice@${host}`);
    const self = jrd.links.filter((l) => l.rel === 'self');
    // The person first (Mastodon takes the first self link), then the group of the same name, each typed.
    expect(self.map((l) => l.properties?.['https://www.w3.org/ns/activitystreams#type'])).toEqual([
      'Person',
      'Group',
    ]);
    const actor = await json(self[0]!.href);
    expect(actor).toMatchObject({
      id: self[0]!.href,
      type: 'Person',
      preferredUsername: 'alice',
      inbox: `${self[0]!.href}/inbox`,
    });
    expect(actor.endpoints.sharedInbox).toBe(`${world.node.url}/ap/inbox`);
    expect(actor.publicKey).toMatchObject({ id: `${actor.id}#main-key`, owner: actor.id });
    expect(actor.publicKey.publicKeyPem).toMatch(/BEGIN PUBLIC KEY/);
    const back = (await json(
      `${world.node.url}/.well-known/webfinger?resource=acct:${actor.preferredUsername}@${new URL(actor.id).host}`,
    )) as { links: { rel: string; href: string }[] };
    expect(back.links.find((l) => l.rel === 'self')!.href).toBe(actor.id);
    // The key is generated once: a second fetch serves the same key.
    expect((await json(actor.id)).publicKey.publicKeyPem).toBe(actor.publicKey.publicKeyPem);
  });

  it('serves a public group as a FEP-1b12 Group with its moderators; closed joining asks for approval', async () => {
    const group = await json(`${world.node.url}/ap/a/g.policy-lab`);
    expect(group).toMatchObject({
      type: 'Group',
      preferredUsername: 'policy-lab',
      name: 'Policy lab',
      manuallyApprovesFollowers: false,
    });
    expect(group.attributedTo).toBe(`${group.id}/moderators`);
    const moderators = await json(group.attributedTo);
    expect(moderators.orderedItems).toEqual([`${world.node.url}/ap/a/u.alice`]);
    // Followers of a group are its members (FEP-1b12): its owner so far.
    expect(await json(group.followers)).toMatchObject({ type: 'OrderedCollection', totalItems: 1 });
    expect((await json(group.outbox)).type).toBe('OrderedCollection');
    expect((await json(`${world.node.url}/ap/a/g.intake`)).manuallyApprovesFollowers).toBe(true);
  });

  it('sends browsers to the page and servers to the document', async () => {
    const page = await get(`${world.node.url}/ap/a/u.alice`, 'text/html,application/xhtml+xml,*/*;q=0.8');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe(`${world.node.url}/people/alice`);
    const doc = await get(
      `${world.node.url}/ap/a/u.alice`,
      'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    );
    expect(doc.status).toBe(200);
    expect(doc.headers.get('content-type')).toContain('application/activity+json');
    expect(doc.headers.get('vary')).toContain('Accept');
  });

  it('never serves a group that is not public, an unknown actor, or a private key', async () => {
    for (const url of [
      `${world.node.url}/ap/a/g.cabinet`,
      `${world.node.url}/ap/a/u.nobody`,
      `${world.node.url}/ap/a/x.alice`,
      `${world.node.url}/.well-known/webfinger?resource=acct:cabinet@${host}`,
      `${world.node.url}/.well-known/webfinger?resource=acct:alice@elsewhere.example`,
    ]) {
      const res = await get(url);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await get(`${world.node.url}/.well-known/webfinger?resource=alice`)).status).toBe(400);
    for (const url of [
      `${world.node.url}/ap/a/u.alice`,
      `${world.node.url}/ap/a/g.policy-lab`,
      `${world.node.url}/ap/a/instance`,
    ])
      expect(await (await get(url)).text()).not.toMatch(/PRIVATE KEY/);
  });

  it('publishes NodeInfo 2.0 and 2.1 with real counts', async () => {
    const links = (await json(`${world.node.url}/.well-known/nodeinfo`, 'application/json')).links as {
      rel: string;
      href: string;
    }[];
    expect(links.map((l) => l.rel)).toEqual([
      'http://nodeinfo.diaspora.software/ns/schema/2.1',
      'http://nodeinfo.diaspora.software/ns/schema/2.0',
    ]);
    for (const link of links) {
      const info = await json(link.href, 'application/json');
      expect(info).toMatchObject({
        software: { name: 'ensemble' },
        protocols: ['activitypub'],
        openRegistrations: false,
      });
      expect(info.usage.users.total).toBe(2);
      expect(info.usage.users.activeMonth).toBe(2);
    }
  });

  it('serves threads as Pages and replies as Notes, and a deleted one as a 410 Tombstone', async () => {
    const thread = await world.as.alice!.call('POST', '/groups/policy-lab/threads', {
      title: 'Hybrid work',
      body: 'What is **working**?',
    });
    expect(thread.status).toBe(201);
    const reply = await world.as.alice!.call('POST', `/threads/${thread.body.id}/replies`, {
      body: 'Fewer meetings.',
    });
    expect(reply.status).toBe(201);
    const page = await json(`${world.node.url}/ap/threads/${thread.body.id}`);
    expect(page).toMatchObject({
      type: 'Page',
      name: 'Hybrid work',
      attributedTo: `${world.node.url}/ap/a/u.alice`,
      audience: `${world.node.url}/ap/a/g.policy-lab`,
      to: ['https://www.w3.org/ns/activitystreams#Public'],
    });
    expect(page.content).toContain('<strong>working</strong>');
    const note = await json(`${world.node.url}/ap/replies/${reply.body.id}`);
    expect(note).toMatchObject({ type: 'Note', inReplyTo: page.id, context: `${page.id}/context` });
    expect((await world.as.alice!.call('DELETE', `/threads/${thread.body.id}`)).status).toBe(204);
    const gone = await get(`${world.node.url}/ap/threads/${thread.body.id}`);
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ type: 'Tombstone', formerType: 'Page', id: page.id });
    // A deleted public group is gone (410); a deleted members-only group stays unknown (404).
    await createPublicGroup(world.as.alice!, 'short-lived');
    expect((await world.as.alice!.call('DELETE', '/groups/short-lived')).status).toBe(204);
    const goneGroup = await get(`${world.node.url}/ap/a/g.short-lived`);
    expect(goneGroup.status).toBe(410);
    expect(await goneGroup.json()).toMatchObject({ type: 'Tombstone', formerType: 'Group' });
    const hidden = await world.as.alice!.call('POST', '/groups/cabinet/threads', {
      title: 'Secret',
      body: 'Budget',
    });
    expect((await get(`${world.node.url}/ap/threads/${hidden.body.id}`)).status).toBe(404);
    expect((await world.as.alice!.call('DELETE', '/groups/cabinet')).status).toBe(204);
    expect((await get(`${world.node.url}/ap/a/g.cabinet`)).status).toBe(404);
  });
});
