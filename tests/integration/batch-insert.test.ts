import { ObjectId } from 'mongodb';
import { BatchInserter } from '../../server/db/batch.insert.js';
import { BatchReader } from '../../server/db/batch.read.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('group-commit inserts', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase('batch');
  });
  afterAll(() => database.cleanup());

  it('tells each caller whether its own document went in; a bad or duplicate one fails only itself', async () => {
    const collection = database.db.collection<{ _id: string; v?: unknown }>('batch_probe');
    await collection.insertOne({ _id: 'taken' });
    const inserter = new BatchInserter(collection);
    const results = await Promise.allSettled([
      inserter.insert({ _id: 'a' }),
      inserter.insert({ _id: 'taken' }),
      // A key the driver refuses to serialise fails the whole command; the others still go in.
      inserter.insert({ _id: 'bad', v: { 'x\u0000y': 1 } }),
      inserter.insert({ _id: 'b' }),
      inserter.insert({ _id: 'c' }),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([
      true,
      false,
      'rejected',
      true,
      true,
    ]);
    expect((await collection.find({}).toArray()).map((d) => d._id).sort()).toEqual(['a', 'b', 'c', 'taken']);
  });

  it('reads by id together what was asked while a read was on its way; each caller its own copy, never older than its request', async () => {
    const collection = database.db.collection<{ _id: ObjectId; n: number; tags: string[] }>('batch_reads');
    const ids = [new ObjectId(), new ObjectId(), new ObjectId()];
    await collection.insertMany(ids.map((_id, n) => ({ _id, n, tags: [] })));
    const reader = new BatchReader(collection);
    const find = collection.find.bind(collection);
    let commands = 0;
    collection.find = ((...args: Parameters<typeof find>) => (commands++, find(...args))) as typeof find;
    const missing = new ObjectId();
    const [first, ...rest] = await Promise.all([
      reader.byId(ids[0]!),
      reader.byId(ids[1]!),
      reader.byId(ids[1]!),
      reader.byId(ids[2]!),
      reader.byId(missing),
    ]);
    // The first alone, the four that waited for it in one read.
    expect(commands).toBe(2);
    expect([first, ...rest].map((d) => d?.n ?? null)).toEqual([0, 1, 1, 2, null]);
    // Two callers of one id do not share a document (one's change is not the other's), ids stay ObjectIds.
    rest[0]!.tags.push('mine');
    expect(rest[1]!.tags).toEqual([]);
    expect(rest[1]!._id.equals(ids[1]!)).toBe(true);
    // A read asked after a write sees it, even while an earlier read is on its way.
    const before = reader.byId(ids[0]!);
    await collection.updateOne({ _id: ids[0]! }, { $set: { n: 10 } });
    const after = reader.byId(ids[0]!);
    await before;
    expect((await after)?.n).toBe(10);
  });
});
