import type { ObjectId } from 'mongodb';
import type { MembershipState } from '../groups/group.policy.js';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import { Lru } from '../core/lru.js';
import { PUBLIC } from './actor.directory.js';
import type { ObjectRenderer } from './object.renderer.js';
import type { Activity, Outbox, SendOptions } from './outbox.js';

/** Where a person of another node receives activities: their node's shared inbox, else their own. */
export const inboxOf = (person: UserDoc): string | null =>
  person.origin ? (person.origin.sharedInbox ?? person.origin.inbox) : null;

/** How many members' inboxes, and for how long, a process keeps (`GroupAudience.inboxes`). */
const RECEIVERS_KEPT = 20_000;
const RECEIVER_KEPT_MS = 30_000;

/**
 * A group hosted here speaking to its members on other nodes (FEP-1b12): it wraps what it accepted in an
 * `Announce` and sends it to every node that holds a member (each node's shared inbox once), keeping the
 * Announce in its outbox.
 */
export class GroupAudience {
  /** Where each member lately read receives (null: a person of this node), by person id. */
  private readonly receivers = new Lru<string, { at: number; inbox: string | null }>(RECEIVERS_KEPT);

  constructor(
    private readonly deps: {
      groups: GroupRepository;
      people: PersonRepository;
      renderer: ObjectRenderer;
      outbox: Outbox;
    },
  ) {}

  /**
   * The inboxes of the group's members on other nodes. Who is a member is read every time; where a person
   * of another node receives is what this process read of their record in the last 30 s (the window of
   * ADR 0030 for remote records), so a group's Announce waits for one read, not two, and not for fifty
   * people's records (docs/performance.md, "Federation: a new thread to 50 member nodes").
   */
  async inboxes(groupId: ObjectId, options: { public?: boolean } = {}): Promise<string[]> {
    // Asked on every post, reply and like of the group: only its members of other nodes are read. A public
    // group's are kept by this process until a membership of the group changes, in any process (the record
    // cache, ADR 0034 and 0042): what it says is public anyway (its followers), and what a public group
    // sends is addressed to Public. A members-only group's are read every time (ADR 0028, 0036).
    const ids = await (options.public
      ? this.deps.groups.keptRemoteMemberIds(groupId)
      : this.deps.groups.remoteMemberIds(groupId, ['active']));
    const now = Date.now();
    const inboxes = new Map<string, string | null>();
    const unknown: ObjectId[] = [];
    for (const id of ids) {
      const key = id.toHexString();
      const kept = this.receivers.get(key);
      if (kept && now - kept.at < RECEIVER_KEPT_MS) inboxes.set(key, kept.inbox);
      else unknown.push(id);
    }
    for (const person of await this.deps.people.byIds(unknown)) {
      const inbox = person.status === 'remote' ? inboxOf(person) : null;
      inboxes.set(person._id.toHexString(), inbox);
      this.receivers.set(person._id.toHexString(), { at: now, inbox });
    }
    return [...new Set([...inboxes.values()].filter((i): i is string => i !== null))];
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
  announce(
    group: GroupDoc,
    object: Record<string, unknown> | string,
    /** The member nodes' inboxes, when the caller found them already (or is finding them). */
    inboxes?: string[] | Promise<string[]>,
    /** An activity whose deliveries go out first; what must be fetchable first (Outbox.send). */
    options: SendOptions = {},
  ): Promise<Activity> {
    return this.startAnnounce(group, object, inboxes, options).done;
  }

  /** `announce`, telling the Announce's id at once (`done` when it is queued and kept). */
  startAnnounce(
    group: GroupDoc,
    object: Record<string, unknown> | string,
    inboxes?: string[] | Promise<string[]>,
    options: SendOptions = {},
  ): { id: string; queued: Promise<void>; done: Promise<Activity> } {
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
    return {
      id: announce.id,
      ...this.deps.outbox.start(announce, inboxes ?? this.inboxes(group._id), options),
    };
  }
}
