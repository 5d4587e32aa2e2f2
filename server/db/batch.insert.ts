import type { Collection, Document, OptionalUnlessRequiredId } from 'mongodb';
import { isDuplicateKey } from './errors.js';

interface Pending<T> {
  doc: OptionalUnlessRequiredId<T>;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * Inserts from concurrent requests, written together: what arrives while one `insertMany` is on its way goes
 * in the next (a group commit). Each caller learns whether its own document went in (false: its `_id` was
 * there already). On FerretDB one command of many documents costs little more than one of a single
 * document, so a busy inbox writes far fewer times.
 */
export class BatchInserter<T extends Document> {
  private queue: Pending<T>[] = [];
  private flushing = false;

  constructor(
    private readonly collection: Collection<T>,
    private readonly maxBatch = 200,
  ) {}

  insert(doc: OptionalUnlessRequiredId<T>): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ doc, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async oneByOne(batch: Pending<T>[]): Promise<void> {
    for (const p of batch) {
      try {
        await this.collection.insertOne(p.doc);
        p.resolve(true);
      } catch (err) {
        if (isDuplicateKey(err)) p.resolve(false);
        else p.reject(err);
      }
    }
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      await this.drain();
    } finally {
      this.flushing = false;
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        await this.collection.insertMany(
          batch.map((p) => p.doc),
          { ordered: false },
        );
        for (const p of batch) p.resolve(true);
      } catch (err) {
        const writeErrors = (
          err as { writeErrors?: { index: number; code?: number; err?: { code?: number } }[] }
        ).writeErrors;
        if (!writeErrors?.length) {
          // The whole command failed (e.g. one document could not be serialised): each alone, so one bad
          // document fails only its own request.
          await this.oneByOne(batch);
          continue;
        }
        const failed = new Map(writeErrors.map((e) => [e.index, e]));
        batch.forEach((p, i) => {
          const e = failed.get(i);
          if (!e) p.resolve(true);
          else if (isDuplicateKey(e) || isDuplicateKey(e.err)) p.resolve(false);
          else p.reject(err);
        });
      }
    }
  }
}
