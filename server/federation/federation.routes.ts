import type { ApexInstance } from 'activitypub-express';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { ValidationError, NotFoundError } from '../core/errors.js';
import { asyncHandler } from '../core/http.js';
import type { MembershipState } from '../groups/group.policy.js';
import type { GroupDoc } from '../groups/group.repository.js';
import { AS_CONTEXT, PUBLIC, parseActorName, type ActorDirectory } from './actor.directory.js';
import { idOf, originOf } from './as.values.js';
import type { ObjectRenderer } from './object.renderer.js';
import type { NodeInfoSource } from './nodeinfo.js';
import { sendDownload, type Download } from '../files/file.download.js';

const KIND_TYPES = { person: 'Person', group: 'Group', instance: 'Application' } as const;
// Negotiator matches a media range with parameters only against a type with the same parameters: the
// ActivityStreams profile form of ld+json is listed as such.
const AS_TYPES = [
  'application/activity+json',
  'application/ld+json',
  'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
];
const CONTENT_TYPE = 'application/activity+json; charset=utf-8';

/** Browsers get the page, servers the document (`*` prefers the page, as apex does). */
function wantsHtml(req: Request): boolean {
  return req.accepts(['text/html', ...AS_TYPES]) === 'text/html';
}

/**
 * A document goes out as ActivityStreams JSON. One served only to some servers (a members-only group's, an
 * activity addressed to someone) says `Cache-Control: private`: no shared cache on the way may keep it and
 * hand it to anyone else (docs/federation.md, "Members-only groups across nodes").
 */
function sendActivity(res: Response, doc: Record<string, unknown>, status = 200, restricted = false): void {
  if (restricted) res.set('Cache-Control', 'private, no-cache');
  res.status(status).type(CONTENT_TYPE).set('Vary', 'Accept').send(JSON.stringify(doc));
}

/** Whether an activity of a collection is addressed to Public or to one of `audiences`. */
function addressedTo(item: Record<string, unknown>, audiences: string[]): boolean {
  return ['to', 'cc', 'audience']
    .flatMap((k) => (Array.isArray(item[k]) ? (item[k] as unknown[]) : [item[k]]))
    .map((v) => idOf(v))
    .some((a) => a === PUBLIC || a === 'as:Public' || a === 'Public' || audiences.includes(a ?? ''));
}

export interface FederationRoutesDeps {
  directory: ActorDirectory;
  objects: ObjectRenderer;
  apex: ApexInstance;
  nodeinfo: NodeInfoSource;
  host: string;
  /** The guard and handler of inbox POSTs. */
  inbox: RequestHandler[];
  /** The IRIs of a group's pinned threads. */
  pinned: (group: GroupDoc) => Promise<string[]>;
  /**
   * An activity this node queued, as it was sent (its body in the delivery queue): served back while its
   * JSON-LD form is being kept (ADR 0031).
   */
  queued: (id: string) => Promise<Record<string, unknown> | null>;
  /** The actor whose server signed a GET, if its signature verifies. */
  signedBy: (req: Request) => Promise<string | null>;
  /** The origins of the nodes holding a member of a group hosted here (in these states). */
  memberOrigins: (group: GroupDoc, states: MembershipState[]) => Promise<Set<string>>;
  /**
   * A post's attachment as other nodes are served it: one written here by its id, or (`url`) this node's
   * copy of one written elsewhere in a group hosted here; with its group and what a download sends.
   */
  attachment: (
    ref: { id: string } | { url: string },
  ) => Promise<{ group: GroupDoc; download: Download } | null>;
}

/**
 * The node's ActivityPub surface (docs/federation.md): WebFinger, NodeInfo, actors, collections, objects and
 * inboxes. Mounted before the app's JSON body parser (inboxes verify the Digest against the raw body).
 */
