import { ObjectId } from 'mongodb';
import type { GroupRepository } from '../groups/group.repository.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import { AS_CONTEXT, PUBLIC, type ActorDirectory } from './actor.directory.js';

export interface RenderedObject {
  doc: Record<string, unknown>;
  /** Deleted: served as a Tombstone with 410. */
  gone: boolean;
  /** The browser page for the object. */
  page: string | null;
}

/**
 * Threads and replies as ActivityStreams objects: a thread is a `Page` (its title is `name`, as Lemmy and
 * Mobilizon expect), a reply a `Note`; both carry `context` (the thread, FEP-7888) and `audience` (the group,
 * FEP-1b12). Only content of public groups is served; a deleted post is a Tombstone (410).
 */
export class ObjectRenderer {
  constructor(
    private readonly directory: ActorDirectory,
    private readonly threads: ThreadRepository,
    private readonly groups: GroupRepository,
    private readonly people: PersonRepository,
  ) {}

  iri(kind: 'threads' | 'replies', id: ObjectId | string): string {
    return `${this.directory.base}/ap/${kind}/${id.toString()}`;
  }

  async render(kind: 'threads' | 'replies', id: string): Promise<RenderedObject | null> {
    if (!ObjectId.isValid(id) || new ObjectId(id).toHexString() !== id) return null;
    const _id = new ObjectId(id);
    const item =
      kind === 'threads'
        ? await this.threads.threads.findOne({ _id })
        : await this.threads.replies.findOne({ _id });
    if (!item) return null;
    const group = await this.groups.groups.findOne({ _id: item.groupId });
    if (!group || group.deletedAt || group.visibility !== 'public') return null;
    const iri = this.iri(kind, id);
    const threadId = kind === 'threads' ? _id : (item as { threadId: ObjectId }).threadId;
    const page = `${this.directory.base}/groups/${group.handle}/threads/${threadId.toHexString()}`;
    const type = kind === 'threads' ? 'Page' : 'Note';
    if (item.deleted)
      return {
        gone: true,
        page: null,
        doc: {
          '@context': AS_CONTEXT,
          id: iri,
          type: 'Tombstone',
          formerType: type,
          deleted: item.deleted.at.toISOString(),
        },
      };
    const author = await this.people.byId(item.authorId);
    const groupIri = this.directory.groupIri(group.handle);
    const doc: Record<string, unknown> = {
      '@context': AS_CONTEXT,
      id: iri,
      type,
      attributedTo: author ? this.directory.personIri(author.handle) : groupIri,
      content: item.body.html,
      mediaType: 'text/html',
      published: item.createdAt.toISOString(),
      ...(item.editedAt ? { updated: item.editedAt.toISOString() } : {}),
      to: [PUBLIC],
      cc: [groupIri],
      audience: groupIri,
      context: this.iri('threads', threadId),
      url: page,
    };
    if (kind === 'threads') doc.name = (item as { title: string }).title;
    else {
      const parentId = (item as { parentId: ObjectId | null }).parentId;
      doc.inReplyTo = parentId ? this.iri('replies', parentId) : this.iri('threads', threadId);
    }
    return { doc, gone: false, page };
  }

  /** FEP-1b12: the people who moderate a group (owners, admins, moderators). */
  async moderators(name: string): Promise<Record<string, unknown> | null> {
    const loaded = await this.directory.load(name);
    if (!loaded || !('group' in loaded)) return null;
    const rows = await this.groups.memberships
      .find({ groupId: loaded.group._id, state: 'active', role: { $in: ['owner', 'admin', 'moderator'] } })
      .toArray();
    const items: string[] = [];
    for (const row of rows) {
      const person = await this.people.byId(row.userId);
      if (person?.status === 'active') items.push(this.directory.personIri(person.handle));
    }
    return {
      id: `${this.directory.iri(name)}/moderators`,
      type: 'OrderedCollection',
      totalItems: items.length,
      orderedItems: items,
    };
  }
}
