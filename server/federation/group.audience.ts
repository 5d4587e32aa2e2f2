import type { ObjectId } from 'mongodb';
import type { MembershipState } from '../groups/group.policy.js';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import { PUBLIC } from './actor.directory.js';
import type { ObjectRenderer } from './object.renderer.js';
import type { Activity, Outbox, SendOptions } from './outbox.js';

/** Where a person of another node receives activities: their node's shared inbox, else their own. */
export const inboxOf = (person: UserDoc): string | null =>
  person.origin ? (person.origin.sharedInbox ?? person.origin.inbox) : null;

/**
 * A group hosted here speaking to its members on other nodes (FEP-1b12): it wraps what it accepted in an
 * `Announce` and sends it to every node that holds a member (each node's shared inbox once), keeping the
 * Announce in its outbox.
 */
export class GroupAudience {
  constructor(
    private readonly deps: {
      groups: GroupRepository;
      people: PersonRepository;
      renderer: ObjectRenderer;
      outbox: Outbox;
    },
  ) {}

  /** The inboxes of the group's members on other nodes. */
  async inboxes(groupId: ObjectId): Promise<string[]> {
    // Asked on every post, reply and like of the group: only its members of other nodes are read.
    const members = await this.deps.people.byIds(await this.deps.groups.remoteMemberIds(groupId, ['active']));
    return [...new Set(members.flatMap((m) => (m.status === 'remote' ? [inboxOf(m) ?? []].flat() : [])))];
  }

  /**
   * The origins of the nodes holding a member of the group (in these states): those a members-only group's
   * documents are served to (docs/federation.md, "Members-only groups across nodes").
   */
  async memberOrigins(groupId: ObjectId, states: MembershipState[] = ['active']): Promise<Set<string>> {
    const members = await this.deps.people.byIds(await this.deps.groups.remoteMemberIds(groupId, states));
    return new Set(
      members.flatMap((m) => (m.status === 'remote' && m.origin ? [new URL(m.origin.iri).origin] : [])),
    );
  }

  /**
   * Whether a group hosted here is hidden from the server of `actorIri`: a node-only group from every
   * server, a members-only one from a server holding no member (in these states). To such a server the
   * group and its posts are answered as unknown ones (ADR 0028, addendum).
   */
  async hides(
    group: GroupDoc | null,
    actorIri: string,
    states: MembershipState[] = ['active'],
  ): Promise<boolean> {
    if (!group || group.origin || group.visibility === 'public') return false;
    if (group.visibility !== 'members') return true;
    return !(await this.memberOrigins(group._id, states)).has(new URL(actorIri).origin);
  }

  /** The group announces `object` (an activity, as received or as built here, or a post) to its members. */
  async announce(
    group: GroupDoc,
    object: Record<string, unknown> | string,
    /** The member nodes' inboxes, when the caller found them already. */
    inboxes?: string[],
    /** An activity whose deliveries go out first; what must be fetchable first (Outbox.send). */
    options: SendOptions = {},
  ): Promise<Activity> {
    const groupIri = this.deps.renderer.groupIri(group);
    const announce = this.deps.outbox.build(groupIri, {
      type: 'Announce',
      object,
      // A members-only group's Announces go to its followers (its members' nodes) only, never to Public.
      ...(group.visibility === 'public'
        ? { to: [PUBLIC], cc: [`${groupIri}/followers`] }
        : { to: [`${groupIri}/followers`], cc: [] }),
      audience: groupIri,
    });
    return this.deps.outbox.send(announce, inboxes ?? (await this.inboxes(group._id)), options);
  }
}
