import type { ApexObject } from 'activitypub-express';
import { systemCaller } from '../core/caller.js';
import { ConflictError, DomainError, ForbiddenError, ValidationError } from '../core/errors.js';
import type { GroupDoc } from '../groups/group.repository.js';
import type { UserDoc } from '../people/person.repository.js';
import { announcedApplier } from './inbox.announced.js';
import type { Inbound, InboxHandler, InboxHandlerDeps } from './inbox.contract.js';
import { first, inboxContext, typeOf } from './inbox.context.js';
import { moderationHandlers } from './inbox.moderation.js';
import { parseActorName } from './actor.directory.js';
import { idOf, isNode, originOf } from './as.values.js';
import { refKeys } from './federation.records.js';
import { stripUntrusted } from './inbox.sanitize.js';
import { POST_TYPES, readPost, type IncomingPost } from './post.content.js';

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
  const { directory, remote, records, memberships, threads } = deps;

  const ctx = inboxContext(deps);
  const { localGroup, postOf, callerOf, groupOfDoc, resolve, receivePost } = ctx;
  const moderation = moderationHandlers(deps, ctx);
  const applyAnnounced = announcedApplier(deps, ctx, moderation);

  /**
   * The post an IRI names and its group, unless the group is hidden from the sender's server: then, as the
   * group itself, it is answered as unknown (same status, same problem: ADR 0028, addendum).
   */
  const postFor = async (iri: string | null, actorId: string) => {
    const found = await postOf(iri);
    const group = found && (await groupOfDoc(found.doc));
    return found && !(await deps.audience.hides(group, actorId)) ? { ...found, group } : null;
  };

  /** The group hosted here a post is for: named in its addressing, or its parent's group. */
  const groupForPost = async (post: IncomingPost, actorId: string): Promise<GroupDoc | null> => {
    for (const iri of new Set(post.addressed)) {
      const group = await localGroup(iri);
      if (group && !(await deps.audience.hides(group, actorId))) return group;
    }
    const parent = await postFor(post.inReplyTo, actorId);
    return parent?.group && !parent.group.origin ? parent.group : null;
  };

  /** The activity's author, who must be the object's author. */
  const authorOf = async (inbound: Inbound, post: IncomingPost): Promise<UserDoc> => {
    if (post.attributedTo !== inbound.actorId)
      throw new ForbiddenError('A post is created, edited or deleted by its author only.');
    return remote.person(inbound.actorId);
  };

  // ---- in a group hosted here ---------------------------------------------------------------------------

  const followGroup = async (inbound: Inbound, group: GroupDoc): Promise<void> => {
    if (group.visibility !== 'public') {
      // A members-only group is followed by those invited to it (or members, banned...) only, known here
      // already; anyone else is answered as for a group that does not exist: nothing (not even a read of
      // their actor), where a Reject would tell them it exists.
      const known = await remote.known(inbound.actorId);
      const standing =
        known?.kind === 'person' ? await deps.groupRepo.membership(group._id, known.person._id) : null;
      if (!standing) return;
    }
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
    ...moderation.handlers,
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
      if (await moderation.undoLock(inbound, undone)) return;
      if (typeOf(undone) === 'Like') {
        const found = await postFor(objectIri, inbound.actorId);
        const group = found?.group;
        if (!found || !group || group.origin) return;
        const person = await remote.person(inbound.actorId);
        await threads.like(callerOf(person), found.kind, found.doc._id.toHexString(), false);
        await deps.audience.announce(group, inbound.raw);
      }
    },

    Accept: async (inbound) => {
      const objectId = idOf(first(inbound.activity.object));
      if (!objectId || !directory.isLocal(objectId)) return;
      const local = await deps.ownActivity(objectId, true);
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
      const local = await deps.ownActivity(objectId, true);
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
      // Not a post (an event, a resource, a poll's answer...): nothing Ensemble shows.
      if (!POST_TYPES.has(typeOf(object) ?? '')) return;
      const post = readPost(object);
      const group = await groupForPost(post, inbound.actorId);
      // Not for a group hosted here: a group hosted elsewhere announces what it accepts (or its own
      // server sends it, as Mobilizon does).
      if (!group) return fromGroupOrigin(inbound, post);
      // The member nodes it is announced to are found while the post is written.
      const inboxes = deps.audience.inboxes(group._id);
      inboxes.catch(() => undefined);
      await receivePost(group, post, await authorOf(inbound, post), undefined);
      await deps.audience.announce(group, inbound.raw, await inboxes);
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
      const found = await postFor(post.iri, inbound.actorId);
      const group = found?.group;
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
      if (!objectIri) return;
      if (objectIri === inbound.actorId) return actorDeleted(inbound.actorId);
      const found = await postFor(objectIri, inbound.actorId);
      const group = found?.group;
      if (!found || !group || group.origin || found.doc.deleted) return;
      const person = await remote.person(inbound.actorId);
      // Its author deletes it; a moderator (of another node, given that role here) removes it with a reason.
      const summary = typeof inbound.activity.summary === 'string' ? inbound.activity.summary.trim() : '';
      await threads.remove(
        callerOf(person),
        found.kind,
        found.doc._id.toHexString(),
        summary.slice(0, 500) || 'Removed by a moderator of the group',
      );
      await deps.audience.announce(group, inbound.raw);
    },

    Like: async (inbound) => {
      const found = await postFor(idOf(first(inbound.activity.object)), inbound.actorId);
      if (!found) throw new ValidationError('The liked object is not a post of a group on this node.');
      const group = found.group;
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
      const inner = await announcedObject(inbound, known.group);
      if (!inner) throw new ValidationError('The announced activity could not be read.');
      await applyAnnounced(known.group, inner, inbound.recorded);
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

  /**
   * What a group announced. A public group's copy of another origin's activity is not believed: it is read
   * from its origin. A members-only group's is taken as the group carries it (cut to what the activity's own
   * origin may vouch for): its author's node serves it to the group's node only, since it cannot know the
   * others (docs/federation.md, "Members-only groups across nodes"); the group's signature vouches for it.
   */
  async function announcedObject(inbound: Inbound, group: GroupDoc): Promise<Record<string, unknown> | null> {
    const carried = first(inbound.raw.object);
    if (group.visibility !== 'members' || !isNode(carried) || typeof carried.id !== 'string')
      return resolve(inbound.activity.object);
    const inner = structuredClone(carried);
    const origin = originOf(inner.id as string);
    if (!origin || directory.isLocal(inner.id as string)) return resolve(inbound.activity.object);
    stripUntrusted(inner, origin, (iri) => directory.isLocal(iri));
    return inner;
  }

  /**
   * A post a group's own server sends itself (Mobilizon: a member's discussion, attributed to the group or
   * addressed to its members): recorded in the group's record here, written by the activity's actor.
   */
  async function fromGroupOrigin(inbound: Inbound, post: IncomingPost): Promise<void> {
    if (post.inReplyTo) return;
    for (const iri of new Set([post.attributedTo, ...post.addressed])) {
      if (!iri || originOf(iri) !== originOf(inbound.actorId)) continue;
      const groupIri = iri.replace(/\/(followers|members)$/, '');
      const known = await remote.known(groupIri);
      if (known?.kind !== 'group' || known.group.origin?.iri !== groupIri) continue;
      const author = await remote.person(inbound.actorId);
      const vouched = { groupId: known.group._id.toHexString(), role: 'member' as const };
      return receivePost(known.group, post, author, vouched);
    }
  }

  /** A person of another node deleted themselves: their memberships of groups hosted here end. */
  async function actorDeleted(actorIri: string): Promise<void> {
    const known = await remote.known(actorIri);
    if (known?.kind !== 'person') return;
    const caller = callerOf(known.person);
    for (const groupId of await deps.groupRepo.groupIdsOf(known.person._id, ['active', 'requested'])) {
      const group = await deps.groupRepo.byId(groupId);
      if (!group || group.origin || group.deletedAt) continue;
      const membership = await deps.groupRepo.membership(group._id, known.person._id);
      if (membership?.state === 'active' && membership.role !== 'owner')
        await memberships.leave(caller, group.handle).catch(() => undefined);
      else if (membership?.state === 'requested')
        await memberships.withdraw(caller, group.handle).catch(() => undefined);
    }
  }

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
