import { ObjectId } from 'mongodb';
import { KeyedChains } from '../core/chains.js';
import type { DomainEvents, EventBus, EventName } from '../core/events.js';
import type { Lanes } from '../core/lanes.js';
import type { Logger } from '../core/logger.js';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import { PUBLIC, type ActorDirectory } from './actor.directory.js';
import { refKeys, type FederationRecords } from './federation.records.js';
import { inboxOf, type GroupAudience } from './group.audience.js';
import type { ObjectRenderer, PostDoc, PostKind } from './object.renderer.js';
import type { Activity, Outbox } from './outbox.js';

/** The group and the person an event is about, as federation needs them. */
interface Parties {
  group: GroupDoc;
  person: UserDoc;
  groupIri: string;
  personIri: string;
  /** The group is hosted on this node (else on the node in its origin). */
  groupHere: boolean;
  /** The person is a person of this node (else of the node in their origin). */
  personHere: boolean;
}

type Handler<E extends EventName> = (e: DomainEvents[E]) => Promise<void>;

/** What a post sent to other nodes: its id, and when it is queued (its first deliveries start there). */
interface Sent {
  id?: string;
  queued?: Promise<void>;
}

/**
 * Outbound federation (docs/federation.md): domain events → activities → the delivery queue, as the
 * realtime bridge maps events to sockets. Only what people of this node do is sent from here:
 *
 * - in a group hosted here, the author's activity is kept in their outbox and the group announces it to
 *   every node holding a member (FEP-1b12), plus an `Announce` of each new thread's Page (Mastodon);
 * - in a group hosted elsewhere, the activity goes to the group, which announces it (a post stays
 *   pending here until then);
 * - memberships: a request to a group elsewhere is a Follow (leaving, an Undo); a group here answers a
 *   person of another node with Accept or Reject, and invites them with Invite.
 *
 * What people of other nodes do reaches this node as activities; the inbox applies them and a group
 * hosted here announces them itself (inbox.handlers.ts), so events they cause send nothing here.
 */
export class FederationBridge {
  constructor(
    private readonly deps: {
      events: EventBus;
      groups: GroupRepository;
      people: PersonRepository;
      threads: ThreadRepository;
      renderer: ObjectRenderer;
      /** This node's actor documents. */
      actors: Pick<ActorDirectory, 'document'>;
      outbox: Outbox;
      audience: GroupAudience;
      records: FederationRecords;
      logger: Logger;
      lanes: Lanes;
    },
  ) {}

  private readonly likes = new KeyedChains();

