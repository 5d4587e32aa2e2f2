import { ObjectId } from 'mongodb';
import { requirePerson, type Caller } from '../core/caller.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { GroupService } from '../groups/group.service.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import type { ThreadService } from '../threads/thread.service.js';
import { PUBLIC, type ActorDirectory } from './actor.directory.js';
import { idOf, isNode, urlOf } from './as.values.js';
import type { FederationRecords } from './federation.records.js';
import type { ObjectRenderer } from './object.renderer.js';
import { POST_TYPES, readPost, textOf } from './post.content.js';
import type { RemoteDirectory } from './remote.directory.js';
import type { RemoteFetcher } from './remote.fetcher.js';
import type { LookupResult, ProfilePerson, ProfileThread } from './lookup.schemas.js';
import { msg } from '../core/messages.js';

const RECENT = 5;
const MODERATORS_SHOWN = 10;
const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

/**
 * Search for a group on any node (docs/federation.md, "Finding a group"): `@group@host`, the group's URL,
 * or a thread's URL. A group of another node is read from its node (WebFinger, then its actor, through the
 * remote fetcher) and recorded here, so it can be joined by its handle `group@host`; the answer is its
 * public profile: name, description, avatar, member count, moderators and recent threads.
 */
export class LookupService {
  constructor(
    private readonly deps: {
      directory: ActorDirectory;
      renderer: ObjectRenderer;
      remote: RemoteDirectory;
      records: FederationRecords;
      fetcher: RemoteFetcher;
      groups: GroupService;
      threads: ThreadService;
      groupRepo: GroupRepository;
      threadRepo: ThreadRepository;
      people: PersonRepository;
      logger: Logger;
    },
  ) {}

  async lookup(caller: Caller, q: string): Promise<LookupResult> {
    requirePerson(caller);
    const query = q.trim();
    const found =
      URL.canParse(query) && /^https?:\/\//i.test(query)
        ? await this.byUrl(query)
        : await this.byHandle(query);
    const notFound = () => new NotFoundError(msg`No public group found for ${query}.`);
    if (!found) throw notFound();
    // A group this person may not see is not found, and the answer names nothing the query did not.
    const ctx = await this.deps.groups.load(caller, found.group.handle, 'see').catch((err: unknown) => {
      throw err instanceof NotFoundError || err instanceof ForbiddenError ? notFound() : err;
    });
    return {
      group: {
        ...this.deps.groups.view(ctx),
        moderators: await this.moderators(found.group),
        recentThreads: await this.recent(caller, found.group),
      },
      // The thread only to who may read the group's threads (someone invited sees its profile only).
      thread: this.deps.groups.can(ctx, 'read') ? found.thread : null,
    };
  }

  private host(): string {
    return new URL(this.deps.directory.base).host.toLowerCase();
  }

  private async byHandle(q: string): Promise<{ group: GroupDoc; thread: null } | null> {
    const m = /^@?([^@\s/]+)@([^@\s/]+)$/.exec(q);
    if (!m)
      throw new ValidationError('Search by @group@host or by a URL.', [
        { field: 'query.q', message: 'expected @group@host or an http(s) URL' },
      ]);
    const [, name, host] = m as unknown as [string, string, string];
    const group =
      host.toLowerCase() === this.host()
        ? await this.deps.groupRepo.byHandle(name)
        : await this.deps.remote.groupByHandle(`${name}@${host}`).catch((err: unknown) => {
            this.deps.logger.debug({ err, q }, 'group lookup failed');
            return null;
          });
    return group ? { group, thread: null } : null;
  }

  private async byUrl(url: string): Promise<{ group: GroupDoc; thread: ProfileThread | null } | null> {
    if (this.deps.directory.isLocal(url)) return this.localUrl(url);
    let doc: Record<string, unknown>;
    try {
      doc = await this.deps.fetcher.getObject(url);
    } catch (err) {
      this.deps.logger.debug({ err, url }, 'lookup by URL failed');
      return null;
    }
    const type = first(doc.type);
    if (type === 'Group') return { group: await this.deps.remote.group(String(doc.id)), thread: null };
    if (typeof type !== 'string' || !POST_TYPES.has(type)) return null;
    const post = readPost(doc);
    for (const iri of new Set(post.addressed.filter((a) => a !== PUBLIC))) {
      const group = await this.deps.remote.group(iri).catch(() => null);
      if (!group) continue;
      const known = await this.deps.records.byIri(post.iri);
      return {
        group,
        thread: {
          id: known?.kind === 'thread' ? known.localId.toHexString() : null,
          iri: post.iri,
          title: post.title,
          url: post.url,
          createdAt: post.published?.toISOString() ?? null,
        },
      };
    }
    return null;
  }

