import type { ApexObject } from 'activitypub-express';
import type { ObjectId } from 'mongodb';
import { Lru } from '../core/lru.js';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import type { KeyStore } from './federation.keys.js';

export const AS_CONTEXT = 'https://www.w3.org/ns/activitystreams';
export const SECURITY_CONTEXT = 'https://w3id.org/security/v1';
export const PUBLIC = 'https://www.w3.org/ns/activitystreams#Public';

/**
 * The terms Ensemble's documents use beyond ActivityStreams and Security v1, defined inline as Mastodon and
 * Lemmy define them (so a JSON-LD processor keeps them, and Lemmy and Mastodon read them as their own):
 * docs/federation.md, "JSON-LD contexts".
 */
export const ENSEMBLE_TERMS = {
  toot: 'http://joinmastodon.org/ns#',
  lemmy: 'https://join-lemmy.org/ns#',
  manuallyApprovesFollowers: 'as:manuallyApprovesFollowers',
  sensitive: 'as:sensitive',
  discoverable: 'toot:discoverable',
  featured: { '@id': 'toot:featured', '@type': '@id' },
  moderators: { '@id': 'lemmy:moderators', '@type': '@id' },
  postingRestrictedToMods: 'lemmy:postingRestrictedToMods',
  ensemble: 'https://w3id.org/ensemble/ns#',
  /** A members-only group (docs/federation.md, "Members-only groups across nodes"). */
  membersOnly: 'ensemble:membersOnly',
} as const;

/** The `@context` of every actor document the node serves. */
export const ACTOR_CONTEXT = [AS_CONTEXT, SECURITY_CONTEXT, ENSEMBLE_TERMS];

/** Where apex and Ensemble put actor-related documents (one actor route; the name carries the kind). */
export const apRoutes = {
  actor: '/ap/a/:actor',
  object: '/ap/o/:id',
  activity: '/ap/s/:id',
  inbox: '/ap/a/:actor/inbox',
  outbox: '/ap/a/:actor/outbox',
  followers: '/ap/a/:actor/followers',
  following: '/ap/a/:actor/following',
  liked: '/ap/a/:actor/liked',
  collections: '/ap/a/:actor/c/:id',
  blocked: '/ap/a/:actor/blocked',
  rejections: '/ap/a/:actor/rejections',
  rejected: '/ap/a/:actor/rejected',
  shares: '/ap/s/:id/shares',
  likes: '/ap/s/:id/likes',
} as const;

export const SHARED_INBOX_PATH = '/ap/inbox';
export const INSTANCE_NAME = 'instance';

export type LocalActorRef =
  | { kind: 'person'; handle: string; name: string }
  | { kind: 'group'; handle: string; name: string }
  | { kind: 'instance'; name: string };

/** `u.<handle>` for people, `g.<handle>` for groups: people and groups may share a handle. */
export function parseActorName(name: string): LocalActorRef | null {
  if (name === INSTANCE_NAME) return { kind: 'instance', name };
  const m = /^([ug])\.([a-z0-9][a-z0-9._-]{0,63})$/.exec(name);
  if (!m) return null;
  return { kind: m[1] === 'u' ? 'person' : 'group', handle: m[2]!, name };
}

type Loaded =
  | { ref: LocalActorRef & { kind: 'person' }; person: UserDoc }
  | { ref: LocalActorRef & { kind: 'group' }; group: GroupDoc }
  | { ref: LocalActorRef & { kind: 'instance' } };

const APEX_CACHE_MS = 30_000;
const APEX_CACHE_SIZE = 1000;

/**
 * The node's actors, rendered from the domain (the domain is the source of truth; docs/adr/0016-remote-records.md):
 * every active person a Person, every public group a Group, and the instance actor (an Application) that
 * signs the node's own fetches. Groups that are not public have no actor: nothing about them is served.
 */
export class ActorDirectory {
  readonly base: string;
  private readonly apexCache = new Lru<string, { at: number; actor: Promise<ApexObject | null> }>(
    APEX_CACHE_SIZE,
  );

