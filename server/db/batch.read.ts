import { BSON, type Collection, type Document, type Filter, type ObjectId } from 'mongodb';

interface Waiting<T> {
  id: string | ObjectId;
  waiters: { resolve: (doc: T | null) => void; reject: (err: unknown) => void }[];
}

/**
 * Reads by `_id` from concurrent requests, sent together: what is asked while one read is on its way goes in
 * the next (`_id` `$in`, index-served: ADR 0013), each id once. Like BatchInserter's group commit, a read
 * always starts after it was asked, so no caller gets a document older than its request (ADR 0031). Each
 * caller gets its own copy of the document.
 */
export class BatchReader<T extends Document> {
  private queue = new Map<string, Waiting<T>>();
  private flushing = false;

  constructor(
    private readonly collection: Collection<T>,
    private readonly maxBatch = 200,
  ) {}

  byId(id: string | ObjectId): Promise<T | null> {
    return new Promise((resolve, reject) => {
      const key = String(id);
      let entry = this.queue.get(key);
      if (!entry) this.queue.set(key, (entry = { id, waiters: [] }));
      entry.waiters.push({ resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.size) {
        const batch = [...this.queue.values()].slice(0, this.maxBatch);
        for (const e of batch) this.queue.delete(String(e.id));
        try {
          const filter =
            batch.length === 1 ? { _id: batch[0]!.id } : { _id: { $in: batch.map((e) => e.id) } };
          const docs = await this.collection.find(filter as Filter<T>).toArray();
          const found = new Map(docs.map((d) => [String(d._id), d]));
          for (const e of batch) {
            const doc = found.get(String(e.id)) ?? null;
            e.waiters.forEach((w, i) =>
              w.resolve(doc && i > 0 ? (BSON.deserialize(BSON.serialize(doc)) as T) : (doc as T | null)),
            );
          }
        } catch (err) {
          for (const e of batch) for (const w of e.waiters) w.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
