import type { JobQueue } from './job.queue.js';

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Payloads of one queue that are queued while its last job is on its way to the database go in the next job
 * together, as `{ items: [...] }` (at most `max` a job): a busy inbox's notifications become one job for
 * several posts instead of one each, where every job costs its insert, its claim, two reads of the queue, its
 * lease and its deletion (docs/adr/0041-gathered-notification-jobs.md). The handler runs the items in order
 * (`itemsOf`); a job run again runs them all again, so each must be idempotent, as every job's work is.
 */
export class JobGatherer<T extends object> {
  private queue: Pending<T>[] = [];
  private flushing = false;

  constructor(
    private readonly jobs: JobQueue,
    private readonly name: string,
    private readonly max = 50,
  ) {}

  /** Resolves once the job holding the item is stored. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.max);
        try {
          await this.jobs.enqueue(this.name, { items: batch.map((p) => p.item) });
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

/** The items of a gathered job, in the order they were queued (a job queued alone, before gathering, is one). */
export function itemsOf<T>(payload: Record<string, unknown>): T[] {
  return Array.isArray(payload.items) ? (payload.items as T[]) : [payload as T];
}
