import { ferretdbBinary, startPrivateFerretDB, type PrivateFerretDB } from '../helpers/ferretdb.js';

/**
 * Commands that send FerretDB no filter at all: `count` with no query (what estimatedDocumentCount sends),
 * `aggregate` whose first stage is not `$match`, `distinct` with no query. ADR 0012's patch dereferenced the
 * missing filter: the connection died, and at the next garbage collection FerretDB's leak check panicked
 * and the whole server exited (docs/adr/0013-index-served-filters.md).
 */
const bin = ferretdbBinary('patched');
const describeBuild = bin ? describe : describe.skip;

describeBuild('the FerretDB the project builds', () => {
  let f: PrivateFerretDB;
  beforeAll(async () => {
    f = await startPrivateFerretDB(bin!);
  });
  afterAll(() => f?.stop());

  it('answers commands without a filter, and is still up after its garbage is collected', async () => {
    const c = f.client.db('nofilter').collection<{ _id: string; n: number; tag: string }>('items');
    await c.insertMany([
      { _id: 'a', n: 1, tag: 'x' },
      { _id: 'b', n: 2, tag: 'y' },
      { _id: 'c', n: 3, tag: 'x' },
    ]);
    expect(await c.estimatedDocumentCount()).toBe(3);
    expect(await f.client.db('nofilter').command({ count: 'items' })).toMatchObject({ n: 3 });
    expect((await c.aggregate([{ $sort: { n: -1 } }, { $limit: 2 }]).toArray()).map((d) => d._id)).toEqual([
      'c',
      'b',
    ]);
    expect(
      await c
        .aggregate([{ $group: { _id: '$tag', total: { $sum: '$n' } } }, { $sort: { _id: 1 } }])
        .toArray(),
    ).toEqual([
      { _id: 'x', total: 4 },
      { _id: 'y', total: 2 },
    ]);
    expect((await c.distinct('tag')).sort()).toEqual(['x', 'y']);
    expect(await c.countDocuments()).toBe(3);
    // The leak check runs in finalizers: collect twice, give it a moment, and the server must still answer.
    await f.collectGarbage();
    await new Promise((r) => setTimeout(r, 1000));
    await f.collectGarbage();
    await new Promise((r) => setTimeout(r, 1000));
    expect(await f.client.db('nofilter').command({ ping: 1 })).toMatchObject({ ok: 1 });
    expect(await c.countDocuments({ tag: 'x' })).toBe(2);
  });

  it('keeps every write while indexes with array side tables are made under load (no SQLITE_BUSY)', async () => {
    for (let round = 0; round < 5; round++) {
      const c = f.client.db('busy').collection<{ _id: number; tags: string[]; n: number }>(`items${round}`);
      await c.createIndex({ tags: 1 }, { name: 'tags' });
      await c.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, tags: ['a', `t${i}`], n: 0 })));
      const writes = Array.from({ length: 60 }, (_, i) =>
        i % 2
          ? c.updateOne({ _id: i % 20 }, { $set: { n: i, tags: ['b', `t${i}`] } })
          : c.insertOne({ _id: 100 + i, tags: ['c', `t${i}`], n: i }),
      );
      // Index creation (schema changes) while the writes run, as GridFS does on a first upload.
      const ddl = (async () => {
        for (let i = 0; i < 6; i++) await c.createIndex({ [`f${i}`]: 1 }, { name: `f${i}` });
      })();
      const results = await Promise.allSettled([...writes, ddl]);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(await c.countDocuments({ tags: 'c' })).toBe(30);
    }
  });
});
