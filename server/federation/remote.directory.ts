import { ObjectId } from 'mongodb';
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { foldText, searchTokens } from '../core/search-tokens.js';
import type { Logger } from '../core/logger.js';
import { sanitizeHtmlFragment } from '../core/html.js';
import { Lru } from '../core/lru.js';
import type { GroupDoc, GroupOrigin, GroupRepository } from '../groups/group.repository.js';
import {
  remotePersonRecord,
  type PersonOrigin,
  type PersonRepository,
  type UserDoc,
} from '../people/person.repository.js';
import { idOf, isNode, urlOf } from './as.values.js';
import type { FederationRecords } from './federation.records.js';
import { textOf } from './post.content.js';
import { RemoteFetchError, type RemoteFetcher } from './remote.fetcher.js';

/** A remote actor is read again from its node when it is used a day after it was last read. */
const ACTOR_TTL_MS = 86_400_000;
/**
 * How long this process uses a remote actor's record as it last read or wrote it, without reading it
 * again: a busy peer's group and people are named by every activity it sends (docs/performance.md,
 * inbound activities). What another process writes to the record is seen here at most this late.
 */
const RECENT_MS = 30_000;
/** Moderators listed from a remote group's collection, at most. */
const MAX_MODERATORS = 50;
/** The id of the system on records no local person made (remote groups' `createdBy`). */
const NOBODY = new ObjectId('000000000000000000000000');

const PERSON_TYPES = new Set(['Person', 'Service', 'Application', 'Organization']);

type Known = { kind: 'person'; person: UserDoc } | { kind: 'group'; group: GroupDoc };

const iri = z
  .string()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'an http(s) IRI');
const actorSchema = z
  .object({
    id: iri,
    type: z.union([z.string(), z.array(z.string()).min(1)]),
    preferredUsername: z.string().min(1).max(200).optional(),
    name: z.string().max(500).nullish(),
    summary: z.string().max(20_000).nullish(),
    inbox: iri,
    endpoints: z.object({ sharedInbox: iri.optional() }).passthrough().optional(),
    outbox: z.unknown().optional(),
    followers: z.unknown().optional(),
    featured: z.unknown().optional(),
    attributedTo: z.unknown().optional(),
    moderators: z.unknown().optional(),
    url: z.unknown().optional(),
    icon: z.unknown().optional(),
    manuallyApprovesFollowers: z.boolean().optional(),
    membersOnly: z.boolean().optional(),
    attachment: z.unknown().optional(),
    published: z.string().optional(),
  })
  .passthrough();
type ActorDoc = z.infer<typeof actorSchema>;

const typesOf = (doc: ActorDoc) => (Array.isArray(doc.type) ? doc.type : [doc.type]);

/** `name@host`: the person's or group's name on its node, folded to what a handle may hold. */
function handleOf(doc: ActorDoc): string {
  const host = new URL(doc.id).host.toLowerCase();
  const raw = doc.preferredUsername ?? new URL(doc.id).pathname.split('/').filter(Boolean).pop() ?? 'actor';
  const name =
    foldText(raw)
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-._]+|[-._]+$/g, '')
      .slice(0, 64) || 'actor';
  return `${name}@${host}`;
}

const fresh = (at: Date | undefined) => at !== undefined && Date.now() - at.getTime() < ACTOR_TTL_MS;

/** A profile field named Organization (Mastodon's PropertyValue), as Ensemble nodes publish it. */
function organizationOf(attachment: unknown): string | null {
  const list = Array.isArray(attachment) ? attachment : [attachment];
  for (const item of list) {
    if (!isNode(item) || item.type !== 'PropertyValue' || typeof item.value !== 'string') continue;
    if (typeof item.name === 'string' && /^organi[sz]ation$/i.test(item.name.trim()))
      return textOf(item.value).slice(0, 200) || null;
  }
  return null;
}

/**
 * People and groups of other nodes, recorded here as ordinary domain records with their origin
 * (docs/adr/0016-remote-records.md): a person is a `users` document with status `remote` and handle
 * `name@host`, a group a `groups` document with an `origin`; `fed_iris` maps each actor IRI to its record.
 * A record is read from its node when first needed and again when it is used a day later (or when its
 * node sends an Update); if its node cannot be reached then, the record it had is used.
 */
export class RemoteDirectory {
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Records read or written lately, by actor IRI (RECENT_MS). */
  private readonly recent = new Lru<string, { at: number; known: Known }>(5000);

