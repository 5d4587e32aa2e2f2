import { ferretdbBinary, startPrivateFerretDB, type PrivateFerretDB } from '../helpers/ferretdb.js';

/**
 * SQLite has one writer at a time. FerretDB's connections used to wait for the write lock in SQLite's busy
 * handler, asleep for 1, 2, 5, 10... ms between tries whatever the lock did meanwhile; the project's build
 * has its writers take turns in FerretDB's process, each woken as the one before commits
 * (docs/adr/0044-ferretdb-write-turns.md). With a busy timeout short enough that sleeping writers run out of
 * it, the sleeping build refuses writes under contention ("database is locked"); the project's build queues
 * them and takes every one.
 */
const bin = ferretdbBinary('patched');
(bin ? describe : describe.skip)('FerretDB write turns', () => {
  let f: PrivateFerretDB;
  beforeAll(async () => {
    f = await startPrivateFerretDB(bin!, { sqliteParams: ['_pragma=busy_timeout(20)'] });
  }, 120_000);
  afterAll(async () => {
    await f?.stop();
  });

  it('many writers at once on one database: every insert, update and delete is taken', async () => {
    const db = f.client.db('turns');
    const names = ['a', 'b', 'c', 'd'];
    for (const name of names) await db.collection(name).createIndex({ writer: 1 });
    const writers = 48;
    const each = 15;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const c = db.collection<{ writer: number; n: number; body: string; done?: boolean }>(names[w % 4]!);
        for (let n = 0; n < each; n++) {
          try {
            const { insertedId } = await c.insertOne({ writer: w, n, body: 'x'.repeat(2000) });
            await c.updateOne({ _id: insertedId }, { $set: { done: true } });
            if (n % 5 === 4) await c.deleteOne({ _id: insertedId });
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }),
    );
    expect(failures).toEqual([]);
    let kept = 0;
    for (const name of names) kept += await db.collection(name).countDocuments({ done: true });
    expect(kept).toBe(writers * (each - each / 5));
  }, 120_000);
});
