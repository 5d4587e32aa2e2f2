import { ObjectId } from 'mongodb';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import type { ReplyDoc, ThreadDoc, ThreadRepository } from '../threads/thread.repository.js';
import { ThreadRecords } from '../threads/thread.records.js';
import { AS_CONTEXT, PUBLIC, type ActorDirectory } from './actor.directory.js';
import { ATTACHMENT_TERMS, renderAttachments } from './post.attachments.js';
import { absoluteLinks } from './post.content.js';

export interface RenderedObject {
  doc: Record<string, unknown>;
  /** Its group (a members-only group's posts are served to its members' nodes only). */
  group: GroupDoc;
  /** Deleted: served as a Tombstone with 410. */
  gone: boolean;
  /** The browser page for the object. */
  page: string | null;
}

export type PostKind = 'threads' | 'replies';

/** Posts per page of a thread's `context` and `replies` collections. */
const COLLECTION_PAGE = 50;
export type PostDoc = ThreadDoc | ReplyDoc;

/**
 * Threads and replies as ActivityStreams objects: a thread is a `Page` (its title is `name`, as Lemmy and
 * Mobilizon expect), a reply a `Note`; both carry `context` (the thread, FEP-7888) and `audience` (the group,
 * FEP-1b12). Only content of public groups is served, and only what was written on this node (a post
 * written elsewhere is served by its own node); a deleted post is a Tombstone (410).
 *
 * Every record has one IRI: its own node's. A group, person or post recorded here from another node is
 * named by its origin's IRI (docs/adr/0016-remote-records.md).
 */
export class ObjectRenderer {
  /** A reply's thread as this process keeps it for replies (its `origin` is all a reply's object needs). */
  private readonly kept: ThreadRecords;

  constructor(
    private readonly directory: ActorDirectory,
    private readonly threads: ThreadRepository,
    private readonly groups: GroupRepository,
    private readonly people: PersonRepository,
  ) {
    this.kept = new ThreadRecords(threads);
  }

  iri(kind: PostKind, id: ObjectId | string): string {
    return `${this.directory.base}/ap/${kind}/${id.toString()}`;
  }

  postIri(kind: PostKind, doc: PostDoc): string {
    return doc.origin?.iri ?? this.iri(kind, doc._id);
  }

  groupIri(group: GroupDoc): string {
    return group.origin?.iri ?? this.directory.groupIri(group.handle);
  }

  /**
   * Who a group's content is addressed to: a public group's, to Public (and the group); a members-only
   * group's, to the group and its followers (its members' nodes), never to Public.
   */
  addressing(group: GroupDoc): { to: string[]; cc: string[] } {
    const groupIri = this.groupIri(group);
    if (group.visibility === 'public') return { to: [PUBLIC], cc: [groupIri] };
    return { to: [groupIri, group.origin?.followers ?? `${groupIri}/followers`], cc: [] };
  }

  personIri(person: UserDoc): string {
    return person.origin?.iri ?? this.directory.personIri(person.handle);
  }

  /** A local post's id from its IRI, if the IRI is one of this node's posts. */
  localPost(iri: string): { kind: PostKind; id: ObjectId } | null {
    const m = new RegExp(`^${escapeRegExp(this.directory.base)}/ap/(threads|replies)/([0-9a-f]{24})$`).exec(
      iri,
    );
    return m ? { kind: m[1] as PostKind, id: new ObjectId(m[2]) } : null;
  }

  /** The page of a thread on this node. */
  page(group: GroupDoc, threadId: ObjectId): string {
    return `${this.directory.base}/groups/${group.handle}/threads/${threadId.toHexString()}`;
  }

  async render(kind: PostKind, id: string): Promise<RenderedObject | null> {
    if (!ObjectId.isValid(id) || new ObjectId(id).toHexString() !== id) return null;
    const _id = new ObjectId(id);
    const item: PostDoc | null = await this.threads.postById(kind, _id);
    if (!item || item.origin) return null;
    const group = await this.groups.byId(item.groupId);
    // A members-only group's posts are rendered for the route to serve to its members' nodes only.
    if (!group || group.deletedAt || group.visibility === 'node') return null;
    const type = kind === 'threads' ? 'Page' : 'Note';
    if (item.deleted)
      return {
        group,
        gone: true,
        page: null,
        doc: {
          '@context': AS_CONTEXT,
          id: this.iri(kind, id),
          type: 'Tombstone',
          formerType: type,
          deleted: item.deleted.at.toISOString(),
        },
      };
    const threadId = kind === 'threads' ? _id : (item as ReplyDoc).threadId;
    return {
      group,
      doc: await this.object(kind, item, group),
      gone: false,
      page: this.page(group, threadId),
    };
  }