export function federationRoutes(deps: FederationRoutesDeps): Router {
  const { directory, objects, apex } = deps;
  const router = Router();

  /**
   * A members-only group's documents are served only to requests signed by a node holding a member
   * (authorized fetch; anyone else gets the 404 of something that does not exist). Its actor and collections
   * also to a node whose person is invited or asked to join (it reads the group to show the invitation);
   * its posts and activities to member nodes only. A post written here in such a group hosted elsewhere is
   * served to the group's node only (this node cannot know the others).
   */
  const mayServe = async (group: GroupDoc, req: Request, states: MembershipState[]): Promise<boolean> => {
    if (group.visibility === 'public') return true;
    const signer = await signerOf(req);
    if (!signer) return false;
    if (group.origin) return originOf(signer) === originOf(group.origin.iri);
    return (await deps.memberOrigins(group, states)).has(originOf(signer) ?? '');
  };
  /** Who signed a request, verified once per request. */
  const signers = new WeakMap<Request, Promise<string | null>>();
  const signerOf = (req: Request): Promise<string | null> => {
    let signer = signers.get(req);
    if (!signer) signers.set(req, (signer = deps.signedBy(req)));
    return signer;
  };
  const ANY_STANDING: MembershipState[] = ['active', 'invited', 'requested'];
  /** A members-only group's actor and collections are served to some servers only. */
  const restricted = (loaded: object | null) =>
    Boolean(loaded && 'group' in loaded && (loaded.group as GroupDoc).visibility !== 'public');
  /** A local actor as served to this request (a members-only group only to its members' nodes). */
  const servedActor = async (name: string, req: Request) => {
    const loaded = await directory.load(name, { membersOnly: true });
    if (loaded && 'group' in loaded && !(await mayServe(loaded.group, req, ANY_STANDING))) return null;
    return loaded;
  };

  router.get(
    '/.well-known/webfinger',
    asyncHandler(async (req, res) => {
      const resource = typeof req.query.resource === 'string' ? req.query.resource : '';
      let names: string[];
      const acct = /^acct:@?([^@\s]+)@([^@\s]+)$/i.exec(resource);
      if (acct) {
        if (acct[2]!.toLowerCase() !== deps.host.toLowerCase())
          throw new NotFoundError(`${acct[2]} is not this node.`);
        const handle = acct[1]!.toLowerCase();
        names = handle === deps.host.toLowerCase() ? ['instance'] : [`u.${handle}`, `g.${handle}`];
      } else if (/^https?:\/\//.test(resource)) {
        const name = directory.nameOf(resource);
        names = name ? [name] : [];
      } else {
        throw new ValidationError('Expected resource=acct:name@host.', [
          { field: 'query.resource', message: 'expected acct:name@host or an actor IRI' },
        ]);
      }
      const found = [];
      for (const name of names) if (await directory.load(name)) found.push(name);
      if (!found.length) throw new NotFoundError(`No actor ${resource} on this node.`);
      const first = found[0]!;
      res.type('application/jrd+json').json({
        subject: acct ? `acct:${acct[1]!.toLowerCase()}@${deps.host}` : resource,
        aliases: [directory.iri(first), directory.pageOf(first)],
        links: [
          // A person and a group may share a name: the person comes first (Mastodon takes the first
          // self link); each link says which kind it is, as Lemmy's do.
          ...found.map((name) => ({
            rel: 'self',
            type: 'application/activity+json',
            href: directory.iri(name),
            properties: {
              'https://www.w3.org/ns/activitystreams#type': KIND_TYPES[parseActorName(name)!.kind],
            },
          })),
          { rel: 'http://webfinger.net/rel/profile-page', type: 'text/html', href: directory.pageOf(first) },
        ],
      });
    }),
  );

  router.get('/.well-known/nodeinfo', (_req, res) => {
    res.json({
      links: ['2.1', '2.0'].map((v) => ({
        rel: `http://nodeinfo.diaspora.software/ns/schema/${v}`,
        href: `${directory.base}/nodeinfo/${v}`,
      })),
    });
  });
  router.get(
    '/nodeinfo/:version(2\\.0|2\\.1)',
    asyncHandler(async (req, res) => {
      const version = req.params.version!;
      res
        .type(`application/json; profile="http://nodeinfo.diaspora.software/ns/schema/${version}#"`)
        .send(JSON.stringify(await deps.nodeinfo.document(version)));
    }),
  );

  router.get(
    '/ap/a/:actor',
    asyncHandler(async (req, res) => {
      const name = req.params.actor!;
      const loaded = await servedActor(name, req);
      const doc = loaded ? await directory.render(loaded) : null;
      if (!doc) {
        const gone = await directory.tombstone(name);
        if (gone) return void sendActivity(res, gone, 410);
        throw new NotFoundError('No such actor on this node.');
      }
      if (wantsHtml(req)) return void res.redirect(303, directory.pageOf(name)!);
      sendActivity(res, doc, 200, restricted(loaded));
    }),
  );

  const collection = (
    build: (name: string, id: string, req: Request) => Promise<Record<string, unknown> | null>,
  ): RequestHandler =>
    asyncHandler(async (req, res) => {
      const name = req.params.actor!;
      const loaded = await servedActor(name, req);
      if (!loaded) throw new NotFoundError('No such actor on this node.');
      const id = `${directory.iri(name)}${req.path.slice(req.path.lastIndexOf('/'))}`;
      const doc = await build(name, id, req);
      if (!doc) throw new NotFoundError('No such collection.');
      sendActivity(res, { '@context': AS_CONTEXT, ...doc }, 200, restricted(loaded));
    });
  // Counts only: who follows whom is not listed to the world. A group's followers are its members
  // (FEP-1b12: following a group is joining it), on every node.
  router.get(
    '/ap/a/:actor/followers',
    collection(async (name, id) => {
      const loaded = await directory.load(name, { membersOnly: true });
      const totalItems =
        loaded && 'group' in loaded ? loaded.group.memberCount : await apex.store.getStreamCount(id);
      return { id, type: 'OrderedCollection', totalItems };
    }),
  );
  // A group's pinned threads (Mastodon's and Lemmy's `featured`).
  router.get(
    '/ap/a/:actor/featured',
    collection(async (name, id) => {
      const loaded = await directory.load(name, { membersOnly: true });
      if (!loaded || !('group' in loaded)) return null;
      const pinned = await deps.pinned(loaded.group);
      return { id, type: 'OrderedCollection', totalItems: pinned.length, orderedItems: pinned };
    }),
  );
  router.get(
    '/ap/a/:actor/following',
    collection(async (_name, id) => ({
      id,
      type: 'OrderedCollection',
      totalItems: await apex.store.getStreamCount(id),
    })),
  );
  // A group's outbox pages what it announced (backfill, FEP-f228). A members-only group's announcements
  // (addressed to its followers, never Public) are listed to a signed request from a node holding an active
  // member only: a node whose person is just invited sees the collection, not what it holds. Nothing
  // addressed to one person (an Accept, an Invite) is listed.
  router.get(
    '/ap/a/:actor/outbox',
    collection(async (name, id, req) => {
      const page = typeof req.query.page === 'string' ? req.query.page : undefined;
      if (page && page !== 'true' && !/^[a-f0-9]{24}$/.test(page))
        throw new ValidationError('Unknown page.', [
          { field: 'query.page', message: 'expected a page cursor' },
        ]);
      const loaded = await directory.load(name, { membersOnly: true });
      const group = loaded && 'group' in loaded && !loaded.group.origin ? loaded.group : null;
      const members =
        group?.visibility === 'members' && page
          ? (await deps.memberOrigins(group, ['active'])).has(originOf((await signerOf(req)) ?? '') ?? '')
          : false;
      const found = (await (apex.getCollection as (...a: unknown[]) => Promise<unknown>)(
        id,
        page,
        null,
        members,
      )) as Record<string, unknown>;
      if (members && Array.isArray(found.orderedItems))
        found.orderedItems = (found.orderedItems as Record<string, unknown>[]).filter((item) =>
          addressedTo(item, [`${directory.iri(name)}/followers`]),
        );
      const compact = await apex.toJSONLD(found);
      delete compact['@context'];
      // apex's own serialiser leaves out its private fields (`_id`, `_meta`) and bto/bcc.
      return JSON.parse(apex.stringifyPublicJSONLD(compact)) as Record<string, unknown>;
    }),
  );
  router.get(
    '/ap/a/:actor/moderators',
    collection(async (name) => (parseActorName(name)?.kind === 'group' ? objects.moderators(name) : null)),
  );

  for (const kind of ['threads', 'replies'] as const) {
    router.get(
      `/ap/${kind}/:id`,
      asyncHandler(async (req, res) => {
        const rendered = await objects.render(kind, req.params.id!);
        if (!rendered || !(await mayServe(rendered.group, req, ['active'])))
          throw new NotFoundError('No such object on this node.');
        if (wantsHtml(req) && rendered.page) return void res.redirect(303, rendered.page);
        sendActivity(res, rendered.doc, rendered.gone ? 410 : 200, rendered.group.visibility !== 'public');
      }),
    );
  }

  // FEP-7888 / FEP-f228: a thread's posts (`context`) and its direct replies (`replies`), paged.
  for (const which of ['context', 'replies'] as const) {
    router.get(
      `/ap/threads/:id/${which}`,
      asyncHandler(async (req, res) => {
        const page = typeof req.query.page === 'string' ? req.query.page : undefined;
        if (page !== undefined && !/^\d{1,9}$/.test(page))
          throw new ValidationError('Unknown page.', [
            { field: 'query.page', message: 'expected a position' },
          ]);
        const found = await objects.threadCollection(
          req.params.id!,
          which,
          page === undefined ? null : Number(page),
        );
        if (!found || !(await mayServe(found.group, req, ['active'])))
          throw new NotFoundError('No such collection on this node.');
        sendActivity(
          res,
          JSON.parse(JSON.stringify(found.doc)) as Record<string, unknown>,
          200,
          found.group.visibility !== 'public',
        );
      }),
    );
  }

  // A post's attachments (docs/federation.md, "Attachments"): served as the post is, to anyone for a public
  // group, to its member nodes' signed fetches for a members-only one. `?url=` is a members-only group's
  // node serving its copy of a file written on another node (that node serves it to the group's node only).
  const attachmentRoute = (ref: (req: Request) => { id: string } | { url: string } | null): RequestHandler =>
    asyncHandler(async (req, res) => {
      const wanted = ref(req);
      const found = wanted && (await deps.attachment(wanted));
      if (!found || found.group.visibility === 'node' || !(await mayServe(found.group, req, ['active'])))
        throw new NotFoundError('No such file on this node.');
      await sendDownload(req, res, found.download);
    });
  router.get(
    '/ap/files',
    attachmentRoute((req) =>
      typeof req.query.url === 'string' && URL.canParse(req.query.url) ? { url: req.query.url } : null,
    ),
  );
  router.get(
    '/ap/files/:id',
    attachmentRoute((req) => ({ id: req.params.id! })),
  );

  // Every activity the node sent can be fetched back by its id: a public one by anyone; one addressed to
  // someone (a Follow, its Accept, an Invite) by a signed request from their server only.
  router.get(
    '/ap/s/:id',
    asyncHandler(async (req, res) => {
      const id = req.params.id!;
      if (!/^[a-f0-9]{24}$/.test(id)) throw new NotFoundError('No such activity on this node.');
      const iri = `${directory.base}/ap/s/${id}`;
      const kept = await apex.store.getActivity(iri);
      // Queued a moment ago, its JSON-LD form not kept yet: as it was sent (a receiver may fetch it back at
      // once), under the same rules.
      const stored = kept ?? (await deps.queued(iri));
      if (!stored) throw new NotFoundError('No such activity on this node.');
      const addressed = ['to', 'cc', 'bto', 'bcc', 'audience', 'object', 'target']
        .flatMap((k) => (Array.isArray(stored[k]) ? (stored[k] as unknown[]) : [stored[k]]))
        .map((v) => idOf(v))
        .filter((v): v is string => typeof v === 'string');
      // apex keeps the Public address compacted (`as:Public`).
      const isPublic = addressed.some((a) => a === PUBLIC || a === 'as:Public' || a === 'Public');
      if (!isPublic) {
        const signer = await signerOf(req);
        const origins = new Set(addressed.map((a) => originOf(a)));
        // A members-only group's activities: to the nodes holding a member too.
        const audience = await directory.load(directory.nameOf(idOf(stored.audience) ?? '') ?? '', {
          membersOnly: true,
        });
        if (audience && 'group' in audience && audience.group.visibility === 'members')
          for (const origin of await deps.memberOrigins(audience.group, ['active'])) origins.add(origin);
        if (!signer || !origins.has(originOf(signer)))
          throw new NotFoundError('No such activity on this node.');
      }
      if (!kept) {
        const { bto: _bto, bcc: _bcc, ...sent } = stored;
        return sendActivity(res, sent, 200, !isPublic);
      }
      const doc = await apex.toJSONLD(kept);
      sendActivity(
        res,
        JSON.parse(apex.stringifyPublicJSONLD(doc)) as Record<string, unknown>,
        200,
        !isPublic,
      );
    }),
  );

  // The pages people share (`/groups/<handle>`, a thread's page, `/people/<handle>`) are the documents
  // themselves to a server that asks for ActivityStreams (search by URL on another node); browsers go on to
  // the web client.
  const negotiated = (find: (req: Request) => Promise<Record<string, unknown> | null>): RequestHandler =>
    asyncHandler(async (req, res, next) => {
      if (wantsHtml(req) || !req.accepts(AS_TYPES)) return next();
      const doc = await find(req);
      if (!doc) throw new NotFoundError('No such document on this node.');
      sendActivity(res, doc);
    });
  router.get(
    '/groups/:group',
    negotiated((req) => directory.document(`g.${String(req.params.group).toLowerCase()}`)),
  );
  router.get(
    '/people/:person',
    negotiated((req) => directory.document(`u.${String(req.params.person).toLowerCase()}`)),
  );
  router.get(
    '/groups/:group/threads/:id',
    negotiated(async (req) => {
      const rendered = await objects.render('threads', req.params.id!);
      return rendered && !rendered.gone && rendered.group.visibility === 'public' ? rendered.doc : null;
    }),
  );

  router.post('/ap/a/:actor/inbox', ...deps.inbox);
  router.post('/ap/inbox', ...deps.inbox);
  return router;
}
