import {
  FakeServer,
  createPublicGroup,
  joinFakeGroup,
  postSigned,
  type FakeActor,
} from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const PUBLIC = `${AS}#Public`;

/**
 * A peer's activity that needs a document from a server that is down or in trouble for now (the signer's key,
 * an announced post from its author's node) is answered 503 with Retry-After, so its sender tries again, and
 * the retry is taken once that server answers. Senders (this node, Mastodon) give up on a 4xx: answered so,
 * a post or a membership would be lost for good to a moment's outage. A document that does not exist is
 * still a 4xx.
 */
describe('the inbox tells a sender to try again when another server is down for now', () => {
  let world: World;
  /** bea's server: down (503) when `authorsDown`. */
  let authors: FakeServer;
  /** A server hosting the `hub` group, which alice joins. */
  let hubs: FakeServer;
  let bea: FakeActor;
  let hub: FakeActor;
  let group: string;
  let hubHandle: string;
  let authorsDown = false;
  let n = 0;

  const follow = (actor: FakeActor) => ({
    '@context': AS,
    id: `${new URL(actor.id).origin}/activities/f${++n}`,
    type: 'Follow',
    actor: actor.id,
    object: group,
  });
  const memberHandles = async () =>
    ((await world.as.alice!.call('GET', '/groups/lab/members')).body.items as { handle: string }[]).map(
      (m) => m.handle,
    );
  const hubTitles = async () =>
    (
      (await world.as.alice!.call('GET', `/groups/${encodeURIComponent(hubHandle)}/threads`)).body.items as {
        title: string;
      }[]
    ).map((t) => t.title);
  /** A thread by bea, served by her server as a Create (with its Page) at `/activities/<name>`. */
  const beaThread = (name: string, title: string) => {
    const page = {
      id: `${authors.url}/pages/${name}`,
      type: 'Page',
      attributedTo: bea.id,
      name: title,
      content: `<p>${title}.</p>`,
      to: [PUBLIC],
      cc: [hub.id],
      audience: hub.id,
    };
    const create = {
      '@context': AS,
      id: `${authors.url}/activities/${name}`,
      type: 'Create',
      actor: bea.id,
      to: [PUBLIC],
      cc: [hub.id],
      object: page,
    };
    authors.documents.set(`/activities/${name}`, create);
    authors.documents.set(`/pages/${name}`, { '@context': AS, ...page });
    return create.id;
  };
  const announce = (object: string) => ({
    '@context': AS,
    id: `${hubs.url}/activities/an${++n}`,
    type: 'Announce',
    actor: hub.id,
    to: [PUBLIC],
    cc: [`${hub.id}/followers`],
    object,
  });
  const tryAgain = (res: { status: number; type: string; body: string; headers?: Headers }) => {
    expect(res.status).toBe(503);
    expect(res.type).toContain('application/problem+json');
    expect(JSON.parse(res.body).detail).toMatch(/could not be (had|processed) now/);
  };

  beforeAll(async () => {
    authors = await new FakeServer().start();
    hubs = await new FakeServer().start();
    bea = authors.actor('bea');
    hub = hubs.actor('hub', { type: 'Group' });
    authors.authorizeGet = () => (authorsDown ? { status: 503 } : null);
    world = await startWorld(['alice'], { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' });
    group = await createPublicGroup(world.as.alice!, 'lab');

    // alice joins the hub group on its server (which accepts her Follow).
    const alice = world.as.alice!;
    hubHandle = await joinFakeGroup(alice, hubs, hub, `${world.node.url}/ap/a/u.alice/inbox`);
  });
  afterAll(async () => {
    await world?.close();
    await authors?.close();
    await hubs?.close();
  });

  it('a signing key its server cannot serve now: 503, nothing done; the retry makes bea a member', async () => {
    const activity = follow(bea);
    authorsDown = true;
    try {
      const res = await postSigned(`${group}/inbox`, activity, bea);
      tryAgain(res);
      expect(res.headers.get('retry-after')).toBe('30');
      expect(await memberHandles()).not.toContain(`bea@${authors.host}`);
    } finally {
      authorsDown = false;
    }
    expect((await postSigned(`${group}/inbox`, activity, bea)).status).toBe(202);
    expect(await memberHandles()).toContain(`bea@${authors.host}`);
  });

  it('a signing key on a server that refuses connections: 503', async () => {
    const gone = await new FakeServer().start();
    const cyd = gone.actor('cyd');
    await gone.close();
    tryAgain(await postSigned(`${group}/inbox`, follow(cyd), cyd));
  });

  it('a group elsewhere announces a thread whose author’s node is down: 503, nothing shown; the retry shows it', async () => {
    const activity = announce(beaThread('t1', 'Ferry schedule'));
    authorsDown = true;
    try {
      tryAgain(await postSigned(`${world.node.url}/ap/inbox`, activity, hub));
      expect(await hubTitles()).not.toContain('Ferry schedule');
    } finally {
      authorsDown = false;
    }
    expect((await postSigned(`${world.node.url}/ap/inbox`, activity, hub)).status).toBe(202);
    expect(await hubTitles()).toContain('Ferry schedule');
  });

  it('an announced thread its author’s node says does not exist is still refused for good (400)', async () => {
    const res = await postSigned(
      `${world.node.url}/ap/inbox`,
      announce(`${authors.url}/activities/never`),
      hub,
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).detail).toMatch(/answered 404/);
  });
});