  /** This node's own URLs: a group's actor or page, a thread's object or page. */
  private async localUrl(url: string): Promise<{ group: GroupDoc; thread: ProfileThread | null } | null> {
    const path = new URL(url).pathname;
    const groupHandle = /^\/(?:ap\/a\/g\.|groups\/)([a-z0-9-]+)\/?$/.exec(path)?.[1];
    if (groupHandle) {
      const group = await this.deps.groupRepo.byHandle(groupHandle);
      return group ? { group, thread: null } : null;
    }
    const threadId = /^\/(?:ap\/threads|groups\/[a-z0-9-]+\/threads)\/([0-9a-f]{24})\/?$/.exec(path)?.[1];
    const thread = threadId ? await this.deps.threadRepo.postById('threads', new ObjectId(threadId)) : null;
    const group = thread ? await this.deps.groupRepo.byId(thread.groupId) : null;
    if (!thread || !group) return null;
    return {
      group,
      thread: {
        id: thread._id.toHexString(),
        iri: this.deps.renderer.postIri('threads', thread),
        title: thread.title,
        url: null,
        createdAt: thread.createdAt.toISOString(),
      },
    };
  }

  private async moderators(group: GroupDoc): Promise<ProfilePerson[]> {
    const view = (p: UserDoc): ProfilePerson => ({
      handle: p.handle,
      displayName: p.profile.displayName ?? p.claimsName ?? p.handle,
      url: p.origin?.url ?? p.origin?.iri ?? null,
    });
    if (!group.origin) {
      const rows = await this.deps.groupRepo.moderatorsOf(group._id, MODERATORS_SHOWN);
      return (await this.deps.people.byIds(rows.map((r) => r.userId))).map(view);
    }
    const people = await Promise.all(
      group.origin.moderators
        .slice(0, MODERATORS_SHOWN)
        .map((iri) => this.deps.remote.person(iri).catch(() => null)),
    );
    return people.filter((p): p is UserDoc => p !== null).map(view);
  }

  /**
   * Recent threads: those recorded here (as far as the caller may read them), else for a public group the
   * newest Pages of its outbox (not recorded). A members-only group's outbox is never read for this: its
   * node serves it to this node for the members here, not for whoever looks the group up (someone invited).
   */
  private async recent(caller: Caller, group: GroupDoc): Promise<ProfileThread[]> {
    const listed = await this.deps.threads.list(caller, group.handle, { limit: RECENT }).catch(() => null);
    const known = [...(listed?.pinned ?? []), ...(listed?.items ?? [])].slice(0, RECENT);
    if (known.length || !group.origin?.outbox || group.visibility !== 'public')
      return known.map((t) => ({ id: t.id, iri: '', title: t.title, url: t.url, createdAt: t.createdAt }));
    return this.outboxThreads(group.origin.outbox);
  }

  private async outboxThreads(outbox: string): Promise<ProfileThread[]> {
    try {
      const collection = await this.deps.fetcher.getObject(outbox);
      let page: Record<string, unknown> = collection;
      const firstPage = collection.first;
      if (isNode(firstPage)) page = firstPage;
      else if (typeof firstPage === 'string') page = await this.deps.fetcher.getObject(firstPage);
      const items = (page.orderedItems ?? page.items ?? []) as unknown[];
      const threads: ProfileThread[] = [];
      for (const item of Array.isArray(items) ? items : []) {
        let object = isNode(item) ? first(item.object) : null;
        if (isNode(object) && first(object.type) === 'Create') object = first(object.object);
        if (!isNode(object) || first(object.type) !== 'Page' || object.inReplyTo) continue;
        const iri = idOf(object);
        if (!iri || threads.some((t) => t.iri === iri)) continue;
        threads.push({
          id: null,
          iri,
          title: textOf(String(first(object.name) ?? '')).slice(0, 200),
          url: urlOf(object.url),
          createdAt: typeof object.published === 'string' ? object.published : null,
        });
        if (threads.length >= RECENT) break;
      }
      return threads;
    } catch (err) {
      this.deps.logger.debug({ err, outbox }, 'a remote outbox could not be read');
      return [];
    }
  }
}