  private readonly table: { [E in EventName]?: Handler<E> } = {
    'group.updated': async (e) => {
      const group = await this.deps.groups.byId(new ObjectId(e.groupId));
      if (!group || group.origin || group.deletedAt) return;
      if (group.visibility === 'node' && !e.audienceChanged) return;
      const groupIri = this.deps.renderer.groupIri(group);
      // A group now kept to this node's people is served to no other node: its members' nodes are told to
      // read it again, which they find refused (they then show it to their members only), and nothing more.
      const doc =
        group.visibility === 'node'
          ? { id: groupIri, type: 'Group' }
          : await this.deps.actors.document(`g.${group.handle}`, { membersOnly: true });
      if (!doc) return;
      // Its members' nodes read the group again (name, description, joining). The group is its audience:
      // a members-only group's member nodes can fetch it back (federation.routes.ts, `/ap/s/:id`).
      const update = this.deps.outbox.build(groupIri, {
        type: 'Update',
        object: doc,
        audience: groupIri,
        ...(group.visibility === 'public'
          ? { to: [PUBLIC], cc: [`${groupIri}/followers`] }
          : { to: [`${groupIri}/followers`], cc: [] }),
      });
      await this.deps.outbox.send(update, await this.deps.audience.inboxes(group._id));
    },
    'thread.created': async (e) => {
      // A post of another node's person: its group announces it, nothing goes out from here.
      if (e.received) return;
      // Until the activity member nodes apply is queued (its first deliveries are held from there by the
      // worker), the thread's bookkeeping nobody waits for waits (ADR 0042).
      const release = this.deps.lanes.open();
      try {
        // Rendered from what the write held (no read of the thread), with the group and the author as this
        // process keeps them (ADR 0042: only their names and addresses are rendered, and a change to either
        // drops them in every process); in a group hosted here (a thread written here is pending only in a
        // group elsewhere) its member nodes are found at once, once for both Announces (docs/performance.md,
        // "Federation: a new thread to 50 member nodes").
        const written = this.deps.threads.written('threads', e.threadId);
        const early =
          written && !written.pending && written.audience !== 'node'
            ? this.deps.audience.inboxes(written.groupId, { public: written.audience === 'public' })
            : null;
        early?.catch(() => undefined);
        const [p, thread] = await Promise.all([
          this.parties(e.groupId, e.authorId, 'kept'),
          written ?? this.deps.threads.postById('threads', new ObjectId(e.threadId)),
        ]);
        if (!p?.personHere || !thread) return;
        const inboxes = p.groupHere
          ? (early ?? this.deps.audience.inboxes(p.group._id, { public: p.group.visibility === 'public' }))
          : null;
        const page = await this.deps.renderer.object('threads', thread, p.group, { author: p.person });
        const sent: Sent = {};
        if (!inboxes) {
          const created = this.publish(p, { type: 'Create', object: page }, { sent, later: true });
          void sent.queued?.finally(release);
          return void (await created);
        }
        // Mastodon and its peers show a group's Announce of a post (a boost), not of a Create: it goes out
        // once the deliveries member nodes apply (FEP-1b12) are out (docs/performance.md, fan-out).
        const created = this.publish(p, { type: 'Create', object: page }, { inboxes, sent, later: true });
        void sent.queued?.finally(release);
        await created;
        await this.deps.audience.announce(p.group, page, inboxes, { behind: sent.id });
      } finally {
        release();
      }
    },
    'reply.created': async (e) => {
      if (e.received) return;
      // The reply as written, with the group and its author as this process keeps them (as a new thread's,
      // ADR 0042): no read after the broadcast, when the node's work competes with its sockets' fan-out.
      const [p, reply] = await Promise.all([
        this.parties(e.groupId, e.authorId, 'kept'),
        this.deps.threads.written('replies', e.replyId) ??
          this.deps.threads.postById('replies', new ObjectId(e.replyId)),
      ]);
      if (!p?.personHere || !reply) return;
      await this.publish(p, {
        type: 'Create',
        object: await this.deps.renderer.object('replies', reply, p.group, { author: p.person }),
      });
    },
    'post.edited': async (e) => {
      const p = await this.parties(e.groupId, e.byUserId);
      const doc = p?.personHere && (await this.post(e.kind, e.id));
      if (!p || !doc || doc.deleted) return;
      await this.publish(p, {
        type: 'Update',
        object: await this.deps.renderer.object(e.kind, doc, p.group),
      });
    },
    'post.deleted': async (e) => {
      const p = await this.parties(e.groupId, e.byUserId);
      const doc = p?.personHere && (await this.post(e.kind, e.id));
      if (!p || !doc) return;
      // In a group hosted elsewhere, people here delete only their own posts; its moderators are there.
      if (!p.groupHere && e.byModerator) return;
      await this.publish(p, {
        type: 'Delete',
        object: this.deps.renderer.postIri(e.kind, doc),
        ...(doc.deleted?.reason ? { summary: doc.deleted.reason } : {}),
      });
    },
    // A like and its undoing, one after the other per person and post: an unlike a moment after the like
    // finds the Like it takes back (and goes out behind it, Outbox.start).
    'post.liked': (e) =>
      this.likes.run(`${e.kind}:${e.id}:${e.byUserId}`, async () => {
        const p = await this.parties(e.groupId, e.byUserId);
        const doc = p?.personHere && (await this.post(e.kind, e.id));
        if (!p || !doc) return;
        const like = await this.publish(p, { type: 'Like', object: this.deps.renderer.postIri(e.kind, doc) });
        await this.deps.records.setRef(refKeys.like(doc._id, p.person._id), like.id);
      }),
    'post.unliked': (e) =>
      this.likes.run(`${e.kind}:${e.id}:${e.byUserId}`, async () => {
        const p = await this.parties(e.groupId, e.byUserId);
        const doc = p?.personHere && (await this.post(e.kind, e.id));
        if (!p || !doc) return;
        const key = refKeys.like(doc._id, p.person._id);
        const likeId = await this.deps.records.ref(key);
        if (!likeId) return;
        const object = this.deps.renderer.postIri(e.kind, doc);
        await this.publish(p, {
          type: 'Undo',
          object: { id: likeId, type: 'Like', actor: p.personIri, object },
        });
        await this.deps.records.dropRef(key);
      }),
    'post.reported': async (e) => {
      const p = await this.parties(e.groupId, e.byUserId);
      const doc = p?.personHere && !p.groupHere && (await this.post(e.kind, e.id));
      if (!p || !doc) return;
      // To the group's moderators only (Lemmy's shape), never addressed to Public.
      const flag = this.deps.outbox.build(p.personIri, {
        type: 'Flag',
        object: this.deps.renderer.postIri(e.kind, doc),
        summary: e.reason,
        content: e.reason,
        to: [p.groupIri],
        audience: p.groupIri,
      });
      await this.deps.outbox.send(flag, [p.group.origin!.inbox]);
    },
    'thread.updated': async (e) => {
      const p = await this.parties(e.groupId, e.byUserId);
      const thread = p?.personHere && p.groupHere && (await this.post('threads', e.threadId));
      if (!p || !thread) return;
      const object = this.deps.renderer.postIri('threads', thread);
      // Lemmy's vocabulary: a thread's lock is a Lock, its pin an Add to the group's `featured` collection.
      if (e.change === 'locked') {
        const key = refKeys.lock(thread._id);
        if (e.value) {
          const lock = await this.publish(p, { type: 'Lock', object });
          await this.deps.records.setRef(key, lock.id);
        } else {
          const lockId = await this.deps.records.ref(key);
          await this.publish(p, {
            type: 'Undo',
            object: { ...(lockId ? { id: lockId } : {}), type: 'Lock', actor: p.personIri, object },
          });
          await this.deps.records.dropRef(key);
        }
        return;
      }
      await this.publish(p, { type: e.value ? 'Add' : 'Remove', object, target: `${p.groupIri}/featured` });
    },
    'member.requested': async (e) => {
      const p = await this.parties(e.groupId, e.userId);
      if (!p?.personHere || p.groupHere) return;
      const follow = this.deps.outbox.build(p.personIri, {
        type: 'Follow',
        object: p.groupIri,
        to: [p.groupIri],
      });
      await this.deps.records.setRef(refKeys.follow(p.group._id, p.person._id), follow.id);
      await this.deps.outbox.send(follow, [p.group.origin!.inbox]);
    },
    'member.left': async (e) => {
      const p = await this.parties(e.groupId, e.userId);
      if (p && p.groupHere && !p.personHere && e.reason !== 'left') {
        // A moderator here removed or banned a person of another node: the group says so to their node and
        // to every node holding a member (Lemmy's Block; Mobilizon's Remove, the group as target).
        const inbox = inboxOf(p.person);
        const ended = this.deps.outbox.build(p.groupIri, {
          type: e.reason === 'banned' ? 'Block' : 'Remove',
          object: p.personIri,
          target: p.groupIri,
          to: [p.personIri],
          cc: [`${p.groupIri}/followers`],
          audience: p.groupIri,
        });
        await this.deps.outbox.send(ended, [
          ...(inbox ? [inbox] : []),
          ...(await this.deps.audience.inboxes(p.group._id)),
        ]);
        return;
      }
      if (!p?.personHere || p.groupHere || e.reason !== 'left') return;
      const key = refKeys.follow(p.group._id, p.person._id);
      const followId = await this.deps.records.ref(key);
      const undo = this.deps.outbox.build(p.personIri, {
        type: 'Undo',
        object: {
          ...(followId ? { id: followId } : {}),
          type: 'Follow',
          actor: p.personIri,
          object: p.groupIri,
        },
        to: [p.groupIri],
      });
      await this.deps.outbox.send(undo, [p.group.origin!.inbox]);
      await this.deps.records.dropRef(key);
    },
    'member.declined': async (e) => {
      const p = await this.parties(e.groupId, e.userId);
      if (!p?.personHere || p.groupHere) return;
      const key = refKeys.invite(p.group._id, p.person._id);
      const inviteId = await this.deps.records.ref(key);
      if (!inviteId) return;
      const reject = this.deps.outbox.build(p.personIri, {
        type: 'Reject',
        object: inviteId,
        to: [p.groupIri],
      });
      await this.deps.outbox.send(reject, [p.group.origin!.inbox]);
      await this.deps.records.dropRef(key);
    },
    'member.joined': async (e) => {
      const p = await this.parties(e.groupId, e.userId);
      if (p && p.groupHere && !p.personHere) await this.answerFollow(p.group, p.person, 'Accept');
    },
    'member.request_denied': async (e) => {
      const p = await this.parties(e.groupId, e.userId);
      if (p && p.groupHere && !p.personHere) await this.answerFollow(p.group, p.person, 'Reject');
    },
    'member.invited': async (e) => {
      if (!e.userId) return;
      const p = await this.parties(e.groupId, e.userId);
      const inviter = await this.deps.people.byId(new ObjectId(e.byUserId));
      if (!p?.groupHere || p.personHere || !inviter) return;
      const inbox = p.person.origin?.inbox;
      if (!inbox) return;
      const invite = this.deps.outbox.build(this.deps.renderer.personIri(inviter), {
        type: 'Invite',
        object: p.groupIri,
        target: p.personIri,
        to: [p.personIri],
        audience: p.groupIri,
      });
      await this.deps.records.setRef(refKeys.invite(p.group._id, p.person._id), invite.id);
      await this.deps.outbox.send(invite, [inbox]);
    },
  };

