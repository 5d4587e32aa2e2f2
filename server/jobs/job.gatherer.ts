import { GroupCommit } from '../core/group.commit.js';
import type { JobQueue } from './job.queue.js';

/**
 * Payloads of one queue that are queued while its last job is on its way to the database go in the next job
 * together, as `{ items: [...] }` (at most `max` a job): a busy inbox's notifications become one job for
 * several posts instead of one each, where every job costs its insert, its claim, two reads of the queue, its
 * lease and its deletion (docs/adr/0041-gathered-notification-jobs.md). The handler runs the items in order
 * (`itemsOf`); a job run again runs them all again, so each must be idempotent, as every job's work is.
 */
export class JobGatherer<T extends object> {
  private readonly commits: GroupCommit<T, void>;

  constructor(jobs: JobQueue, name: string, max = 50) {
    this.commits = new GroupCommit<T, void>(async (items) => {
      await jobs.enqueue(name, { items });
      return items.map(() => ({ ok: undefined }));
    }, max);
  }

  /** Resolves once the job holding the item is stored. */
  add(item: T): Promise<void> {
    return this.commits.submit(item);
  }
}

/** The items of a gathered job, in the order they were queued (a job queued alone, before gathering, is one). */
export function itemsOf<T>(payload: Record<string, unknown>): T[] {
  return Array.isArray(payload.items) ? (payload.items as T[]) : [payload as T];
}