  constructor(
    private readonly deps: {
      fetcher: RemoteFetcher;
      records: FederationRecords;
      people: PersonRepository;
      groups: GroupRepository;
      isLocal: (iri: string) => boolean;
      /**
       * A group's node changed who may see it: the content here follows before the record is written
       * (`write`), so nothing it made private stays findable or followed here.
       */
      visibilityChanged: (
        group: GroupDoc,
        visibility: GroupDoc['visibility'],
        write: () => Promise<void>,
      ) => Promise<void>;
      logger: Logger;
    },
  ) {}

  /** One read or write of a record at a time per IRI in this process. */
  private serially<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.inflight.get(key) ?? Promise.resolve();
    const run = before.then(work, work);
    this.inflight.set(key, run);
    void run
      .finally(() => this.inflight.get(key) === run && this.inflight.delete(key))
      .catch(() => undefined);
    return run;
  }

  /** What its node serves for this actor, checked: an actor on its own origin, with an inbox there. */
  private async fetchActor(actorIri: string): Promise<ActorDoc> {
    if (this.deps.isLocal(actorIri)) throw new ValidationError(`${actorIri} is an actor of this node.`);
    const raw = await this.deps.fetcher.getObject(actorIri);
    const parsed = actorSchema.safeParse(raw);
    if (!parsed.success)
      throw new RemoteFetchError(`${actorIri} is not an actor: ${parsed.error.issues[0]?.message ?? ''}`);
    const doc = parsed.data;
    if (doc.id !== actorIri.replace(/#.*$/, '')) throw new RemoteFetchError(`${actorIri} answered ${doc.id}`);
    const origin = new URL(doc.id).origin;
    // Deliveries go where the actor's document says: only to its own origin.
    if (new URL(doc.inbox).origin !== origin)
      throw new RemoteFetchError(`${actorIri} has its inbox elsewhere`);
    return doc;
  }

  /** A link of the actor on its own origin (collections, shared inbox), or null. */
  private sameOrigin(doc: ActorDoc, value: unknown): string | null {
    const link = idOf(value);
    return link && URL.canParse(link) && new URL(link).origin === new URL(doc.id).origin ? link : null;
  }

  /**
   * The actor's document from its node; when that fails and a record we already have stands, null, or
   * `refused` when its node answers that it has no such actor for this node (404, 410).
   */
  private async refetched(actorIri: string, haveRecord: boolean): Promise<ActorDoc | 'refused' | null> {
    try {
      return await this.fetchActor(actorIri);
    } catch (err) {
      if (!haveRecord) throw err;
      return err instanceof RemoteFetchError && (err.status === 404 || err.status === 410) ? 'refused' : null;
    }
  }

  /** The record of a person of another node, read from their node when needed. */
  async person(actorIri: string, options: { refresh?: boolean } = {}): Promise<UserDoc> {
    return this.serially(actorIri, async () => {
      const known = await this.recorded(actorIri, options.refresh);
      const current = known?.kind === 'person' ? known.person : null;
      if (current && !options.refresh && fresh(current.origin?.fetchedAt)) return current;
      const doc = await this.refetched(actorIri, current !== null);
      if (!doc || doc === 'refused') return current!;
      if (!typesOf(doc).some((t) => PERSON_TYPES.has(t)))
        throw new ValidationError(`${actorIri} is not a person.`);
      const name = textOf(doc.name ?? '') || doc.preferredUsername || handleOf(doc);
      const origin: PersonOrigin = {
        iri: doc.id,
        host: new URL(doc.id).host,
        inbox: doc.inbox,
        sharedInbox: this.sameOrigin(doc, doc.endpoints?.sharedInbox),
        url: urlOf(doc.url),
        icon: urlOf(isNode(doc.icon) ? doc.icon.url : doc.icon),
        organization: organizationOf(doc.attachment),
        fetchedAt: new Date(),
      };
      if (current) {
        await this.deps.people.refreshRemote(current._id, name, origin);
        return this.remember(actorIri, {
          kind: 'person',
          person: {
            ...current,
            claimsName: name,
            profile: { ...current.profile, displayName: name },
            origin,
          },
        }).person;
      }
      const claim = await this.deps.records.claim(actorIri, 'person');
      const now = new Date();
      const base = handleOf(doc);
      for (let attempt = 0; attempt < 3; attempt++) {
        const user = remotePersonRecord({
          _id: claim.localId,
          handle: attempt ? base.replace('@', `-${claim.localId.toHexString().slice(-4 - attempt)}@`) : base,
          name,
          origin,
          at: now,
        });
        if (await this.deps.people.insertRemote(user))
          return this.remember(actorIri, {
            kind: 'person',
            person: (await this.deps.people.byId(user._id)) ?? user,
          }).person;
      }
      throw new ValidationError(`No handle could be given to ${actorIri}.`);
    });
  }

  /** The record of a group of another node, read from its node when needed. */
  async group(actorIri: string, options: { refresh?: boolean } = {}): Promise<GroupDoc> {
    return this.serially(actorIri, async () => {
      const known = await this.recorded(actorIri, options.refresh);
      const current = known?.kind === 'group' ? known.group : null;
      if (current && !options.refresh && fresh(current.origin?.fetchedAt)) return current;
      const doc = await this.refetched(actorIri, current !== null);
      if (!doc) return current!;
      if (doc === 'refused') return this.withheld(actorIri, current!);
      if (!typesOf(doc).includes('Group')) throw new ValidationError(`${actorIri} is not a group.`);
      const moderatorsCollection = this.sameOrigin(doc, doc.moderators ?? doc.attributedTo);
      const followers = this.sameOrigin(doc, doc.followers);
      const [moderators, memberCount] = await Promise.all([
        this.collectionItems(moderatorsCollection),
        this.collectionSize(followers),
      ]);
      const origin: GroupOrigin = {
        iri: doc.id,
        host: new URL(doc.id).host,
        inbox: doc.inbox,
        sharedInbox: this.sameOrigin(doc, doc.endpoints?.sharedInbox),
        outbox: this.sameOrigin(doc, doc.outbox),
        followers,
        moderatorsCollection,
        moderators,
        featured: this.sameOrigin(doc, doc.featured),
        url: urlOf(doc.url),
        icon: urlOf(isNode(doc.icon) ? doc.icon.url : doc.icon),
        fetchedAt: new Date(),
      };
      const name = textOf(doc.name ?? '') || doc.preferredUsername || handleOf(doc);
      const summary = sanitizeHtmlFragment(doc.summary ?? '');
      const set = {
        // A members-only group says so (its `membersOnly`); only its members here see it.
        visibility: doc.membersOnly === true ? ('members' as const) : ('public' as const),
        name: name.slice(0, 120),
        description: summary ? { en: { markdown: textOf(summary), html: summary } } : {},
        joinPolicy: doc.manuallyApprovesFollowers ? ('request' as const) : ('open' as const),
        memberCount: memberCount ?? current?.memberCount ?? 0,
        origin,
        searchTokens: searchTokens(name, handleOf(doc), textOf(summary)),
      };
      if (current) {
        const write = () => this.deps.groups.refreshRemote(current._id, set);
        if (current.visibility !== set.visibility)
          await this.deps.visibilityChanged(current, set.visibility, write);
        else await write();
        return this.remember(actorIri, { kind: 'group', group: { ...current, ...set } }).group;
      }
      const claim = await this.deps.records.claim(actorIri, 'group');
      const now = new Date();
      const base = handleOf(doc);
      for (let attempt = 0; attempt < 3; attempt++) {
        const group: GroupDoc = {
          _id: claim.localId,
          handle: attempt ? base.replace('@', `-${claim.localId.toHexString().slice(-4 - attempt)}@`) : base,
          welcomeMessage: null,
          createdBy: NOBODY,
          createdAt:
            doc.published && !Number.isNaN(Date.parse(doc.published)) ? new Date(doc.published) : now,
          updatedAt: now,
          deletedAt: null,
          deletedBy: null,
          ...set,
        };
        if (await this.deps.groups.insertRemote(group))
          return this.remember(actorIri, {
            kind: 'group',
            group: (await this.deps.groups.byId(group._id)) ?? group,
          }).group;
      }
      throw new ValidationError(`No handle could be given to ${actorIri}.`);
    });
  }

  /**
   * A group its node no longer serves to this node (kept to its own people, or deleted): what was shown of
   * it here is shown to its members here only, as for a members-only group, until its node serves it again.
   */
  private async withheld(actorIri: string, group: GroupDoc): Promise<GroupDoc> {
    const { name, description, joinPolicy, memberCount, searchTokens } = group;
    const origin = { ...group.origin!, fetchedAt: new Date() };
    const set = {
      visibility: 'members' as const,
      name,
      description,
      joinPolicy,
      memberCount,
      origin,
      searchTokens,
    };
    const write = () => this.deps.groups.refreshRemote(group._id, set);
    if (group.visibility !== 'members') await this.deps.visibilityChanged(group, 'members', write);
    else await write();
    return this.remember(actorIri, { kind: 'group', group: { ...group, ...set } }).group;
  }

  /** The record of an actor of another node known here by IRI, without fetching anything. */
  known(actorIri: string): Promise<Known | null> {
    return this.recorded(actorIri);
  }

  /** Forget what this process remembers of an actor (it deleted itself). */
  forget(actorIri: string): void {
    this.recent.delete(actorIri);
  }

  /** The record of an actor: as this process read or wrote it lately (unless `reread`), else from the database. */
  private async recorded(actorIri: string, reread = false): Promise<Known | null> {
    const hit = reread ? undefined : this.recent.get(actorIri);
    if (hit && Date.now() - hit.at < RECENT_MS) return hit.known;
    const record = await this.deps.records.byIri(actorIri);
    let known: Known | null = null;
    if (record?.kind === 'person') {
      const person = await this.deps.people.byId(record.localId);
      if (person) known = { kind: 'person', person };
    } else if (record?.kind === 'group') {
      const group = await this.deps.groups.byId(record.localId);
      if (group) known = { kind: 'group', group };
    }
    if (known) this.remember(actorIri, known);
    else this.recent.delete(actorIri);
    return known;
  }

  private remember<K extends Known>(actorIri: string, known: K): K {
    this.recent.set(actorIri, { at: Date.now(), known });
    return known;
  }

  /** `@name@host` (or `name@host`) → the actor IRIs its node's WebFinger names, each with its type. */
  async webfinger(handle: string): Promise<{ href: string; type: string | null }[]> {
    const m = /^@?([^@\s/]+)@([^@\s/]+)$/.exec(handle.trim());
    if (!m)
      throw new ValidationError('Expected @name@host.', [
        { field: 'query.q', message: 'expected @name@host' },
      ]);
    const [, name, host] = m as unknown as [string, string, string];
    // Plain http only for addresses and localhost (a development or test network); https otherwise.
    const scheme = /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]|localhost)(:\d+)?$/i.test(host) ? 'http' : 'https';
    const url = `${scheme}://${host}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${name}@${host}`)}`;
    const jrd = await this.deps.fetcher.getJson(url, 'application/jrd+json, application/json');
    const links = Array.isArray(jrd.links) ? jrd.links : [];
    return links.flatMap((l: unknown) => {
      if (!isNode(l) || l.rel !== 'self' || typeof l.href !== 'string' || !URL.canParse(l.href)) return [];
      if (typeof l.type === 'string' && !/activity\+json|ld\+json/.test(l.type)) return [];
      // An actor must be on the host that named it.
      if (new URL(l.href).host.toLowerCase() !== host.toLowerCase()) return [];
      const props = isNode(l.properties) ? l.properties : {};
      const type = props['https://www.w3.org/ns/activitystreams#type'];
      return [{ href: l.href, type: typeof type === 'string' ? type : null }];
    });
  }

  /** A person of another node by `name@host` (their node's WebFinger), recorded here. */
  async personByHandle(handle: string): Promise<UserDoc | null> {
    const links = await this.webfinger(handle).catch(() => []);
    for (const link of links.filter((l) => l.type !== 'Group')) {
      const person = await this.person(link.href).catch(() => null);
      if (person) return person;
    }
    return null;
  }

  /** A group of another node by `name@host`, recorded here. */
  async groupByHandle(handle: string): Promise<GroupDoc | null> {
    const links = await this.webfinger(handle);
    const ordered = [...links.filter((l) => l.type === 'Group'), ...links.filter((l) => l.type === null)];
    for (const link of ordered) {
      const group = await this.group(link.href).catch(() => null);
      if (group) return group;
    }
    return null;
  }

  /** The first items of a collection on the actor's origin (moderators: IRIs). */
  private async collectionItems(collection: string | null): Promise<string[]> {
    if (!collection) return [];
    try {
      const doc = await this.deps.fetcher.getObject(collection);
      let items = doc.orderedItems ?? doc.items;
      if (!items && isNode(doc.first)) items = doc.first.orderedItems ?? doc.first.items;
      return (Array.isArray(items) ? items : [])
        .map((i) => idOf(i))
        .filter((i): i is string => typeof i === 'string' && URL.canParse(i))
        .slice(0, MAX_MODERATORS);
    } catch (err) {
      this.deps.logger.debug({ err, collection }, 'a remote collection could not be read');
      return [];
    }
  }

  private async collectionSize(collection: string | null): Promise<number | null> {
    if (!collection) return null;
    try {
      const doc = await this.deps.fetcher.getObject(collection);
      return typeof doc.totalItems === 'number' && doc.totalItems >= 0 ? Math.floor(doc.totalItems) : null;
    } catch {
      return null;
    }
  }
}