  /** Subscribe to the domain events (each handler's failure is logged by the event bus). */
  listen(): void {
    for (const [name, handler] of Object.entries(this.table))
      this.deps.events.on(name as EventName, handler as Handler<EventName>);
  }

  /** The events this bridge sends activities for (docs/federation.md). */
  get events(): EventName[] {
    return Object.keys(this.table) as EventName[];
  }

  /**
   * A group hosted here answers a person of another node's Follow, embedding it (Mastodon matches the
   * answer to its Follow by the embedded id).
   */
  async answerFollow(group: GroupDoc, person: UserDoc, type: 'Accept' | 'Reject'): Promise<void> {
    const inbox = inboxOf(person);
    if (!inbox) return;
    const groupIri = this.deps.renderer.groupIri(group);
    const personIri = this.deps.renderer.personIri(person);
    const key = refKeys.follow(group._id, person._id);
    const followId = await this.deps.records.ref(key);
    const answer = this.deps.outbox.build(groupIri, {
      type,
      object: { ...(followId ? { id: followId } : {}), type: 'Follow', actor: personIri, object: groupIri },
      to: [personIri],
    });
    await this.deps.outbox.send(answer, [person.origin!.inbox]);
    if (type === 'Reject') await this.deps.records.dropRef(key);
  }

