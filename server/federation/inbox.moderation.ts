import { systemCaller } from '../core/caller.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { GroupDoc } from '../groups/group.repository.js';
import { parseActorName } from './actor.directory.js';
import { idOf } from './as.values.js';
import { first, typeOf, type InboxContext, type Json } from './inbox.context.js';
import type { Inbound, InboxHandler, InboxHandlerDeps } from './inbox.contract.js';

/**
 * Moderation between nodes (docs/federation.md, "Moderation by the group's moderators"):
 *
 * - in a group hosted here, a moderator of another node (a member given that role here) locks, pins and
 *   removes as one of this node would: the thread service decides, and the group announces what it
 *   accepted;
 * - a group hosted elsewhere (or one of its moderators) bans (`Block`) or removes (`Remove` with the group
 *   as target) a person of this node: their membership here ends, and the group's record is read again
 *   (its member count);
 * - a report (`Flag`) of a post of a group hosted here is put in its moderators' queue.
 */
export function moderationHandlers(deps: InboxHandlerDeps, ctx: InboxContext) {
  const { directory, remote, threads, memberships } = deps;
  const { localGroup, postOf, callerOf, groupOfDoc } = ctx;

  /**
   * A thread of a group hosted here, for a Lock, Add or Remove by one of its (remote) moderators; none when
   * the group is hidden from the sender's server (as for a thread that does not exist).
   */
  const localThread = async (objectIri: string | null, actorIri: string) => {
    const found = await postOf(objectIri);
    const group = found && (await groupOfDoc(found.doc));
    if (!found || !group || group.origin || (await deps.audience.hides(group, actorIri))) return null;
    if (found.kind !== 'threads') throw new ValidationError('Only a thread is locked or pinned.');
    return { group, id: found.doc._id.toHexString() };
  };

  /** Lock / unlock, pin / unpin a thread here, as a remote person whose role the group decides. */
  const setFlag = async (
    inbound: Inbound,
    objectIri: string | null,
    flag: 'locked' | 'pinned',
    on: boolean,
  ) => {
    const target = await localThread(objectIri, inbound.actorId);
    if (!target) return false;
    const person = await remote.person(inbound.actorId);
    await threads.setFlag(callerOf(person), target.id, flag, on);
    await deps.audience.announce(target.group, inbound.raw);
    return true;
  };

  /** The local person an IRI names, if any. */
  const localPerson = async (iri: string | null) => {
    const ref = iri ? parseActorName(directory.nameOf(iri) ?? '') : null;
    if (!ref || ref.kind !== 'person' || directory.iri(ref.name) !== iri) return null;
    const loaded = await directory.load(ref.name);
    return loaded && 'person' in loaded ? loaded.person : null;
  };

  /**
   * A group hosted elsewhere ends the membership of a person of this node: the group itself, or one of the
   * moderators its `moderators` collection lists, bans (Block) or removes (Remove) them.
   */
  const endMembership = async (group: GroupDoc, actorIri: string, personIri: string | null, ban: boolean) => {
    const origin = group.origin!;
    if (actorIri !== origin.iri && !origin.moderators.includes(actorIri))
      throw new ForbiddenError('Only the group or one of its moderators removes or bans its members.');
    const person = await localPerson(personIri);
    if (person)
      await memberships.endedByGroup(
        systemCaller(ban ? 'banned by the group' : 'removed by the group'),
        group._id,
        person._id,
        ban ? 'banned' : 'removed',
      );
    // Its member count (and moderators) as the group's node now gives them.
    await remote.group(origin.iri, { refresh: true }).catch(() => undefined);
  };

  /** The remote group a Block or Remove of a person is about: its target, else its actor. */
  const remoteGroupOf = async (activity: Json) => {
    for (const iri of [idOf(first(activity.target)), idOf(first(activity.actor))]) {
      if (!iri) continue;
      const known = await remote.known(iri);
      if (known?.kind === 'group' && known.group.origin) return known.group;
    }
    return null;
  };

  const handlers: Record<'Lock' | 'Add' | 'Remove' | 'Block' | 'Flag', InboxHandler> = {
    // Lemmy's lock of a post (a moderator's).
    Lock: async (inbound) => {
      await setFlag(inbound, idOf(first(inbound.activity.object)), 'locked', true);
    },

    // Pinning (Lemmy, Mastodon: Add to the group's `featured`).
    Add: async (inbound) => {
      const group = await featuredOf(inbound.activity);
      if (group) await setFlag(inbound, idOf(first(inbound.activity.object)), 'pinned', true);
    },

    Remove: async (inbound) => {
      if (await featuredOf(inbound.activity)) {
        await setFlag(inbound, idOf(first(inbound.activity.object)), 'pinned', false);
        return;
      }
      // A member removed from a group hosted elsewhere (Mobilizon's shape: the group as target).
      const group = await remoteGroupOf(inbound.activity);
      if (group) await endMembership(group, inbound.actorId, idOf(first(inbound.activity.object)), false);
    },

    // A ban from a group hosted elsewhere (Lemmy: a moderator blocks a person, the community as target).
    Block: async (inbound) => {
      const group = await remoteGroupOf(inbound.activity);
      if (group) await endMembership(group, inbound.actorId, idOf(first(inbound.activity.object)), true);
    },

    // A report (Mastodon: the instance actor, the account and its posts; Lemmy: a person, one post).
    Flag: async (inbound) => {
      const objects = inbound.activity.object;
      const iris = (Array.isArray(objects) ? objects : [objects]).map((o) => idOf(o));
      const reason =
        [inbound.activity.content, inbound.activity.summary]
          .find((v): v is string => typeof v === 'string' && v.trim() !== '')
          ?.trim()
          .slice(0, 1000) ?? 'Reported from another server';
      const reporter = await remote.person(inbound.actorId);
      // Posts of groups hosted here are reported to their moderators; anything else named is passed over,
      // a post the reporter may not read included: one report is not kept while the activity is refused,
      // and the answer does not tell whether a post the reporter may not see exists.
      for (const iri of iris.slice(0, 20)) {
        const found = await postOf(iri);
        const group = found && (await groupOfDoc(found.doc));
        if (!found || !group || group.origin) continue;
        await deps.reports
          .report(callerOf(reporter), found.kind, found.doc._id.toHexString(), reason)
          .catch((err: unknown) => {
            if (!(err instanceof NotFoundError || err instanceof ForbiddenError)) throw err;
          });
      }
    },
  };

  /** The group hosted here whose `featured` collection an Add or Remove targets. */
  async function featuredOf(activity: Json): Promise<GroupDoc | null> {
    const target = idOf(first(activity.target));
    if (!target?.endsWith('/featured')) return null;
    return localGroup(target.slice(0, -'/featured'.length));
  }

  /** Undo(Lock) of a thread here by a (remote) moderator; false when the Lock is not about one. */
  const undoLock = async (inbound: Inbound, undone: Json): Promise<boolean> => {
    if (typeOf(undone) !== 'Lock') return false;
    return setFlag(inbound, idOf(first(undone.object)), 'locked', false);
  };

  return { handlers, undoLock, endMembership, remoteGroupOf };
}