  /** The ActivityStreams object of a post (one written on this node), as served and as sent. */
  async object(
    kind: PostKind,
    item: PostDoc,
    group: GroupDoc,
    /** Its author, when the caller read them already. */
    known: { author?: UserDoc } = {},
  ): Promise<Record<string, unknown>> {
    const groupIri = this.groupIri(group);
    const threadId = kind === 'threads' ? item._id : (item as ReplyDoc).threadId;
    const parentId = kind === 'replies' ? (item as ReplyDoc).parentId : null;
    // What the object names, read together (one round trip, not three).
    const [author, thread, parent] = await Promise.all([
      known.author?._id.equals(item.authorId) ? known.author : this.people.byId(item.authorId),
      kind === 'threads' ? (item as ThreadDoc) : this.kept.forReply(threadId),
      parentId ? this.threads.postById('replies', parentId) : null,
    ]);
    const threadIri = thread ? this.postIri('threads', thread) : this.iri('threads', threadId);
    const doc: Record<string, unknown> = {
      '@context': AS_CONTEXT,
      id: this.postIri(kind, item),
      type: kind === 'threads' ? 'Page' : 'Note',
      attributedTo: author ? this.personIri(author) : groupIri,
      content: absoluteLinks(item.body.html, this.directory.base),
      mediaType: 'text/html',
      published: item.createdAt.toISOString(),
      ...(item.editedAt ? { updated: item.editedAt.toISOString() } : {}),
      ...this.addressing(group),
      audience: groupIri,
      context: threadIri,
      url: this.page(group, threadId),
    };
    if (item.attachments?.length) {
      // Its files (docs/federation.md, "Attachments"), with the term for their size.
      doc['@context'] = [AS_CONTEXT, ATTACHMENT_TERMS];
      doc.attachment = renderAttachments(item.attachments, this.directory.base);
    }
    if (kind === 'threads') {
      doc.name = (item as ThreadDoc).title;
      if (!item.origin) {
        // FEP-7888: the thread's posts as a collection; its direct replies (FEP-f228 backfill reads both).
        doc.context = `${threadIri}/context`;
        doc.replies = `${threadIri}/replies`;
      }
    } else {
      if (thread && !thread.origin) doc.context = `${threadIri}/context`;
      doc.inReplyTo = parent ? this.postIri('replies', parent) : threadIri;
    }
    return doc;
  }

  /**
   * A thread's posts as a collection, for FEP-7888 `context` (the thread, then its replies by position) or
   * its `replies` (direct replies only), paged by position (`after`): each post embedded as this node has
   * it, by IRI on its own origin (a member node believes only what the post's origin serves, except in a
   * members-only group: ADR 0028). Removed posts are left out. Only threads written on this node.
   */
  async threadCollection(
    id: string,
    which: 'context' | 'replies',
    after: number | null,
  ): Promise<{ group: GroupDoc; doc: Record<string, unknown> } | null> {
    if (!ObjectId.isValid(id) || new ObjectId(id).toHexString() !== id) return null;
    const thread = await this.threads.postById('threads', new ObjectId(id));
    if (!thread || thread.origin || thread.deleted) return null;
    const group = await this.groups.byId(thread.groupId);
    if (!group || group.deletedAt || group.visibility === 'node') return null;
    const collection = `${this.postIri('threads', thread)}/${which}`;
    const { replies } = await this.threads.repliesInOrder(thread, after ?? 0, COLLECTION_PAGE);
    const items: Record<string, unknown>[] = [];
    if ((after ?? 0) === 0 && which === 'context') items.push(await this.object('threads', thread, group));
    for (const reply of replies) {
      if (reply.deleted || (which === 'replies' && reply.parentId)) continue;
      items.push(await this.object('replies', reply, group));
    }
    const last = replies[replies.length - 1];
    const page = {
      id: `${collection}?page=${after ?? 0}`,
      type: 'OrderedCollectionPage',
      partOf: collection,
      orderedItems: items,
      ...(replies.length === COLLECTION_PAGE && last ? { next: `${collection}?page=${last.seq}` } : {}),
    };
    if (after !== null) return { group, doc: { '@context': AS_CONTEXT, ...page } };
    return {
      group,
      doc: {
        '@context': AS_CONTEXT,
        id: collection,
        type: 'OrderedCollection',
        totalItems: which === 'context' ? thread.replyCount + 1 : undefined,
        attributedTo: this.groupIri(group),
        first: page,
      },
    };
  }

  /** FEP-1b12: the people who moderate a group (owners, admins, moderators). */
  async moderators(name: string): Promise<Record<string, unknown> | null> {
    const loaded = await this.directory.load(name, { membersOnly: true });
    if (!loaded || !('group' in loaded)) return null;
    const rows = await this.groups.moderatorsOf(loaded.group._id);
    const items: string[] = [];
    for (const row of rows) {
      const person = await this.people.byId(row.userId);
      if (person?.status === 'active' || person?.status === 'remote') items.push(this.personIri(person));
    }
    return {
      id: `${this.directory.iri(name)}/moderators`,
      type: 'OrderedCollection',
      totalItems: items.length,
      orderedItems: items,
    };
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
