import { MongoClient, type Document } from 'mongodb';
import { createSessionStore, type SessionStore } from '../../server/auth/session.js';
import { RecordCache } from '../../server/cache/record.cache.js';
import { describeServer } from '../../server/db/client.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

/** The session store as every request uses it: one read by `_id`, expiry checked, at any number of sessions. */
describe('session store', () => {
  let t: TestDatabase;
  let client: MongoClient;
  let store: SessionStore;
  const finds: Document[] = [];
  beforeAll(async () => {
    t = await openTestDatabase('sessions');
    client = new MongoClient(t.uri, { monitorCommands: true });
    await client.connect();
    client.on('commandStarted', (e) => {
      if (e.commandName === 'find' && e.command.find === 'sessions') finds.push(e.command.filter as Document);
    });
    store = createSessionStore(client, t.name, 3600);
    const day = 24 * 3600 * 1000;
    await t.db.collection<{ _id: string; expires?: Date; session: unknown }>('sessions').insertMany([
      { _id: 'valid', expires: new Date(Date.now() + day), session: { cookie: {}, passport: { user: 'a' } } },
      {
        _id: 'expired',
        expires: new Date(Date.now() - 1000),
        session: { cookie: {}, passport: { user: 'b' } },
      },
      { _id: 'open-ended', session: { cookie: {}, passport: { user: 'c' } } },
      // Many other people signed in: a read must not depend on them.
      ...Array.from({ length: 2000 }, (_, i) => ({
        _id: `other-${i}`,
        expires: new Date(Date.now() + day),
        session: { cookie: {}, passport: { user: `u${i}` } },
      })),
    ]);
  });
  afterAll(async () => {
    clearInterval((store as unknown as { timer?: NodeJS.Timeout }).timer);
    await client.close();
    await t.cleanup();
  });
  const get = (sid: string) =>
    new Promise<unknown>((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));

  it('answers a live session, and nothing for an expired or unknown one (that person is signed out)', async () => {
    expect(await get('valid')).toMatchObject({ passport: { user: 'a' } });
    expect(await get('open-ended')).toMatchObject({ passport: { user: 'c' } });
    expect(await get('expired')).toBeNull();
    expect(await get('nobody')).toBeNull();
  });

  it('reads by _id alone, which the server answers from its index (no scan of every session)', async () => {
    finds.length = 0;
    await get('valid');
    expect(finds).toEqual([{ _id: 'valid' }]);
    const plan = JSON.stringify(await t.db.collection('sessions').find(finds[0]!).explain());
    if ((await describeServer(t.db)).product === 'FerretDB') {
      expect(plan).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
      expect(plan).not.toMatch(/detail=SCAN/);
      // What connect-mongo itself sends ({_id, $or: [...]}) is looked up by _id too since ADR 0012 (now 0013)'s
      // patch; a FerretDB built without it scans the whole collection for it (ADR 0011).
      const stock = JSON.stringify(
        await t.db
          .collection('sessions')
          .find({
            _id: 'valid',
            $or: [{ expires: { $exists: false } }, { expires: { $gt: new Date() } }],
          } as never)
          .explain(),
      );
      expect(stock).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
    } else {
      expect(plan).toMatch(/IDHACK|IXSCAN|EXPRESS/);
    }
  });

  // docs/adr/0038-kept-sessions.md
  it('keeps a session read once, hands each request its own copy, and reads it again once written', async () => {
    const kept = createSessionStore(
      client,
      t.name,
      3600,
      new RecordCache({ enabled: true, maxBytes: 1 << 20 }),
    );
    const read = (sid: string) =>
      new Promise<Record<string, unknown> | null | undefined>((resolve, reject) =>
        kept.get(sid, (err, s) => (err ? reject(err) : resolve(s as unknown as Record<string, unknown>))),
      );
    finds.length = 0;
    const first = await read('valid');
    first!.changed = true; // what express-session does to the session it is handed
    expect(await read('valid')).toEqual({ cookie: {}, passport: { user: 'a' } });
    expect(finds).toHaveLength(1);
    await new Promise<void>((resolve, reject) =>
      kept.set('valid', { cookie: {}, passport: { user: 'z' } } as never, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    expect(await read('valid')).toMatchObject({ passport: { user: 'z' } });
    await new Promise<void>((resolve) => kept.destroy('valid', () => resolve()));
    expect(await read('valid')).toBeNull();
    expect(finds).toHaveLength(3);
  });
});
