import type { ApexInstance, ApexObject } from 'activitypub-express';
import type { ObjectId } from 'mongodb';
import { systemCaller, type RemoteCaller } from '../core/caller.js';
import { ConflictError, DomainError, ForbiddenError, ValidationError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { GroupService } from '../groups/group.service.js';
import type { MembershipService } from '../groups/membership.service.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import type { ThreadService } from '../threads/thread.service.js';
import { parseActorName, type ActorDirectory } from './actor.directory.js';
import type { ApexStore } from './apex.store.js';
import { idOf, isNode, originOf } from './as.values.js';
import type { FederationBridge } from './federation.bridge.js';
import { refKeys, type FederationRecords } from './federation.records.js';
import type { GroupAudience } from './group.audience.js';
import { stripUntrusted } from './inbox.sanitize.js';
import type { ObjectRenderer, PostDoc, PostKind } from './object.renderer.js';
import { POST_TYPES, readPost, type IncomingPost } from './post.content.js';
import type { RemoteDirectory } from './remote.directory.js';
import type { RemoteFetcher } from './remote.fetcher.js';

/** A verified activity, as the handlers read it. */
export interface Inbound {
  /** The activity exactly as received (a group hosted here announces it as it is). */
  raw: Record<string, unknown>;
  /** The same, cut to what its actor's origin may vouch for (embedded copies from elsewhere are IRIs). */
  activity: Record<string, unknown>;
  id: string;
  type: string;
  actorId: string;
}

export type InboxHandler = (inbound: Inbound) => Promise<void>;

export interface InboxHandlerDeps {
  apex: ApexInstance;
  store: ApexStore;
  directory: ActorDirectory;
  renderer: ObjectRenderer;
  remote: RemoteDirectory;
  records: FederationRecords;
  fetcher: RemoteFetcher;
  audience: GroupAudience;
  bridge: FederationBridge;
  groups: GroupService;
  memberships: MembershipService;
  threads: ThreadService;
  groupRepo: GroupRepository;
  threadRepo: ThreadRepository;
  people: PersonRepository;
  /** Person follows (of people of this node) are apex's: accept one and record the follower. */
  acceptPersonFollow: (recipientIri: string, follow: Inbound) => Promise<void>;
  logger: Logger;
}

/** How deep a reply's unknown parents are read from their nodes before it is placed. */
const MAX_PARENT_DEPTH = 4;

type Record_ = Record<string, unknown>;
const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
const typeOf = (v: unknown): string | null => {
  const t = isNode(v) ? first(v.type) : null;
  return typeof t === 'string' ? t : null;
};

/**
 * The inbox as a table of per-activity handlers (docs/federation.md, "What the node accepts"): each turns
 * a verified activity into ordinary service calls made for its author (a `remote` caller), so the same
 * group rules decide, and realtime and notifications follow from the domain events as for people here.
 *
 * - In a group hosted here, a member's Create, Update, Delete, Like and Undo(Like) are applied, then the
 *   group announces the activity as it was received to every node holding a member (FEP-1b12).
 * - A group hosted elsewhere announces what it accepted: its Announce is applied here with the standing the
 *   group vouches for (member; moderator for people its moderators collection lists), and confirms the
 *   posts people of this node wrote into it.
 * - Follow / Undo(Follow) / Accept / Reject / Invite carry memberships between nodes.
 */
export function inboxHandlers(deps: InboxHandlerDeps): Record<string, InboxHandler> {
  const { directory, renderer, remote, records, memberships, threads } = deps;

  /** The public group hosted here that an IRI names, if any. */
  const localGroup = async (iri: string | null): Promise<GroupDoc | null> => {
    const ref = iri ? parseActorName(directory.nameOf(iri) ?? '') : null;
    if (!ref || ref.kind !== 'group' || `${directory.iri(ref.name)}` !== iri) return null;
    const loaded = await directory.load(ref.name);
    return loaded && 'group' in loaded ? loaded.group : null;
  };

  /** The post an IRI names: one written here, or one recorded from another node. */
  const postOf = async (iri: string | null): Promise<{ kind: PostKind; doc: PostDoc } | null> => {
    if (!iri) return null;
    const local = renderer.localPost(iri);
    const known = local ? null : await records.byIri(iri);
    const kind =
      local?.kind ?? (known?.kind === 'thread' ? 'threads' : known?.kind === 'reply' ? 'replies' : null);
    const id = local?.id ?? known?.localId;
    if (!kind || !id) return null;
    const doc =
      kind === 'threads'
        ? await deps.threadRepo.threads.findOne({ _id: id })
        : await deps.threadRepo.replies.findOne({ _id: id });
    return doc ? { kind, doc } : null;
  };

  const callerOf = (person: UserDoc, vouched?: RemoteCaller['vouched']): RemoteCaller => ({
    kind: 'remote',
    personId: person._id.toHexString(),
    handle: person.handle,
    actorIri: person.origin!.iri,
    ...(vouched ? { vouched } : {}),
  });

  const groupOfDoc = (doc: PostDoc) => deps.groupRepo.groups.findOne({ _id: doc.groupId });

  /**
   * An object an activity names: embedded (then already cut to what its carrier's origin vouches for),
   * one of this node's own activities, or read from its own origin (never believed from a copy).
   */
  const resolve = async (value: unknown): Promise<Record_ | null> => {
    const embedded = first(value);
    if (isNode(embedded) && typeof embedded.type === 'string') return embedded;
    const iri = idOf(embedded);
    if (!iri) return null;
    if (directory.isLocal(iri)) {
      const stored = await deps.store.getActivity(iri);
      return stored ? ((await deps.apex.toJSONLD(stored)) as Record_) : null;
    }
    const doc = await deps.fetcher.getObject(iri);
    stripUntrusted(doc, originOf(iri), (i) => directory.isLocal(i));
    return doc;
  };

  /** The group hosted here a post is for: named in its addressing, or its parent's group. */
  const groupForPost = async (post: IncomingPost): Promise<GroupDoc | null> => {
    for (const iri of new Set(post.addressed)) {
      const group = await localGroup(iri);
      if (group) return group;
    }
    const parent = await postOf(post.inReplyTo);
    if (!parent) return null;
    const group = await groupOfDoc(parent.doc);
    return group && !group.origin ? group : null;
  };

  /** Record a post of another node in a group (hosted here, or mirrored from elsewhere). */
  const receivePost = async (
    group: GroupDoc,
    post: IncomingPost,
    author: UserDoc,
    vouched: RemoteCaller['vouched'],
  ): Promise<void> => {
    const caller = callerOf(author, vouched);
    const createdAt = post.published && post.published.getTime() < Date.now() ? post.published : undefined;
    const origin = { iri: post.iri, url: post.url };
    if (!post.inReplyTo) {
      const claim = await records.claim(post.iri, 'thread');
      if (claim.kind !== 'thread') throw new ConflictError(`${post.iri} is known here as a reply.`);
      await threads.create(
        caller,
        group.handle,
        { title: post.title, body: post.body },
        { id: claim.localId, origin, createdAt },
      );
      return;
    }
    const parent = await postOf(post.inReplyTo);
    if (!parent || !parent.doc.groupId.equals(group._id))
      throw new ValidationError('The post answers nothing in this group.', [
        { field: 'body.object.inReplyTo', message: 'not a post of the group' },
      ]);
    const claim = await records.claim(post.iri, 'reply');
    if (claim.kind !== 'reply') throw new ConflictError(`${post.iri} is known here as a thread.`);
    const threadId =
      parent.kind === 'threads' ? parent.doc._id : (parent.doc as { threadId: ObjectId }).threadId;
    await threads.reply(
      caller,
      threadId.toHexString(),
      { body: post.body, ...(parent.kind === 'replies' ? { parentId: parent.doc._id.toHexString() } : {}) },
      { id: claim.localId, origin, createdAt },
    );
  };

  /** The activity's author, who must be the object's author. */
  const authorOf = async (inbound: Inbound, post: IncomingPost): Promise<UserDoc> => {
    if (post.attributedTo !== inbound.actorId)
      throw new ForbiddenError('A post is created, edited or deleted by its author only.');
    return remote.person(inbound.actorId);
  };

  // ---- in a group hosted here ---------------------------------------------------------------------------

  const followGroup = async (inbound: Inbound, group: GroupDoc): Promise<void> => {
    const person = await remote.person(inbound.actorId);
    const caller = callerOf(person);
    await records.setRef(refKeys.follow(group._id, person._id), inbound.id);
    const membership = await deps.groupRepo.membership(group._id, person._id);
    try {
      switch (membership?.state) {
        case 'active':
          // Followed again: answered again, counted once.
          return deps.bridge.answerFollow(group, person, 'Accept');
        case 'requested':
          return;
        case 'banned':
          return deps.bridge.answerFollow(group, person, 'Reject');
        case 'invited':
          return memberships.respond(caller, group.handle, true);
      }
      if (group.joinPolicy === 'open') await memberships.join(caller, group.handle);
      else if (group.joinPolicy === 'request') await memberships.request(caller, group.handle);
      else await deps.bridge.answerFollow(group, person, 'Reject');
    } catch (err) {
      // The group's rules said no: the answer is a Reject, as for a denied request.
      if (err instanceof ForbiddenError || err instanceof ConflictError)
        return deps.bridge.answerFollow(group, person, 'Reject');
      throw err;
    }
  };

  const unfollowGroup = async (inbound: Inbound, group: GroupDoc): Promise<void> => {
    const known = await remote.known(inbound.actorId);
    if (known?.kind !== 'person') return;
    const membership = await deps.groupRepo.membership(group._id, known.person._id);
    const caller = callerOf(known.person);
    if (membership?.state === 'active') await memberships.leave(caller, group.handle);
    else if (membership?.state === 'requested') await memberships.withdraw(caller, group.handle);
    await records.dropRef(refKeys.follow(group._id, known.person._id));
  };

  // ---- from a group hosted elsewhere --------------------------------------------------------------------

  /** The standing a group hosted elsewhere gives an actor in what it announces. */
  const vouchedFor = (group: GroupDoc, actorIri: string): RemoteCaller['vouched'] => ({
    groupId: group._id.toHexString(),
    role: group.origin!.moderators.includes(actorIri) ? 'moderator' : 'member',
  });

  /** Record a post a group hosted elsewhere announced (and the parents it answers, read from their nodes). */
  const mirrorPost = async (group: GroupDoc, object: Record_, depth = 0): Promise<void> => {
    const post = readPost(object);
    if (await postOf(post.iri)) return;
    if (!post.attributedTo || originOf(post.attributedTo) !== originOf(post.iri))
      throw new ForbiddenError('A post is attributed to an actor of its own origin.');
    if (!post.inReplyTo && !post.addressed.includes(group.origin!.iri))
      throw new ForbiddenError('The announced thread is not addressed to the group.');
    if (post.inReplyTo && !(await postOf(post.inReplyTo))) {
      if (depth >= MAX_PARENT_DEPTH || directory.isLocal(post.inReplyTo))
        throw new ValidationError('The post answers a post this node cannot find.');
      const parent = await resolve(post.inReplyTo);
      if (!parent) throw new ValidationError('The post answers a post this node cannot find.');
      await mirrorPost(group, parent, depth + 1);
    }
    const author = await remote.person(post.attributedTo);
    await receivePost(group, post, author, vouchedFor(group, author.origin!.iri));
  };

  /** One activity a group hosted elsewhere announced, applied with the standing it vouches for. */
  const applyAnnounced = async (group: GroupDoc, inner: Record_): Promise<void> => {
    const type = typeOf(inner);
    if (type && POST_TYPES.has(type)) return mirrorPost(group, inner);
    const innerId = typeof inner.id === 'string' ? inner.id : null;
    const actorIri = idOf(first(inner.actor));
    if (!innerId || !actorIri)
      throw new ValidationError('The group announced neither a post nor an activity.', [
        { field: 'body.object', message: 'expected a post or an activity' },
      ]);
    if (originOf(actorIri) !== originOf(innerId))
      throw new ForbiddenError('The announced activity is not on its actor’s origin.');
    if (directory.isLocal(innerId)) {
      // Our own activity, back from the group: a post written here is confirmed by it.
      if (type !== 'Create') return;
      const mine = await postOf(idOf(first(inner.object)));
      if (mine?.doc.groupId.equals(group._id)) await threads.confirm(mine.kind, mine.doc._id);
      return;
    }
    const actor = () => remote.person(actorIri);
    const vouched = vouchedFor(group, actorIri);
    const target = async () => {
      const found = await postOf(idOf(first(inner.object)));
      return found?.doc.groupId.equals(group._id) ? found : null;
    };
    switch (type) {
      case 'Create': {
        const object = await resolve(inner.object);
        if (!object || idOf(first(object.attributedTo)) !== actorIri)
          throw new ForbiddenError('A post is announced as created by its author only.');
        return mirrorPost(group, object);
      }
      case 'Update': {
        const object = await resolve(inner.object);
        if (!object) return;
        const post = readPost(object);
        const found = await postOf(post.iri);
        if (!found?.doc.groupId.equals(group._id)) return;
        if (post.attributedTo !== actorIri) throw new ForbiddenError('Only its author edits a post.');
        return threads.edit(callerOf(await actor(), vouched), found.kind, found.doc._id.toHexString(), {
          ...(found.kind === 'threads' ? { title: post.title } : {}),
          body: post.body,
        });
      }
      case 'Delete': {
        const found = await target();
        if (!found || found.doc.deleted) return;
        const reason =
          typeof inner.summary === 'string' && inner.summary.trim() ? inner.summary.trim() : undefined;
        return threads.remove(
          callerOf(await actor(), vouched),
          found.kind,
          found.doc._id.toHexString(),
          reason ?? 'Removed by a moderator of the group',
        );
      }
      case 'Like': {
        const found = await target();
        if (found)
          await threads.like(callerOf(await actor(), vouched), found.kind, found.doc._id.toHexString(), true);
        return;
      }
      case 'Lock':
      case 'Add':
      case 'Remove': {
        const found = await target();
        if (!found || found.kind !== 'threads') return;
        if (type !== 'Lock' && idOf(inner.target) !== group.origin!.featured) return;
        const flag = type === 'Lock' ? 'locked' : 'pinned';
        return threads.setFlag(
          callerOf(await actor(), vouched),
          found.doc._id.toHexString(),
          flag,
          type !== 'Remove',
        );
      }
      case 'Undo': {
        const undone = await resolve(inner.object);
        if (!undone || idOf(first(undone.actor)) !== actorIri) return;
        const found = await postOf(idOf(first(undone.object)));
        if (!found?.doc.groupId.equals(group._id)) return;
        const caller = callerOf(await actor(), vouched);
        if (typeOf(undone) === 'Like')
          await threads.like(caller, found.kind, found.doc._id.toHexString(), false);
        else if (typeOf(undone) === 'Lock' && found.kind === 'threads')
          await threads.setFlag(caller, found.doc._id.toHexString(), 'locked', false);
        return;
      }
    }
  };

  // ---- the table ----------------------------------------------------------------------------------------

  const follow: InboxHandler = async (inbound) => {
    const objectIri = idOf(first(inbound.activity.object));
    const group = await localGroup(objectIri);
    if (group) return followGroup(inbound, group);
    const ref = parseActorName(directory.nameOf(objectIri ?? '') ?? '');
    if (ref?.kind === 'person' && objectIri === directory.iri(ref.name))
      await deps.acceptPersonFollow(objectIri, inbound);
  };

  return {
    Follow: follow,
    // FEP-1b12's aliases: Join is a Follow of the group, Leave an Undo of it.
    Join: follow,
    Leave: async (inbound) => {
      const group = await localGroup(idOf(first(inbound.activity.object)));
      if (group) await unfollowGroup(inbound, group);
    },

    Undo: async (inbound) => {
      const undone = await resolve(inbound.activity.object).catch(() => null);
      if (!undone) return;
      if (idOf(first(undone.actor)) !== inbound.actorId)
        throw new ForbiddenError('Only its actor undoes an activity.');
      const objectIri = idOf(first(undone.object));
      if (typeOf(undone) === 'Follow') {
        const group = await localGroup(objectIri);
        if (group) return unfollowGroup(inbound, group);
        // A person's follower, matched by actor and object (not only by the first Follow's id).
        const name = directory.nameOf(objectIri ?? '');
        if (name && parseActorName(name)?.kind === 'person') {
          const followers = `${directory.iri(name)}/followers`;
          const follow = await deps.store.findActivityByCollectionAndActorId(followers, inbound.actorId);
          if (follow) await deps.store.removeActivity(follow, inbound.actorId);
        }
        return;
      }
      if (typeOf(undone) === 'Like') {
        const found = await postOf(objectIri);
        const group = found && (await groupOfDoc(found.doc));
        if (!found || !group || group.origin) return;
        const person = await remote.person(inbound.actorId);
        await threads.like(callerOf(person), found.kind, found.doc._id.toHexString(), false);
        await deps.audience.announce(group, inbound.raw);
      }
    },

    Accept: async (inbound) => {
      const objectId = idOf(first(inbound.activity.object));
      if (!objectId || !directory.isLocal(objectId)) return;
      const local = (await deps.store.getActivity(objectId, true)) as ApexObject | null;
      if (!local) return;
      const target = idOf(first(local.object));
      if (local.type === 'Invite') return answerInvite(inbound, local, true);
      const followerName = directory.nameOf(idOf(first(local.actor)) ?? '');
      const known = target ? await remote.known(target) : null;
      if (known?.kind === 'group') {
        const person = followerName ? await directory.load(followerName) : null;
        if (person && 'person' in person)
          await memberships.answered(
            systemCaller('accepted by the group'),
            known.group._id,
            person.person._id,
            true,
          );
        return;
      }
      // A person here followed someone elsewhere: recorded in their `following` (apex's collections).
      if (followerName)
        await deps.store.updateActivityMeta(local, 'collection', `${directory.iri(followerName)}/following`);
    },

    Reject: async (inbound) => {
      const objectId = idOf(first(inbound.activity.object));
      if (!objectId || !directory.isLocal(objectId)) return;
      const local = (await deps.store.getActivity(objectId, true)) as ApexObject | null;
      if (!local) return;
      if (local.type === 'Invite') return answerInvite(inbound, local, false);
      const target = idOf(first(local.object));
      const known = target ? await remote.known(target) : null;
      const followerName = directory.nameOf(idOf(first(local.actor)) ?? '');
      if (known?.kind === 'group' && followerName) {
        const person = await directory.load(followerName);
        if (person && 'person' in person)
          await memberships.answered(
            systemCaller('rejected by the group'),
            known.group._id,
            person.person._id,
            false,
          );
      }
    },

    Create: async (inbound) => {
      const object = first(inbound.activity.object);
      if (!isNode(object)) throw new ValidationError('A Create must carry its object.');
      const post = readPost(object);
      const group = await groupForPost(post);
      // Not for a group hosted here: a group hosted elsewhere announces what it accepts.
      if (!group) return;
      await receivePost(group, post, await authorOf(inbound, post), undefined);
      await deps.audience.announce(group, inbound.raw);
    },

    Update: async (inbound) => {
      const object = first(inbound.activity.object);
      if (!isNode(object)) return;
      if (object.id === inbound.actorId) {
        // An actor's new profile: its record is read again.
        const known = await remote.known(inbound.actorId);
        if (known?.kind === 'person') await remote.person(inbound.actorId, { refresh: true });
        if (known?.kind === 'group') await remote.group(inbound.actorId, { refresh: true });
        return;
      }
      if (!POST_TYPES.has(typeOf(object) ?? '')) return;
      const post = readPost(object);
      const found = await postOf(post.iri);
      const group = found && (await groupOfDoc(found.doc));
      if (!found || !group || group.origin) return;
      const author = await authorOf(inbound, post);
      await threads.edit(callerOf(author), found.kind, found.doc._id.toHexString(), {
        ...(found.kind === 'threads' ? { title: post.title } : {}),
        body: post.body,
      });
      await deps.audience.announce(group, inbound.raw);
    },

    Delete: async (inbound) => {
      const objectIri = idOf(first(inbound.activity.object));
      if (!objectIri || objectIri === inbound.actorId) return;
      const found = await postOf(objectIri);
      const group = found && (await groupOfDoc(found.doc));
      if (!found || !group || group.origin || found.doc.deleted) return;
      const person = await remote.person(inbound.actorId);
      await threads.remove(callerOf(person), found.kind, found.doc._id.toHexString(), undefined);
      await deps.audience.announce(group, inbound.raw);
    },

    Like: async (inbound) => {
      const found = await postOf(idOf(first(inbound.activity.object)));
      if (!found) throw new ValidationError('The liked object is not a post of a group on this node.');
      const group = await groupOfDoc(found.doc);
      if (!group || group.origin) return;
      const person = await remote.person(inbound.actorId);
      await threads.like(callerOf(person), found.kind, found.doc._id.toHexString(), true);
      await records.setRef(refKeys.like(found.doc._id, person._id), inbound.id);
      await deps.audience.announce(group, inbound.raw);
    },

    Announce: async (inbound) => {
      // Only a group this node has a record of (one its people joined) is heard; a boost is not content.
      const known = await remote.known(inbound.actorId);
      if (known?.kind !== 'group') return;
      const inner = await resolve(inbound.activity.object);
      if (!inner) throw new ValidationError('The announced activity could not be read.');
      await applyAnnounced(known.group, inner);
    },

    Invite: async (inbound) => {
      const groupIri = idOf(first(inbound.activity.object));
      const targetIri = idOf(first(inbound.activity.target));
      const name = directory.nameOf(targetIri ?? '');
      const loaded = name && parseActorName(name)?.kind === 'person' ? await directory.load(name) : null;
      if (!groupIri || !loaded || !('person' in loaded)) return;
      if (originOf(groupIri) !== originOf(inbound.actorId))
        throw new ForbiddenError('Only people of the group’s own node invite to it.');
      const group = await remote.group(groupIri);
      const inviter = await remote.person(inbound.actorId);
      await memberships.invitedFromRemote(callerOf(inviter), group.handle, loaded.person._id);
      await records.setRef(refKeys.invite(group._id, loaded.person._id), inbound.id);
    },
  };

  /** A person of another node answered an invitation to a group hosted here (Accept or Reject of it). */
  async function answerInvite(inbound: Inbound, invite: ApexObject, accept: boolean): Promise<void> {
    const group = await localGroup(idOf(first(invite.object)));
    if (!group || idOf(first(invite.target)) !== inbound.actorId) return;
    const person = await remote.person(inbound.actorId);
    try {
      await memberships.respond(callerOf(person), group.handle, accept);
    } catch (err) {
      // No invitation any more (answered already, or withdrawn): nothing to do.
      if (!(err instanceof DomainError)) throw err;
    }
  }
}