  constructor(
    publicUrl: string,
    private readonly people: PersonRepository,
    private readonly groups: GroupRepository,
    private readonly keys: KeyStore,
    private readonly compact: (doc: unknown) => Promise<ApexObject>,
    private readonly software: { name: string },
    /** A person's organization, named in their actor when they show it to everyone. */
    private readonly organizationName: (id: ObjectId) => Promise<string | null> = async () => null,
  ) {
    this.base = publicUrl;
  }

  iri(name: string): string {
    return `${this.base}/ap/a/${name}`;
  }
  personIri(handle: string): string {
    return this.iri(`u.${handle}`);
  }
  groupIri(handle: string): string {
    return this.iri(`g.${handle}`);
  }
  get instanceIri(): string {
    return this.iri(INSTANCE_NAME);
  }
  get sharedInbox(): string {
    return `${this.base}${SHARED_INBOX_PATH}`;
  }
  keyId(actorIri: string): string {
    return `${actorIri}#main-key`;
  }

  isLocal(iri: string): boolean {
    return iri === this.base || iri.startsWith(`${this.base}/`) || iri.startsWith(`${this.base}#`);
  }

  /** The local actor an IRI names (an actor IRI, or its key id), if it exists and may be served. */
  nameOf(iri: string): string | null {
    const prefix = `${this.base}/ap/a/`;
    if (!iri.startsWith(prefix)) return null;
    const rest = iri.slice(prefix.length).replace(/#.*$/, '');
    return /^[^/?]+$/.test(rest) ? rest : null;
  }

  /**
   * The local actor a name stands for, if it may be served. A members-only group is loaded only when asked
   * (`membersOnly`): it is served only to the nodes of its members (federation.routes.ts), and worked on
   * by the inbox and the outbound bridge; everywhere else it does not exist.
   */
  async load(name: string, options: { membersOnly?: boolean } = {}): Promise<Loaded | null> {
    const ref = parseActorName(name);
    if (!ref) return null;
    if (ref.kind === 'instance') return { ref };
    if (ref.kind === 'person') {
      const person = await this.people.byHandle(ref.handle);
      return person && person.status === 'active' ? { ref, person } : null;
    }
    const group = await this.groups.byHandle(ref.handle);
    const served =
      group?.visibility === 'public' || (options.membersOnly === true && group?.visibility === 'members');
    return group && !group.deletedAt && served ? { ref, group } : null;
  }

  /** The actor document served to other servers (activity+json), or null when there is no such actor. */
  async document(
    name: string,
    options: { membersOnly?: boolean } = {},
  ): Promise<Record<string, unknown> | null> {
    const loaded = await this.load(name, options);
    return loaded ? this.render(loaded) : null;
  }

  /**
   * A Tombstone for an actor that was served and is gone: a deactivated or merged person, a deleted public
   * group (until it is purged). Peers take the 410 as the actor's deletion. Groups that were never public
   * stay unknown (404).
   */
  async tombstone(name: string): Promise<Record<string, unknown> | null> {
    const ref = parseActorName(name);
    if (!ref || ref.kind === 'instance') return null;
    const base = { '@context': AS_CONTEXT, id: this.iri(name), type: 'Tombstone' };
    if (ref.kind === 'person') {
      const person = await this.people.byHandle(ref.handle);
      return person && person.status !== 'active'
        ? { ...base, formerType: 'Person', deleted: person.updatedAt.toISOString() }
        : null;
    }
    const group = await this.groups.byHandle(ref.handle);
    return group?.deletedAt && group.visibility === 'public'
      ? { ...base, formerType: 'Group', deleted: group.deletedAt.toISOString() }
      : null;
  }

  /** The browser page for an actor (content negotiation sends people there). */
  pageOf(name: string): string | null {
    const ref = parseActorName(name);
    if (!ref) return null;
    if (ref.kind === 'instance') return `${this.base}/`;
    return ref.kind === 'person' ? `${this.base}/people/${ref.handle}` : `${this.base}/groups/${ref.handle}`;
  }

  async render(loaded: Loaded): Promise<Record<string, unknown>> {
    const id = this.iri(loaded.ref.name);
    const common = {
      '@context': ACTOR_CONTEXT,
      id,
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      followers: `${id}/followers`,
      following: `${id}/following`,
      endpoints: { sharedInbox: this.sharedInbox },
      publicKey: { id: this.keyId(id), owner: id, publicKeyPem: await this.keys.publicKeyPem(id) },
    };
    if (loaded.ref.kind === 'instance') {
      return {
        ...common,
        type: 'Application',
        preferredUsername: new URL(this.base).host,
        name: this.software.name,
        url: `${this.base}/`,
        manuallyApprovesFollowers: true,
      };
    }
    if ('person' in loaded) {
      const p = loaded.person;
      const doc: Record<string, unknown> = {
        ...common,
        type: 'Person',
        preferredUsername: p.handle,
        name: p.profile.displayName ?? p.claimsName ?? p.handle,
        url: this.pageOf(loaded.ref.name),
        published: p.createdAt.toISOString(),
        manuallyApprovesFollowers: false,
        discoverable: false,
      };
      // Only what the person shows to everyone leaves the node.
      if (p.visibility.about === 'public' && p.profile.about) doc.summary = p.profile.about.html;
      const organization =
        p.visibility.organization === 'public' && p.organizationId
          ? await this.organizationName(p.organizationId)
          : null;
      // A profile field, as Mastodon shows them: other nodes list it with the person's join requests.
      if (organization)
        doc.attachment = [{ type: 'PropertyValue', name: 'Organization', value: organization }];
      if (p.visibility.avatar === 'public' && p.avatar)
        doc.icon = {
          type: 'Image',
          mediaType: p.avatar.contentType,
          url: `${this.base}/api/v1/people/${p.handle}/avatar`,
        };
      return doc;
    }
    if (!('group' in loaded)) throw new Error('unreachable: not a group');
    const g = loaded.group;
    const doc: Record<string, unknown> = {
      ...common,
      type: 'Group',
      preferredUsername: g.handle,
      name: g.name,
      summary: g.description.en?.html ?? g.description.fr?.html ?? '',
      url: this.pageOf(loaded.ref.name),
      published: g.createdAt.toISOString(),
      updated: g.updatedAt.toISOString(),
      // FEP-1b12: moderators are the group's attributedTo collection.
      attributedTo: `${id}/moderators`,
      moderators: `${id}/moderators`,
      // Pinned threads (Mastodon's and Lemmy's term); a pin is an Add to it.
      featured: `${id}/featured`,
      manuallyApprovesFollowers: g.joinPolicy !== 'open',
      postingRestrictedToMods: false,
    };
    if (g.visibility === 'members') Object.assign(doc, { membersOnly: true, discoverable: false });
    if (g.avatar) doc.icon = { type: 'Image', url: `${this.base}/api/v1/groups/${g.handle}/avatar` };
    if (g.banner) doc.image = { type: 'Image', url: `${this.base}/api/v1/groups/${g.handle}/banner` };
    return doc;
  }

  /** apex's working form of a local actor (no private key: signing asks the key store). */
  apexActor(iri: string): Promise<ApexObject | null> {
    const name = this.nameOf(iri);
    if (!name) return Promise.resolve(null);
    const hit = this.apexCache.get(name);
    // apex writes into the actor it is given (`_local`): each caller gets its own copy.
    if (hit && Date.now() - hit.at < APEX_CACHE_MS) return hit.actor.then((a) => a && structuredClone(a));
    const actor = this.document(name, { membersOnly: true }).then(async (doc) => {
      if (!doc) return null;
      const compacted = await this.compact(doc);
      compacted._meta = {};
      return compacted;
    });
    // Only actors that exist are kept, and not too many (names come from the network).
    this.apexCache.set(name, { at: Date.now(), actor });
    actor.then(
      (a) => a || this.apexCache.delete(name),
      () => this.apexCache.delete(name),
    );
    return actor.then((a) => a && structuredClone(a));
  }

  /** Forget a cached actor (its person or group changed). */
  forget(name: string): void {
    this.apexCache.delete(name);
  }
}
