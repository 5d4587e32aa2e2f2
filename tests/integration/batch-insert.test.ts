import { BatchInserter } from '../../server/db/batch.insert.js';
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
});
