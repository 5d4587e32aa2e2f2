import { ObjectId } from 'mongodb';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { Lanes } from '../core/lanes.js';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { JobQueue } from '../jobs/job.queue.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import {
  type NotificationDoc,
  type NotificationKind,
  type NotificationRepository,
} from './notification.repository.js';
import { BatchInserter } from '../db/batch.insert.js';
import { JobGatherer, itemsOf } from '../jobs/job.gatherer.js';
import { actorOfUser, type NotificationAudience } from './notification.audience.js';

/** Recipients written per `notify.batch` job. */
export const FANOUT_BATCH = 500;

/** What an event asks for: who gets which kind (the first kind given to a person wins). */
interface Plan {
  groupId: string;
  threadId: string | null;
  replyId: string | null;
  actorId: string | null;
  /** Kinds in priority order, each with its recipients. */
  targets: { kind: NotificationKind; users: string[] }[];
  /**
   * The `notify` job this came from (and its place in it, for a gathered job): with the person, the key that
   * makes each notification once.
   */
  event?: string;
  /** People who follow the thread from now on (its author, each replier). */
  follow?: string[];
  /** Group followers of this level also get `thread.new` / `thread.activity` (resolved in the job). */
  followersOf?: { kind: 'group' | 'thread'; id: string; as: NotificationKind };
}

export interface Delivered {
  userId: string;
  notification: NotificationDoc;
}

/**
 * Notifications are never made in the request that caused them: the bridge turns each event into a
 * `notify` job; that job works out the recipients (including every follower of a large group) and splits
 * them into `notify.batch` jobs of FANOUT_BATCH people; each batch checks who may still read the group,
 * skips muted groups, writes the notifications and hands them to `deliver` (live sockets, mail).
 */
export interface NotificationFanoutDeps {
  repo: NotificationRepository;
  groups: GroupRepository;
  threads: ThreadRepository;
  people: PersonRepository;
  jobs: JobQueue;
  logger: Logger;
  audience: NotificationAudience;
  /** Who hears of the notifications written (live sockets, mail), in this order. */
  deliverTo: ((delivered: Delivered[]) => Promise<void>)[];
  /** A new thread's job is queued once its first deliveries to other nodes are handed out (ADR 0042). */
  lanes: Lanes;
}

export class NotificationFanout {
  /** The people of a batch are written together: their keys in one insert, their notifications in another. */
  private readonly keys: BatchInserter<{ _id: string; at: Date }>;
  private readonly notifications: BatchInserter<NotificationDoc>;
  private readonly written: (doc: NotificationDoc) => Promise<boolean>;
  private readonly repo: NotificationRepository;
  private readonly groups: GroupRepository;
  private readonly threads: ThreadRepository;
  private readonly people: PersonRepository;
  private readonly jobs: JobQueue;
  private readonly logger: Logger;
  private readonly audience: NotificationAudience;
  private readonly deliverTo: NotificationFanoutDeps['deliverTo'];
  private readonly lanes: Lanes;
  /** The plans of events that come together go in one `notify` job (ADR 0041). */
  private readonly planned: JobGatherer<Plan>;

  constructor(deps: NotificationFanoutDeps) {
    this.repo = deps.repo;
    this.groups = deps.groups;
    this.threads = deps.threads;
    this.people = deps.people;
    this.jobs = deps.jobs;
    this.logger = deps.logger;
    this.audience = deps.audience;
    this.deliverTo = deps.deliverTo;
    this.lanes = deps.lanes;
    const { repo, jobs } = deps;
    this.keys = new BatchInserter(repo.delivered, FANOUT_BATCH);
    this.written = (doc) => this.notifications.insert(doc);
    this.notifications = new BatchInserter(repo.notifications.collection, FANOUT_BATCH);
    this.planned = new JobGatherer(jobs, 'notify');
    jobs.register('notify', (p, job) => this.plans(p, job._id.toHexString()), { concurrency: 2 });
    jobs.register('notify.batch', (p) => this.batch(p as unknown as Plan), { concurrency: 2 });
  }

  /** Subscribe to the domain events that notify someone. */
  listen(events: EventBus): void {
    const enqueue = (plan: Plan): Promise<void> => this.planned.add(plan);
    events.on('thread.created', async (e) => {
      const plan: Plan = {
        groupId: e.groupId,
        threadId: e.threadId,
        replyId: null,
        actorId: e.authorId,
        targets: e.silent ? [] : [{ kind: 'mention', users: e.mentions }],
        // A person of another node hears nothing here (their node notifies them): no follow to write.
        follow: e.received ? [] : [e.authorId],
      };
      if (!e.silent) plan.followersOf = { kind: 'group', id: e.groupId, as: 'thread.new' };
      // Nobody waits for it: its job (a write, then its run) goes after the thread's first deliveries to the
      // group's member nodes are handed out, a moment later at the most.
      await this.lanes.later();
      await enqueue(plan);
    });
    events.on('reply.created', (e) =>
      enqueue({
        groupId: e.groupId,
        threadId: e.threadId,
        replyId: e.replyId,
        actorId: e.authorId,
        targets: [
          { kind: 'mention', users: e.mentions },
          { kind: 'reply', users: [e.parentAuthorId] },
        ],
        follow: e.received ? [] : [e.authorId],
        followersOf: { kind: 'thread', id: e.threadId, as: 'thread.activity' },
      }),
    );
    events.on('member.requested', async (e) => {
      const moderators = await this.groups.moderatorsOf(new ObjectId(e.groupId));
      await enqueue({
        groupId: e.groupId,
        threadId: null,
        replyId: null,
        actorId: e.userId,
        targets: [{ kind: 'join.request', users: moderators.map((m) => m.userId.toHexString()) }],
      });
    });
    events.on('member.invited', async (e) => {
      if (!e.userId) return;
      await enqueue({
        groupId: e.groupId,
        threadId: null,
        replyId: null,
        actorId: e.byUserId,
        targets: [{ kind: 'invitation', users: [e.userId] }],
      });
    });
  }

