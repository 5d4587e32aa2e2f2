import MongoStore from 'connect-mongo';
import session from 'express-session';
import type { RequestHandler } from 'express';
import type { Db, MongoClient } from 'mongodb';
import type { Config } from '../config.js';
import { collections } from '../db/collections.js';
import type { SessionTerminator } from '../people/account.service.js';

export const SESSION_COOKIE = 'ensemble.sid';

/**
 * connect-mongo reads a session with `{_id, $or: [no expiry, expiry in the future]}`. FerretDB 1.24 serves
 * only a bare `{_id}` filter from an index and scans the whole collection for anything else: 305 ms a
 * request at 20,000 sessions. This store reads by `_id` alone and checks the expiry itself, so a request's
 * session read costs the same however many people are signed in.
 */
export class SessionStore extends MongoStore {
  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    this.collectionP
      .then((sessions) => sessions.findOne({ _id: sid }))
      .then((doc) => {
        if (!doc || (doc.expires && doc.expires.getTime() <= Date.now())) return callback(null, null);
        const found = doc.session as session.SessionData & { lastModified?: Date };
        if (doc.lastModified) found.lastModified = doc.lastModified;
        this.emit('get', sid);
        callback(null, found);
      }, callback);
  }
}

/** How often expired sessions are removed. */
export const SESSION_SWEEP_MS = 10 * 60_000;

/**
 * Sessions live in the database (connect-mongo, read by `SessionStore`); sessions are stored as documents,
 * not strings, so a person's sessions can be found and ended at once. Expired ones are removed by
 * `sweepSessions` on an interval, not by a TTL index (FerretDB has none), and not by connect-mongo's own
 * interval: that one deletes with `w: 0`, an unacknowledged write, which FerretDB 1.24 answers anyway; the
 * driver leaves the answer unread, and every later command on that connection read the answer of the one
 * before (docs/adr/0037-no-unacknowledged-writes.md).
 */
export function createSessionStore(client: MongoClient, dbName: string, ttlSeconds: number): SessionStore {
  return new SessionStore({
    client,
    dbName,
    collectionName: collections.sessions,
    stringify: false,
    autoRemove: 'disabled',
    ttl: ttlSeconds,
    // An unchanged session's expiry is written at most every five minutes, not on every request (the
    // cookie's own expiry, set at sign-in, is what ends a session).
    touchAfter: 300,
  });
}

export function createSessionMiddleware(config: Config, client: MongoClient, db: Db) {
  const store = createSessionStore(client, db.databaseName, Math.round(config.auth.sessionMaxAgeMs / 1000));
  const middleware: RequestHandler = session({
    name: SESSION_COOKIE,
    secret: config.auth.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    proxy: config.trustProxy !== false,
    cookie: {
      httpOnly: true,
      sameSite: 'lax', // sent on the top-level redirect back from the identity provider
      secure: config.auth.secureCookies,
      maxAge: config.auth.sessionMaxAgeMs,
      path: '/',
    },
  });
  const terminator: SessionTerminator = {
    async endSessionsOf(userId: string) {
      const result = await db
        .collection(collections.sessions)
        .deleteMany({ 'session.passport.user': userId });
      return result.deletedCount;
    },
  };
  /** Whether a stored session is still current for this person (not signed out, not expired). */
  const isCurrent = (sessionId: string, userId: string | null): Promise<boolean> =>
    new Promise((resolve, reject) =>
      store.get(sessionId, (err, found) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        const passport = (found as { passport?: { user?: string } } | null | undefined)?.passport;
        resolve(Boolean(found) && (passport?.user ?? null) === userId);
      }),
    );
  // connect-mongo's close() would also close the MongoClient, which is shared and closed by main.ts.
  let timer: NodeJS.Timeout | undefined;
  const sweep = () => sweepSessions(db);
  return {
    middleware,
    terminator,
    isCurrent,
    sweep,
    start() {
      timer ??= setInterval(() => void sweep().catch(() => undefined), SESSION_SWEEP_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

/** Remove expired sessions, acknowledged (the `expires` index); how many went. */
export async function sweepSessions(db: Db): Promise<number> {
  const result = await db.collection(collections.sessions).deleteMany({ expires: { $lt: new Date() } });
  return result.deletedCount;
}
