import { MongoClient, type Db } from 'mongodb';
import { sweepSessions } from '../../server/auth/session.js';
import { collections } from '../../server/db/collections.js';
import { bothBuilds, describeBothBuilds, type PrivateFerretDB } from '../helpers/ferretdb.js';

/**
 * An unacknowledged write (`w: 0`) is sent flagged moreToCome: the server must not answer it. FerretDB 1.24
 * did, the driver left that answer unread, and the next command on the connection read it as its own and
 * failed: a find got `{n, ok: 1}` ("cursor is missing", answered 503 "database is busy"); when that
 * command's own answer came apart, the command after it read that one (a read of one collection answered with
 * another's document). connect-mongo swept expired sessions that way every ten minutes
 * (docs/adr/0037-no-unacknowledged-writes.md).
 */

let databases = 0;

/** One connection, so every command follows the one before on it; a database of its own. */
async function oneConnection(f: PrivateFerretDB): Promise<{ client: MongoClient; db: Db }> {
  const client = new MongoClient(f.server.uri, { maxPoolSize: 1, serverSelectionTimeoutMS: 3000 });
  await client.connect();
  const db = client.db(`unacknowledged_${++databases}`);
  await db.collection('a').insertOne({ _id: 'a', is: 'a' } as never);
  await db.collection('b').insertOne({ _id: 'b', is: 'b' } as never);
  return { client, db };
}

/** What two reads of two collections answer after `write` ran on the same connection. */
async function readsAfter(db: Db, write: () => Promise<unknown>): Promise<string[]> {
  await write();
  const seen: string[] = [];
  for (const name of ['a', 'b']) {
    try {
      const doc = await db.collection<{ is: string }>(name).findOne({});
      seen.push(doc?.is ?? 'nothing');
    } catch (err) {
      seen.push((err as Error).message);
    }
  }
  return seen;
}

describeBothBuilds()('unacknowledged writes on FerretDB', () => {
  const builds = bothBuilds();

  it("the upstream build answers a w: 0 write, and the connection's next read fails on that answer", async () => {
    const { client, db } = await oneConnection(builds.upstream);
    try {
      const seen = await readsAfter(db, () =>
        db.collection('a').deleteMany({ is: 'nothing' }, { writeConcern: { w: 0 } }),
      );
      expect(seen[0]).toMatch(/cursor" is missing/);
      // The driver drops the connection after that failure, unless the first read's own answer came apart
      // from the delete's: then it waits there, and the read of `b` takes the read of `a`'s answer.
      expect(['b', 'a']).toContain(seen[1]);
    } finally {
      await client.close();
    }
  });

  it('the build Ensemble runs answers nothing to a w: 0 write, and each read gets its own answer', async () => {
    const { client, db } = await oneConnection(builds.patched);
    try {
      const seen = await readsAfter(db, () =>
        db.collection('a').deleteMany({ is: 'nothing' }, { writeConcern: { w: 0 } }),
      );
      expect(seen).toEqual(['a', 'b']);
      expect(await db.collection('a').countDocuments({})).toBe(1);
    } finally {
      await client.close();
    }
  });

  it("the session sweep removes expired sessions only, and leaves the connection in step even on upstream's build", async () => {
    const { client, db } = await oneConnection(builds.upstream);
    try {
      const sessions = db.collection(collections.sessions);
      await sessions.insertMany([
        { _id: 'old', expires: new Date(Date.now() - 60_000), session: {} },
        { _id: 'current', expires: new Date(Date.now() + 3_600_000), session: {} },
      ] as never[]);
      let removed = 0;
      const seen = await readsAfter(db, async () => (removed = await sweepSessions(db)));
      expect(removed).toBe(1);
      expect(seen).toEqual(['a', 'b']);
      expect((await sessions.find({}).toArray()).map((s) => s._id)).toEqual(['current']);
    } finally {
      await client.close();
    }
  });
});