  /**
   * The plans of a `notify` job, in order. A group's or thread's followers are read once for the job's plans
   * (a busy group's new threads come together), and again after a plan made someone follow.
   */
  private async plans(payload: Record<string, unknown>, job: string): Promise<void> {
    const plans = itemsOf<Plan>(payload);
    const gathered = Array.isArray(payload.items);
    const followers = new Map<string, Promise<ObjectId[]>>();
    for (const [i, plan] of plans.entries()) {
      if (plan.follow?.length) followers.clear();
      await this.plan({ ...plan, event: gathered ? `${job}.${i}` : job }, (kind, id) => {
        const key = `${kind}:${id}`;
        let users = followers.get(key);
        if (!users) followers.set(key, (users = this.repo.followers(kind, new ObjectId(id))));
        return users;
      });
    }
  }

  /** Resolve followers, then split everyone into batches (one kind per person, the first that applies). */
  private async plan(
    plan: Plan,
    followersOf: (kind: 'group' | 'thread', id: string) => Promise<ObjectId[]>,
  ): Promise<void> {
    for (const userId of plan.follow ?? []) {
      await this.repo.follow(new ObjectId(userId), new ObjectId(plan.threadId!));
    }
    const targets = [...plan.targets];
    if (plan.followersOf) {
      const users = await followersOf(plan.followersOf.kind, plan.followersOf.id);
      targets.push({ kind: plan.followersOf.as, users: users.map((u) => u.toHexString()) });
    }
    const seen = new Set<string>(plan.actorId ? [plan.actorId] : []);
    const flat: { kind: NotificationKind; user: string }[] = [];
    for (const target of targets) {
      for (const user of target.users) {
        if (seen.has(user)) continue;
        seen.add(user);
        flat.push({ kind: target.kind, user });
      }
    }
    for (let i = 0; i < flat.length; i += FANOUT_BATCH) {
      const slice = flat.slice(i, i + FANOUT_BATCH);
      const byKind = new Map<NotificationKind, string[]>();
      for (const { kind, user } of slice) byKind.set(kind, [...(byKind.get(kind) ?? []), user]);
      const batch: Plan = { ...plan, targets: [...byKind].map(([kind, users]) => ({ kind, users })) };
      delete batch.followersOf;
      delete batch.follow;
      await this.jobs.enqueue('notify.batch', batch as unknown as Record<string, unknown>);
    }
  }

  /**
   * Who of these people should hear about this group now: active, allowed by the group rules, not muted. Their
   * records and choices are read for the whole batch at once (two queries, not two per person).
   */
  private async hearing(
    userIds: ObjectId[],
    group: GroupDoc,
  ): Promise<(kind: NotificationKind, user: ObjectId) => Promise<boolean>> {
    const [users, levels] = await Promise.all([
      this.people.byIds(userIds),
      this.repo.levels(userIds, 'group', group._id),
    ]);
    const byId = new Map(users.map((u) => [u._id.toHexString(), u]));
    return async (kind, userId) => {
      const user = byId.get(userId.toHexString());
      if (!user || user.status !== 'active') return false;
      if (kind !== 'invitation' && levels.get(userId.toHexString())?.level === 'mute') return false;
      return this.audience.mayHear(actorOfUser(user), group, kind);
    };
  }

  private async batch(plan: Plan): Promise<void> {
    const groupId = new ObjectId(plan.groupId);
    const now = new Date();
    const delivered: Delivered[] = [];
    // Read once for the whole batch (every person is checked against the same group).
    const group = await this.groups.byId(groupId);
    if (!group) return;
    const hears = await this.hearing(
      plan.targets.flatMap(({ users }) => users.map((u) => new ObjectId(u))),
      group,
    );
    await Promise.all(
      plan.targets.flatMap(({ kind, users }) =>
        users.map(async (user) => {
          const userId = new ObjectId(user);
          if (!(await hears(kind, userId))) return;
          // At-least-once jobs: a batch run again (or planned again) skips whom it already notified.
          const key = plan.event && `${plan.event}:${user}`;
          if (key && !(await this.keys.insert({ _id: key, at: now }))) return;
          let n: number;
          let doc: NotificationDoc | undefined;
          try {
            const [stated, hint] = await Promise.all([this.repo.hasState(userId), this.repo.headHint(user)]);
            if (!stated) await this.repo.ensureState(userId);
            n = await this.repo.notifications.append(
              user,
              hint,
              (n, _id) => {
                doc = {
                  _id,
                  n,
                  userId,
                  kind,
                  groupId,
                  threadId: plan.threadId ? new ObjectId(plan.threadId) : null,
                  replyId: plan.replyId ? new ObjectId(plan.replyId) : null,
                  actorId: plan.actorId ? new ObjectId(plan.actorId) : null,
                  createdAt: now,
                  readAt: null,
                };
                return doc;
              },
              this.written,
            );
          } catch (err) {
            // Not written: the retried job must not skip this person.
            if (key) await this.repo.forgetDelivered(key);
            throw err;
          }
          await this.repo.recordHead(user, n);
          if (doc) delivered.push({ userId: user, notification: { ...doc, n } });
        }),
      ),
    );
    if (delivered.length) for (const deliver of this.deliverTo) await deliver(delivered);
    this.logger.debug({ count: delivered.length, group: plan.groupId }, 'notifications written');
  }
}
