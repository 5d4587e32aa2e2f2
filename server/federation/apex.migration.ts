import type { Db, Document } from 'mongodb';
import { collections } from '../db/collections.js';
import { lookupFields } from './apex.store.js';

/**
 * Schema 7: stored activities get their top-level lookup fields (`_collections`, `_objects`), read
 * through their indexes, and the index on the dotted `_meta.collection` (which the embedded database
 * could not serve) goes.
 */
export async function migrateStreamLookups(db: Db): Promise<void> {
  const streams = db.collection<Document>(collections.apStreams);
  const cursor = streams.find({}, { projection: { _meta: 1, object: 1 } });
  for await (const doc of cursor) {
    await streams.updateOne({ _id: doc._id }, { $set: lookupFields(doc) });
  }
  await streams.dropIndex('collection').catch(() => undefined);
}
