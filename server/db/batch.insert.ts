import type { Collection, Document, OptionalUnlessRequiredId } from 'mongodb';
import { GroupCommit, type Outcome } from '../core/group.commit.js';
import { insertEach, insertOnce } from './errors.js';

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
        outcomes.push({ ok: await insertOnce(this.collection, doc) });
      } catch (err) {
        outcomes.push({ error: err });
      }
    }
    return outcomes;
  }

  private async write(docs: OptionalUnlessRequiredId<T>[]): Promise<Outcome<boolean>[]> {
    let outcomes;
    try {
      outcomes = await insertEach(this.collection, docs);
    } catch (err) {
      // The whole command failed (e.g. one document could not be serialised): each alone, so one bad
      // document fails only its own request.
      return docs.length === 1 ? [{ error: err }] : this.oneByOne(docs);
    }
    return outcomes.map((o) => (o === 'inserted' ? { ok: true } : o === 'duplicate' ? { ok: false } : o));
  }
}
