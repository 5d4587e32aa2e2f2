import { ferretdbBinary, startPrivateFerretDB, type PrivateFerretDB } from '../helpers/ferretdb.js';

/**
 * SQLite has one writer at a time, and a connection that finds the write lock taken waits in its busy
 * handler. SQLite's default sleeps 1, 2, 5, 10... ms between tries whatever the lock does meanwhile; the
 * project's build tries again after 50 µs, growing to 1 ms (docs/adr/0043-sqlite-busy-wait.md). With a busy
 * timeout short enough that the default's few tries run out of it while other writers keep the lock busy,
 * the default refuses writes under contention ("database is locked"); the project's build, trying often
 * within the same timeout, takes every one. 24 writers and 50 ms (measured 2026-12-07, three copies of this
 * file at once on two cores): the build without the patch failed three runs of three, the project's build
 * passed six of six. The 8 writers and 20 ms used before no longer made the build without the patch fail
 * (two runs of two passed), and the project's build failed once under the full suite's load.
 */
const bin = ferretdbBinary('patched');
(bin ? describe : describe.skip)("SQLite busy wait in the project's FerretDB build", () => {
  let f: PrivateFerretDB;
  beforeAll(async () => {
    f = await startPrivateFerretDB(bin!, { sqliteParams: ['_pragma=busy_timeout(50)'] });
  }, 120_000);
  afterAll(async () => {
    await f?.stop();
  });

  it('many writers at once on one database: every insert, update and delete is taken', async () => {
    const db = f.client.db('busy');
    const names = ['a', 'b', 'c', 'd'];
    for (const name of names) await db.collection(name).createIndex({ writer: 1 });
    const writers = 24;
    const each = 30;
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
