import jsonld from 'jsonld';
import type { Db } from 'mongodb';
import { collections } from '../../server/db/collections.js';
import { SHIPPED_CONTEXT_FILES, SHIPPED_CONTEXTS } from '../../server/federation/json-ld.contexts.js';
import { createPublicGroup, FakeServer, postSigned, type FakeActor } from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const PUBLIC = `${AS}#Public`;
const ACCEPT = { accept: 'application/activity+json' };

/** A JSON-LD document loader with no network: the shipped contexts, nothing else. */
const offline = (url: string) => {
  const document = SHIPPED_CONTEXTS[url];
  if (!document) throw new Error(`not shipped: ${url}`);
  return Promise.resolve({ contextUrl: null, documentUrl: url, document });
};
const expand = async (doc: unknown) =>
  (await jsonld.expand(doc as jsonld.JsonLdDocument, {
    documentLoader: offline as never,
  })) as Record<string, unknown>[];

/** The expanded property a term must become (ActivityStreams names `orderedItems` `items`). */
const expandedName = (term: string) => (term === 'orderedItems' ? 'items' : term);

/**
 * Every key of a document survives JSON-LD expansion: no term the node writes is undefined in its @context
 * (an undefined term is silently dropped by a JSON-LD processor, and so by the peers that use one).
 */
async function expectAllTermsDefined(doc: Record<string, unknown>) {
  const [expanded] = await expand(doc);
  const properties = Object.keys(expanded ?? {});
  const lost = Object.keys(doc)
    .filter((k) => k !== '@context')
    .filter((term) => {
      if (term === 'id') return !properties.includes('@id');
      if (term === 'type') return !properties.includes('@type');
      return !properties.some((iri) => new RegExp(`[#/]${expandedName(term)}$`).test(iri));
    });
  expect({ id: doc.id, lost }).toEqual({ id: doc.id, lost: [] });
}

describe('JSON-LD: shipped contexts, and the terms Ensemble defines', () => {
  let world: World;
  let peer: FakeServer;
  let ada: FakeActor;
  let group: string;
  let db: Db;

  beforeAll(async () => {
    peer = await new FakeServer().start();
    ada = peer.actor('ada');
    world = await startWorld(['alice'], { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' });
    db = world.node.database.db;
    group = await createPublicGroup(world.as.alice!, 'ld-lab');
    // ada posts as a member: she joins the open group first (a Follow, FEP-1b12).
    const follow = {
      '@context': AS,
      id: `${peer.url}/activities/ada-joins`,
      type: 'Follow',
      actor: ada.id,
      object: group,
    };
    expect((await postSigned(`${group}/inbox`, follow, ada)).status).toBe(202);
  });
  afterAll(async () => {
    await world.close();
    await peer.close();
  });

  it('every shipped context is a usable JSON-LD context offline (nested ones included)', async () => {
    for (const url of [AS, 'https://w3id.org/security/v1', ...Object.keys(SHIPPED_CONTEXT_FILES)]) {
      const [expanded] = await expand({ '@context': [AS, url], id: 'https://x.example/1', type: 'Note' });
      expect({ url, id: expanded?.['@id'] }).toEqual({ url, id: 'https://x.example/1' });
    }
  });

  it('accepts an activity naming each shipped context, with no outbound request for it', async () => {
    const urls = Object.keys(SHIPPED_CONTEXT_FILES);
    let n = 0;
    for (const url of urls) {
      n++;
      const activity = {
        '@context': [AS, url],
        id: `${peer.url}/activities/ld-${n}`,
        type: 'Create',
        actor: ada.id,
        to: [PUBLIC],
        cc: [group],
        object: {
          id: `${peer.url}/notes/ld-${n}`,
          type: 'Note',
          attributedTo: ada.id,
          content: `names ${url}`,
          to: [PUBLIC],
          cc: [group],
        },
      };
      const res = await postSigned(`${group}/inbox`, activity, ada);
      expect({ url, status: res.status, body: res.body }).toEqual({ url, status: 202, body: '' });
    }
    // Only the actor was fetched from the peer; no context was fetched or kept.
    expect(new Set(peer.gets)).toEqual(new Set(['/users/ada']));
    expect(await db.collection(collections.apContexts).countDocuments()).toBe(0);
  });

  it('Ensemble’s documents define every term they use (actors, threads, replies, collections)', async () => {
    const alice = world.as.alice!;
    const thread = await alice.call('POST', '/groups/ld-lab/threads', { title: 'Terms', body: 'Defined' });
    expect(thread.status).toBe(201);
    const threadId = (thread.body as { id: string }).id;
    const reply = await alice.call('POST', `/threads/${threadId}/replies`, { body: 'Kept' });
    expect(reply.status).toBe(201);
    const get = async (url: string) =>
      (await (await fetch(url, { headers: ACCEPT })).json()) as Record<string, unknown>;
    const groupDoc = await get(group);
    expect(groupDoc).toMatchObject({ moderators: `${group}/moderators`, postingRestrictedToMods: false });
    const personDoc = await get(`${world.node.url}/ap/a/u.alice`);
    expect(personDoc).toMatchObject({ discoverable: false, manuallyApprovesFollowers: false });
    for (const doc of [
      groupDoc,
      personDoc,
      await get(`${world.node.url}/ap/a/instance`),
      await get(`${world.node.url}/ap/threads/${threadId}`),
      await get(`${world.node.url}/ap/replies/${(reply.body as { id: string }).id}`),
      await get(`${group}/moderators`),
      await get(`${group}/followers`),
    ])
      await expectAllTermsDefined(doc);
  });
});
