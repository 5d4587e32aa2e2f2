import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MongoClient, type Collection } from 'mongodb';
import pino from 'pino';
import { startFerretDB } from '../../server/db/ferretdb.process.js';
import { ferretdbBinary, startPrivateFerretDB, type PrivateFerretDB } from '../helpers/ferretdb.js';

/**
 * The array side tables of the FerretDB the project builds (docs/adr/0013-index-served-filters.md,
 * scripts/ferretdb/ensemble_multikey.go) are written by triggers in the same transaction as each write. A
 * thread's search tokens are an array, and every reply's bookkeeping updates the thread (its reply count): the
 * update trigger rewrote the tokens' FTS5 entry each time, changed or not. It now does so only when the array
 * changed (docs/adr/0047-array-index-updates.md). Read here in the SQLite file itself (the sqlite3 shell): the
 * side table's own storage stays as it was while only other fields change, and finds follow the array when it
 * changes.
 */
const bin = ferretdbBinary('patched');
const sqlite3 = (() => {
  try {
    execFileSync('sqlite3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
(bin && sqlite3 ? describe : describe.skip)('updates of documents with an indexed array', () => {
  let f: PrivateFerretDB;
  let threads: Collection<{ _id: string; searchTokens: string[]; replyCount: number }>;
  const file = () => path.join(f.dataDir, 'sqlite', 'arrays.sqlite');
  const sql = (query: string) => execFileSync('sqlite3', [file(), query], { encoding: 'utf8' }).trim();
  /** The FTS5 side table of `threads.searchTokens`, by the name FerretDB gave the collection's table. */
  const side = () =>
    sql(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%_mk_searchTokens'`);
  /** Everything the side table has stored (FTS5 keeps its index in `<side>_data`). */
  const stored = () =>
    sql(
      `SELECT count(*) || ':' || ifnull(sum(length(block)), 0) || ':' || ifnull(group_concat(hex(block)), '') FROM "${side()}_data"`,
    );
  const tokens = async (word: string) =>
    (await threads.find({ searchTokens: word }).toArray()).map((t) => t._id).sort();

  beforeAll(async () => {
    f = await startPrivateFerretDB(bin!);
    threads = f.client.db('arrays').collection('threads');
    await threads.createIndex({ searchTokens: 1 }, { name: 'searchTokens' });
    await threads.insertMany([
      { _id: 'budget', searchTokens: ['budget', 'review'], replyCount: 0 },
      { _id: 'roads', searchTokens: ['roads', 'review'], replyCount: 0 },
    ]);
    expect(fs.existsSync(file())).toBe(true);
  }, 120_000);
  afterAll(async () => {
    await f?.stop();
  });

  it('leaves the array index alone while other fields change', async () => {
    const before = stored();
    for (let i = 1; i <= 20; i++) await threads.updateOne({ _id: 'budget' }, { $set: { replyCount: i } });
    expect(stored()).toBe(before);
    expect(await tokens('review')).toEqual(['budget', 'roads']);
    expect((await threads.findOne({ _id: 'budget' }))?.replyCount).toBe(20);
  });

  it('follows the array when it changes, and when it goes or comes back', async () => {
    const before = stored();
    await threads.updateOne({ _id: 'budget' }, { $set: { searchTokens: ['budget', 'forecast'] } });
    expect(stored()).not.toBe(before);
    expect(await tokens('forecast')).toEqual(['budget']);
    expect(await tokens('review')).toEqual(['roads']);
    // No longer an array (a scalar is served by the collection's own index), then an array again.
    await threads.updateOne({ _id: 'budget' }, { $set: { searchTokens: 'forecast' as never } });
    expect(await tokens('forecast')).toEqual(['budget']);
    await threads.updateOne({ _id: 'budget' }, { $set: { searchTokens: ['review'] } });
    expect(await tokens('review')).toEqual(['budget', 'roads']);
    expect(await tokens('forecast')).toEqual([]);
  });

  it('replaces the update trigger of a side table an earlier build made, when the database is opened', async () => {
    const table = side();
    const triggers = () =>
      sql(
        `SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '${table}%' ORDER BY name)`,
      );
    expect(triggers()).toBe(`${table}_c ${table}_d ${table}_i`);
    // As an earlier build left it: its update trigger named `_u` (here one that does nothing).
    await f.server.stop();
    sql(
      `DROP TRIGGER "${table}_c"; CREATE TRIGGER "${table}_u" AFTER UPDATE ON "${table.replace(/_mk_searchTokens$/, '')}" BEGIN SELECT 1; END;`,
    );
    expect(triggers()).toBe(`${table}_d ${table}_i ${table}_u`);
    const server = await startFerretDB({ bin: bin!, dataDir: f.dataDir, logger: pino({ level: 'silent' }) });
    const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 3000 });
    try {
      const reopened = client.db('arrays').collection<{ _id: string; searchTokens: string[] }>('threads');
      await reopened.updateOne({ _id: 'roads' }, { $set: { searchTokens: ['roads', 'winter'] } });
      expect(triggers()).toBe(`${table}_c ${table}_d ${table}_i`);
      expect((await reopened.find({ searchTokens: 'winter' }).toArray()).map((t) => t._id)).toEqual([
        'roads',
      ]);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
