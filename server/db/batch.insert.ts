import type { Collection, Document, OptionalUnlessRequiredId } from 'mongodb';
import { GroupCommit, type Outcome } from '../core/group.commit.js';
import { isDuplicateKey } from './errors.js';

/**
 * Inserts from concurrent requests, written together: what arrives while one `insertMany` is on its way goes
 * in the next (a group commit). Each caller learns whether its own document went in (false: its `_id` was
 * there already). On FerretDB one command of many documents costs little more than one of a single
 * document, so a busy inbox writes far fewer times.
 */
export class BatchInserter<T extends Document> {
  private readonly commits: GroupCommit<OptionalUnlessRequiredId<T>, boolean>;

  constructor(
    private readonly collection: Collection<T>,
    maxBatch = 200,
  ) {
    this.commits = new GroupCommit((docs) => this.write(docs), maxBatch);
  }

  insert(doc: OptionalUnlessRequiredId<T>): Promise<boolean> {
    return this.commits.submit(doc);
  }

  private async oneByOne(docs: OptionalUnlessRequiredId<T>[]): Promise<Outcome<boolean>[]> {
    const outcomes: Outcome<boolean>[] = [];
    for (const doc of docs) {
      try {
        await this.collection.insertOne(doc);
        outcomes.push({ ok: true });
      } catch (err) {
        outcomes.push(isDuplicateKey(err) ? { ok: false } : { error: err });
      }
    }
    return outcomes;
  }

  private async write(docs: OptionalUnlessRequiredId<T>[]): Promise<Outcome<boolean>[]> {
    // One document (a quiet moment): a plain insert, without the driver's bulk write around it.
    if (docs.length === 1) return this.oneByOne(docs);
    try {
      await this.collection.insertMany(docs, { ordered: false });
      return docs.map(() => ({ ok: true }));
    } catch (err) {
      const writeErrors = (
        err as { writeErrors?: { index: number; code?: number; err?: { code?: number } }[] }
      ).writeErrors;
      // The whole command failed (e.g. one document could not be serialised): each alone, so one bad
      // document fails only its own request.
      if (!writeErrors?.length) return this.oneByOne(docs);
      const failed = new Map(writeErrors.map((e) => [e.index, e]));
      return docs.map((_, i) => {
        const e = failed.get(i);
        if (!e) return { ok: true };
        return isDuplicateKey(e) || isDuplicateKey(e.err) ? { ok: false } : { error: err };
      });
    }
  }
}
