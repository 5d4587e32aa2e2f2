import type { Collection, Document, Filter, OptionalUnlessRequiredId, UpdateFilter } from 'mongodb';

/** MongoDB's (and FerretDB's) duplicate key error: an insert or upsert hit a unique index. */
export const DUPLICATE_KEY = 11000;

/** Whether an error is a duplicate key, the signal every "first writer wins" insert relies on. */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === DUPLICATE_KEY;
}

/**
 * `updateOne` with `upsert` on an `_id`: two writers racing to create the same document make one of them
 * fail with a duplicate key (on MongoDB and FerretDB alike); by then the document exists, so the update
 * is simply run again.
 */
export async function upsertOne<T extends Document>(
  collection: Collection<T>,
  filter: Filter<T>,
  update: UpdateFilter<T>,
): Promise<void> {
  try {
    await collection.updateOne(filter, update, { upsert: true });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    await collection.updateOne(filter, update, { upsert: true });
  }
}

/** Insert a document keyed by its `_id`, first writer wins: true if this call inserted it. */
export async function insertOnce<T extends Document>(
  collection: Collection<T>,
  doc: OptionalUnlessRequiredId<T>,
): Promise<boolean> {
  try {
    await collection.insertOne(doc);
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}
