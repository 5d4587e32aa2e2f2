import type { ObjectId } from 'mongodb';

/**
 * The newest `limit` items of several lists, each already newest first by `_id` (ObjectIds grow with time):
 * how a page is put together from queries that an index serves one by one (docs/adr/0013).
 */
export function newestFirst<T extends { _id: ObjectId }>(lists: T[][], limit: number): T[] {
  const byId = new Map<string, T>();
  for (const item of lists.flat()) byId.set(item._id.toHexString(), item);
  return [...byId.values()]
    .sort((a, b) => (a._id.toHexString() < b._id.toHexString() ? 1 : -1))
    .slice(0, limit);
}

/** The same for lists each newest first by `createdAt` (ties: newest `_id` first). */
export function latestFirst<T extends { _id: ObjectId; createdAt: Date }>(lists: T[][], limit: number): T[] {
  const byId = new Map<string, T>();
  for (const item of lists.flat()) byId.set(item._id.toHexString(), item);
  return [...byId.values()]
    .sort(
      (a, b) =>
        b.createdAt.getTime() - a.createdAt.getTime() || (a._id.toHexString() < b._id.toHexString() ? 1 : -1),
    )
    .slice(0, limit);
}
