import { ObjectId } from 'mongodb';
import { requireParticipant, requirePerson, type Caller } from '../core/caller.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { GroupService } from '../groups/group.service.js';
import type { ReportDoc, ReportRepository } from './report.repository.js';
import type { ThreadRepository } from './thread.repository.js';
import type { ThreadService } from './thread.service.js';
import { msg } from '../core/messages.js';

/** Reports to a group's moderators, their queue, and their resolution. */
export class ReportService {
  private readonly repo: ThreadRepository;
  private readonly reports: ReportRepository;
  private readonly groups: GroupService;
  private readonly threads: ThreadService;
  private readonly events: EventBus | undefined;

  constructor(deps: {
    posts: ThreadRepository;
    reports: ReportRepository;
    groups: GroupService;
    threads: ThreadService;
    events?: EventBus;
  }) {
    this.repo = deps.posts;
    this.reports = deps.reports;
    this.groups = deps.groups;
    this.threads = deps.threads;
    this.events = deps.events;
  }

  /** Anyone signed in who can read a post can report it (a person of another node too, by a Flag). */
  async report(
    caller: Caller,
    kind: 'threads' | 'replies',
    id: string,
    reason: string,
  ): Promise<{ id: string }> {
    const user = requireParticipant(caller);
    const target = await this.repo.postById(kind, new ObjectId(id));
    const notFound = kind === 'threads' ? msg`No thread ${id}.` : msg`No reply ${id}.`;
    if (!target) throw new NotFoundError(notFound);
    await this.groups.loadById(caller, target.groupId, 'read', notFound);
    const report: ReportDoc = {
      _id: new ObjectId(),
      groupId: target.groupId,
      targetId: target._id,
      targetKind: kind === 'threads' ? 'thread' : 'reply',
      reporterId: new ObjectId(user.personId),
      reason,
      state: 'open',
      createdAt: new Date(),
      resolvedAt: null,
      resolvedBy: null,
      note: null,
    };
    await this.reports.insert(report);
    this.events?.emit('post.reported', {
      kind,
      id,
      groupId: target.groupId.toHexString(),
      byUserId: user.personId,
      reason,
    });
    return { id: report._id.toHexString() };
  }

  async queue(caller: Caller, groupHandle: string, state: ReportDoc['state']) {
    const ctx = await this.groups.load(caller, groupHandle, 'moderate');
    const rows = await this.reports.queue(ctx.group._id, state);
    return rows.map((r) => ({
      id: r._id.toHexString(),
      kind: r.targetKind,
      targetId: r.targetId.toHexString(),
      reason: r.reason,
      state: r.state,
      createdAt: r.createdAt.toISOString(),
      note: r.note,
    }));
  }

  /** Dismiss a report, or remove the reported post (a tombstone with the moderator's reason). */
  async resolve(
    caller: Caller,
    groupHandle: string,
    reportId: string,
    decision: 'dismiss' | 'remove',
    note: string,
  ): Promise<void> {
    const user = requirePerson(caller);
    const ctx = await this.groups.load(caller, groupHandle, 'moderate');
    const report = await this.reports.inGroup(ctx.group._id, new ObjectId(reportId));
    if (!report) throw new NotFoundError(msg`No report ${reportId}.`);
    if (report.state !== 'open') throw new ConflictError('This report is already resolved.');
    if (decision === 'remove') {
      await this.threads.remove(
        caller,
        report.targetKind === 'thread' ? 'threads' : 'replies',
        report.targetId.toHexString(),
        note || report.reason,
      );
    }
    await this.reports.resolve(report._id, {
      state: decision === 'remove' ? 'removed' : 'dismissed',
      resolvedAt: new Date(),
      resolvedBy: new ObjectId(user.personId),
      note,
    });
    await this.groups.audit(ctx, caller, `report.${decision === 'remove' ? 'removed' : 'dismissed'}`, null, {
      report: reportId,
      note,
    });
  }
}
