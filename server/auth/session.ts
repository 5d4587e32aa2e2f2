import MongoStore from 'connect-mongo';
import session from 'express-session';
import type { RequestHandler } from 'express';
import type { Db, MongoClient } from 'mongodb';
import type { Config } from '../config.js';
import { collections } from '../db/collections.js';
import type { SessionTerminator } from '../people/account.service.js';

export const SESSION_COOKIE = 'ensemble.sid';

/**
 * Sessions live in the database (connect-mongo). Expired ones are swept on an interval, not by a TTL
 * index (FerretDB has none); sessions are stored as documents, not strings, so a person's sessions can
 * be found and ended at once.
 */
export function createSessionMiddleware(config: Config, client: MongoClient, db: Db) {
  const store = MongoStore.create({
    client,
    dbName: db.databaseName,
    collectionName: collections.sessions,
    stringify: false,
    autoRemove: 'interval',
    autoRemoveInterval: 10, // minutes
    ttl: Math.round(config.auth.sessionMaxAgeMs / 1000),
    // An unchanged session's expiry is written at most every five minutes, not on every request (the
    // cookie's own expiry, set at sign-in, is what ends a session).
    touchAfter: 300,
  });
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
  // connect-mongo's close() would also close the MongoClient, which is shared and closed by main.ts;
  // stop only its clean-up timer here.
  const close = async () => clearInterval((store as unknown as { timer?: NodeJS.Timeout }).timer);
  return { middleware, terminator, close };
}
