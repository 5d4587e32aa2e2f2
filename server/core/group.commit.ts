/** What one item of a batch came to: its result, or the error that refused it alone. */
export type Outcome<R> = { ok: R } | { error: unknown };

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Items submitted while a batch is on its way go together in the next (a group commit, at most `max` a
 * batch): concurrent writers share one write instead of one each. `write` tells each item's outcome, or
 * throws to refuse the whole batch. Used for inserts (`BatchInserter`) and for gathered jobs (`JobGatherer`).
 */
export class GroupCommit<T, R> {
  private queue: Pending<T, R>[] = [];
  private flushing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<Outcome<R>[]>,
    private readonly max: number,
  ) {}

  /** Resolves with the item's result once the batch holding it is written. */
  submit(item: T): Promise<R> {
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
        let outcomes: Outcome<R>[];
        try {
          outcomes = await this.write(batch.map((p) => p.item));
        } catch (err) {
          for (const p of batch) p.reject(err);
          continue;
        }
        batch.forEach((p, i) => {
          const outcome = outcomes[i]!;
          if ('error' in outcome) p.reject(outcome.error);
          else p.resolve(outcome.ok);
        });
      }
    } finally {
      this.flushing = false;
    }
  }
}
