import { collectionSpecs, collections, ensureCollections } from '../../server/db/collections.js';
import { describeServer } from '../../server/db/client.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

describe('collections and indexes', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase('indexes');
  });
  afterAll(() => t.cleanup());

  it('creates every declared collection and index at boot', async () => {
    await ensureCollections(t.db);
    const names = (await t.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    for (const spec of collectionSpecs) {
      expect(names).toContain(spec.name);
      const indexes = await t.db.collection(spec.name).indexes();
      for (const wanted of spec.indexes) {
        const found = indexes.find((i) => i.name === wanted.name);
        expect(found).toBeDefined();
        expect(found!.key).toEqual(wanted.key);
        expect(Boolean(found!.unique)).toBe(Boolean(wanted.unique));
      }
    }
  });

  it('enforces unique indexes: a person is one (issuer, sub)', async () => {
    await ensureCollections(t.db);
    const identities = t.db.collection(collections.identities);
    await identities.insertOne({ issuer: 'https://idp.a', sub: '1', userId: 'u1' });
    await expect(
      identities.insertOne({ issuer: 'https://idp.a', sub: '1', userId: 'u2' }),
    ).rejects.toMatchObject({
      code: 11000,
    });
    // Same sub at another issuer is another person.
    await identities.insertOne({ issuer: 'https://idp.b', sub: '1', userId: 'u3' });
    expect(await identities.countDocuments()).toBe(2);
  });

  it('booting twice on the same data is harmless and keeps what was there', async () => {
    await ensureCollections(t.db);
    const meta = await t.db.collection<{ _id: string }>(collections.meta).findOne({ _id: 'node' });
    const before = await t.db.collection(collections.identities).indexes();
    await ensureCollections(t.db);
    await Promise.all([ensureCollections(t.db), ensureCollections(t.db)]); // two processes booting at once
    expect(await t.db.collection(collections.identities).indexes()).toEqual(before);
    const metaAfter = await t.db.collection<{ _id: string }>(collections.meta).findOne({ _id: 'node' });
    expect(metaAfter).toEqual(meta);
    expect(await t.db.collection(collections.identities).countDocuments()).toBe(2);
  });

  it('stops with a clear message when an index name exists with another definition', async () => {
    await t.db.collection('legacy').createIndex({ other: 1 }, { name: 'by_slug' });
    const specs = [
      { name: 'legacy', indexes: [{ name: 'by_slug', key: { slug: 1 as const }, unique: true }] },
    ];
    await expect(ensureCollections(t.db, undefined, specs)).rejects.toThrow(
      'Index legacy.by_slug exists with another definition ({"other":1}); drop it to let Ensemble recreate it.',
    );
  });

  it('talks to a real server that reports its version', async () => {
    const identity = await describeServer(t.db);
    expect(['MongoDB', 'FerretDB']).toContain(identity.product);
    expect(identity.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('serves an _id lookup from the _id index, the one read every page is built from (ADR 0006)', async () => {
    const sample = t.db.collection<{ _id: string; n: number }>('id_lookup');
    await sample.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `key:${n}`, n })));
    const plan = JSON.stringify(await sample.find({ _id: 'key:7' }).explain());
    if ((await describeServer(t.db)).product === 'FerretDB') {
      // FerretDB reports SQLite's own query plan: a SEARCH on the index, not a SCAN of the table.
      expect(plan).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
      expect(plan).not.toMatch(/detail=SCAN/);
    } else {
      expect(plan).toMatch(/IDHACK|IXSCAN/);
    }
    expect(await sample.findOne({ _id: 'key:7' })).toEqual({ _id: 'key:7', n: 7 });
  });

  it('looks an _id up by index when the filter holds other conditions too, and still applies them (ADR 0013)', async () => {
    const sample = t.db.collection<{ _id: string; n: number; state: string }>('id_with_conditions');
    await sample.insertMany(
      Array.from({ length: 50 }, (_, n) => ({ _id: `key:${n}`, n, state: n % 2 ? 'odd' : 'even' })),
    );
    const plan = JSON.stringify(await sample.find({ _id: 'key:8', state: 'even' }).explain());
    if ((await describeServer(t.db)).product === 'FerretDB') {
      expect(plan).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
      expect(plan).not.toMatch(/detail=SCAN/);
    } else {
      expect(plan).toMatch(/IDHACK|IXSCAN/);
    }
    // The other conditions still decide: a found _id that fails them is neither read nor written.
    expect(await sample.findOne({ _id: 'key:8', state: 'odd' })).toBeNull();
    expect((await sample.deleteOne({ _id: 'key:8', state: 'odd' })).deletedCount).toBe(0);
    expect((await sample.updateOne({ _id: 'key:8', n: { $gt: 8 } }, { $set: { n: 0 } })).matchedCount).toBe(
      0,
    );
    expect(await sample.countDocuments({ _id: 'key:8', state: 'even' })).toBe(1);
    expect((await sample.deleteOne({ _id: 'key:8', state: 'even' })).deletedCount).toBe(1);
    expect(await sample.countDocuments({})).toBe(49);
  });
});
