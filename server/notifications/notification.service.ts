import { ObjectId } from 'mongodb';
import { requirePerson, type Caller, type PersonCaller } from '../core/caller.js';
import { NotFoundError } from '../core/errors.js';
import { upsertOne } from '../db/errors.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { GroupService } from '../groups/group.service.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { ThreadRepository } from '../threads/thread.repository.js';
import type { NotificationAudience } from './notification.audience.js';
import {
  subscriptionId,
  type EmailDelivery,
  type GroupLevel,
  type NotificationDoc,
  type NotificationRepository,
  type ThreadLevel,
} from './notification.repository.js';
import { msg } from '../core/messages.js';

export interface NotificationView {
  id: string;
  kind: NotificationDoc['kind'];
  group: string | null;
  threadId: string | null;
  replyId: string | null;
  actor: string | null;
  createdAt: string;
  read: boolean;
}

/** A person's notifications, follows, mutes and mail preference. */
export class NotificationService {
  constructor(
    private readonly repo: NotificationRepository,
    private readonly groups: GroupService,
    private readonly groupRepo: GroupRepository,
    private readonly threads: ThreadRepository,
    private readonly people: PersonRepository,
    private readonly audience: NotificationAudience,
  ) {}

  /** Views for a page of one person's notifications (group handles and caller handles looked up by `_id`). */
  async views(docs: NotificationDoc[], readUpTo: number): Promise<NotificationView[]> {
    const lookup = async <T>(ids: ObjectId[], find: (id: ObjectId) => Promise<T | null>) => {
      const distinct = [...new Set(ids.map((i) => i.toHexString()))];
      const found = await Promise.all(distinct.map((hex) => find(new ObjectId(hex))));
      return new Map(distinct.map((hex, i) => [hex, found[i] ?? null]));
    };
    const groups = await lookup(
      docs.map((d) => d.groupId),
      (id) => this.groupRepo.byId(id),
    );
    const actors = await lookup(
      docs.flatMap((d) => (d.actorId ? [d.actorId] : [])),
      (id) => this.people.byId(id),
    );
    return docs.map((d) => ({
      id: d._id,
      kind: d.kind,
      group: groups.get(d.groupId.toHexString())?.handle ?? null,
      threadId: d.threadId?.toHexString() ?? null,
      replyId: d.replyId?.toHexString() ?? null,
      actor: d.actorId ? (actors.get(d.actorId.toHexString())?.handle ?? null) : null,
      createdAt: d.createdAt.toISOString(),
      read: d.readAt !== null || d.n <= readUpTo,
    }));
  }

  /** Newest first, by position; `cursor` is the last position seen. */
  async list(caller: Caller, page: { cursor?: number | undefined; limit: number }) {
    const user = requirePerson(caller);
    const userId = new ObjectId(user.personId);
    const state = await this.repo.stateOf(userId);
    const head = await this.repo.head(user.personId);
    const top = Math.min(head, (page.cursor ?? head + 1) - 1);
    const positions = Array.from({ length: Math.max(0, Math.min(page.limit, top)) }, (_, i) => top - i);
    const found = (await this.repo.notifications.getMany(user.personId, positions)).filter((d) => d !== null);
    // What the person may no longer read (removed, banned, the group closed or deleted) is not shown.
    const docs = await this.audience.visible(caller, found);
    const last = positions[positions.length - 1];
    const unread = await this.unread(user, state.readUpTo, head);
    return {
      items: await this.views(docs, state.readUpTo),
      unread,
      nextCursor: last !== undefined && last > 1 ? String(last) : null,
    };
  }

  /** Unread count: positions after `readUpTo` not marked read one by one (at most 100 counted). */
  private async unread(caller: PersonCaller, readUpTo: number, head: number): Promise<number> {
    const from = Math.max(readUpTo + 1, head - 99);
    const positions = Array.from({ length: Math.max(0, head - from + 1) }, (_, i) => from + i);
    const docs = await this.repo.notifications.getMany(caller.personId, positions);
    const unread = docs.filter((d): d is NotificationDoc => d !== null && !d.readAt);
    return (await this.audience.visible(caller, unread)).length;
  }

  /** Mark some notifications read, or all of them. */
  async markRead(
    caller: Caller,
    input: { ids?: string[] | undefined; all?: boolean | undefined },
  ): Promise<void> {
    const user = requirePerson(caller);
    const userId = new ObjectId(user.personId);
    if (input.all) {
      const head = await this.repo.head(user.personId);
      await this.repo.updateState(userId, { $max: { readUpTo: head } });
      return;
    }
    for (const id of input.ids ?? []) {
      // Only the reader's own notifications: the `_id` starts with their id.
      if (!id.startsWith(`${user.personId}:`)) throw new NotFoundError(msg`No notification ${id}.`);
      await this.repo.markRead(id);
    }
  }

  async setGroupLevel(caller: Caller, handle: string, level: GroupLevel) {
    const user = requirePerson(caller);
    const { group } = await this.groups.load(caller, handle, 'read');
    await this.setLevel(new ObjectId(user.personId), 'group', group._id, level);
    return { group: group.handle, level };
  }

  async setThreadLevel(caller: Caller, threadId: string, level: ThreadLevel) {
    const user = requirePerson(caller);
    const thread = await this.threads.postById('threads', new ObjectId(threadId));
    if (!thread) throw new NotFoundError(msg`No thread ${threadId}.`);
    await this.groups.loadById(caller, thread.groupId, 'read', msg`No thread ${threadId}.`);
    await this.setLevel(new ObjectId(user.personId), 'thread', thread._id, level);
    return { threadId, level };
  }

  async levels(caller: Caller, target: { group?: string; threadId?: string }) {
    const user = requirePerson(caller);
    const userId = new ObjectId(user.personId);
    if (target.group) {
      const { group } = await this.groups.load(caller, target.group, 'read');
      return {
        group: group.handle,
        level: ((await this.repo.level(userId, 'group', group._id))?.level ?? 'default') as GroupLevel,
      };
    }
    const thread = await this.threads.postById('threads', new ObjectId(target.threadId!));
    if (!thread) throw new NotFoundError(msg`No thread ${target.threadId}.`);
    await this.groups.loadById(caller, thread.groupId, 'read', msg`No thread ${target.threadId}.`);
    return {
      threadId: target.threadId!,
      level: ((await this.repo.level(userId, 'thread', thread._id))?.level ?? 'none') as ThreadLevel,
    };
  }

  private async setLevel(userId: ObjectId, kind: 'group' | 'thread', targetId: ObjectId, level: string) {
    await upsertOne(
      this.repo.subscriptions,
      { _id: subscriptionId(userId, kind, targetId) },
      { $set: { userId, kind, targetId, level: level as GroupLevel, updatedAt: new Date() } },
    );
    if (level === 'all') await this.repo.list(userId, kind, targetId);
  }

  async settings(caller: Caller) {
    const user = requirePerson(caller);
    const state = await this.repo.stateOf(new ObjectId(user.personId));
    return { email: state.email };
  }

  async setEmail(userId: ObjectId, email: EmailDelivery) {
    await this.repo.updateState(userId, { $set: { email } });
    return { email };
  }
}