  /**
   * An activity of a person of this node in a group: to the group's node when it is hosted elsewhere;
   * kept in their outbox and announced by the group to its members when it is hosted here.
   */
  private async publish(
    p: Parties,
    fields: Record<string, unknown> & { type: string },
    extra: {
      /** The group's member nodes, when the caller found them already (or is finding them). */
      inboxes?: string[] | Promise<string[]>;
      /** Told what goes to other nodes: the group's Announce (a group hosted here), else the activity. */
      sent?: Sent;
      /** The JSON-LD forms kept once the first deliveries are handed out (a new thread, ADR 0042). */
      later?: boolean;
    } = {},
  ): Promise<Activity> {
    const { inboxes, sent, later } = extra;
    const activity = this.deps.outbox.build(p.personIri, {
      ...this.deps.renderer.addressing(p.group),
      audience: p.groupIri,
      ...fields,
    });
    if (!p.groupHere) {
      const started = this.deps.outbox.start(activity, [p.group.origin!.inbox], { later });
      if (sent) Object.assign(sent, { id: activity.id, queued: started.queued });
      return started.done;
    }
    // Kept in the author's outbox (so it can be fetched back by id) while the group announces it: the
    // Announce embeds it, on the group's own origin, so no member node needs to fetch it first; the
    // Announce is queued once it can be, for one that fetches it back anyway (ADR 0031).
    const create = this.deps.outbox.start(activity, [], { later });
    const announce = this.deps.audience.startAnnounce(
      p.group,
      activity,
      inboxes ?? this.deps.audience.inboxes(p.group._id, { public: p.group.visibility === 'public' }),
      { after: create.queued, later },
    );
    if (sent) Object.assign(sent, { id: announce.id, queued: announce.queued });
    await Promise.all([create.done, announce.done]);
    return activity;
  }

  /**
   * The group (public, not deleted) and the person an event names, as the database has them, or as this
   * process keeps them (`kept`: the record cache, ADR 0034, whose records a change drops in every process).
   */
  private async parties(
    groupId: string,
    personId: string,
    from: 'kept' | 'database' = 'database',
  ): Promise<Parties | null> {
    const [group, person] = await Promise.all(
      from === 'kept'
        ? [
            this.deps.groups.keptById(new ObjectId(groupId)),
            this.deps.people.keptByIds([new ObjectId(personId)]).then(([found]) => found ?? null),
          ]
        : [this.deps.groups.byId(new ObjectId(groupId)), this.deps.people.byId(new ObjectId(personId))],
    );
    // Public and members-only groups federate; a group of this node's people only (`node`) never does.
    if (!group || !person || group.deletedAt || group.visibility === 'node') return null;
    return {
      group,
      person,
      groupIri: this.deps.renderer.groupIri(group),
      personIri: this.deps.renderer.personIri(person),
      groupHere: !group.origin,
      personHere: person.status !== 'remote',
    };
  }

  private post(kind: PostKind, id: string): Promise<PostDoc | null> {
    return this.deps.threads.postById(kind, new ObjectId(id));
  }
}
