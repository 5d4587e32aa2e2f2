import MongoStore from 'connect-mongo';
import session from 'express-session';
import type { RequestHandler } from 'express';
import type { Db, MongoClient } from 'mongodb';
import type { Peers } from '../cache/hearing.js';
import { RecordCache, roughBytes } from '../cache/record.cache.js';
import type { Config } from '../config.js';
import { collections } from '../db/collections.js';
import type { SessionTerminator } from '../people/account.service.js';

export const SESSION_COOKIE = 'ensemble.sid';

/** What the node's other processes hear of kept sessions (docs/adr/0038-kept-sessions.md). */
export const SESSION_PEER_EVENT = 'session-cache:invalidate';

/** The keys of kept sessions: a session, and the tag every session of one person carries. */
export const sessionKeys = {
  session: (sid: string) => `session:${sid}`,
  person: (personId: string) => `person:${personId}`,
};

/** connect-mongo writes an unchanged session's expiry at most this often (`touchAfter`, seconds). */
const TOUCH_AFTER_S = 300;

/** The node's other processes, and a way to wait until what was sent them is in Redis. */
export interface SessionPeers extends Peers {
  /** Resolves once everything sent with `toPeers` so far is in Redis (at once without it). */
  peersReached(): Promise<void>;
}

type StoredSession = session.SessionData & { lastModified?: Date; passport?: { user?: unknown } };

interface KeptSession {
  session: StoredSession;
  /** The stored expiry (ms), compared on every use; null: none stored. */
  expires: number | null;
}

const noop = () => undefined;

/**
 * connect-mongo reads a session with `{_id, $or: [no expiry, expiry in the future]}`. FerretDB 1.24 serves
 * only a bare `{_id}` filter from an index and scans the whole collection for anything else: 305 ms a
 * request at 20,000 sessions. This store reads by `_id` alone and checks the expiry itself, so a request's
 * session read costs the same however many people are signed in.
 *
 * A session read once is kept in the process (docs/adr/0038-kept-sessions.md), and dropped here and in the
 * node's other processes the moment it is written (`set`, `destroy`, a `touch` that writes) or its person's
 * sessions are ended (`endSessions`); its stored expiry is compared on every use. The write is answered
 * only once its drop is in Redis.
 */
export class SessionStore extends MongoStore {
  private kept: RecordCache | undefined;
  private reached: () => Promise<void> = () => Promise.resolve();

  /** Keep sessions in `cache` (its drops go to the other processes once `follow` is called). */
  keepIn(cache: RecordCache): void {
    this.kept = cache;
  }

  /**
   * Tell the node's other processes of every write, hear theirs (`forgetPerson` is told of each person whose
   * sessions were ended elsewhere), and keep nothing while they cannot be heard.
   */
  follow(peers: SessionPeers, forgetPerson: (personId: string) => void): void {
    this.kept?.follow(peers);
    this.reached = () => peers.peersReached();
    const prefix = sessionKeys.person('');
    peers.onPeers(SESSION_PEER_EVENT, (payload) => {
      if (!Array.isArray(payload)) return;
      for (const key of payload)
        if (typeof key === 'string' && key.startsWith(prefix)) forgetPerson(key.slice(prefix.length));
    });
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    const key = sessionKeys.session(sid);
    const kept = this.kept?.get<KeptSession>(key);
    if (kept) {
      if (kept.expires !== null && kept.expires <= Date.now()) return callback(null, null);
      this.emit('get', sid);
      // express-session changes the session it is handed: each request gets its own copy.
      return callback(null, structuredClone(kept.session));
    }
    const ticket = this.kept?.ticket() ?? 0;
    this.collectionP
      .then((sessions) => sessions.findOne({ _id: sid }))
      .then((doc) => {
        const expires = doc?.expires instanceof Date ? doc.expires.getTime() : null;
        if (!doc || (expires !== null && expires <= Date.now())) return callback(null, null);
        const found = doc.session as StoredSession;
        if (doc.lastModified) found.lastModified = doc.lastModified as Date;
        if (this.kept?.enabled) {
          const person = found.passport?.user;
          const tags = typeof person === 'string' ? [sessionKeys.person(person)] : [];
          const copy = structuredClone(found);
          this.kept.set(
            key,
            { session: copy, expires } satisfies KeptSession,
            roughBytes(copy),
            ticket,
            tags,
          );
        }
        this.emit('get', sid);
        callback(null, found);
      }, callback);
  }

  override set(sid: string, value: session.SessionData, callback: (err: unknown) => void = noop): void {
    super.set(sid, value, (err) => void this.dropped([sessionKeys.session(sid)]).then(() => callback(err)));
  }

  override destroy(sid: string, callback: (err: unknown) => void = noop): void {
    super.destroy(sid, (err) => void this.dropped([sessionKeys.session(sid)]).then(() => callback(err)));
  }

  override touch(
    sid: string,
    value: session.SessionData & { lastModified?: Date },
    callback: (err: unknown) => void = noop,
  ): void {
    // What connect-mongo skips (no write, nothing to drop): an expiry written less than touchAfter ago.
    const last = value.lastModified?.getTime() ?? 0;
    if (last > 0 && Date.now() - last < TOUCH_AFTER_S * 1000) return callback(null);
    super.touch(sid, value, (err) => void this.dropped([sessionKeys.session(sid)]).then(() => callback(err)));
  }

  /** Every session of these people was ended in the database: dropped everywhere. */
  async endedSessionsOf(personIds: string[]): Promise<void> {
    await this.dropped(personIds.map(sessionKeys.person));
  }

  /**
   * Dropped here and in the other processes, once written (or failed: a write whose answer was lost may have
   * landed); resolves once the drop is in Redis, so the write is answered after it.
   */
  private async dropped(keys: string[]): Promise<void> {
    if (!this.kept) return;
    this.kept.changed(keys);
    await this.reached().catch(noop);
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
export function createSessionStore(
  client: MongoClient,
  dbName: string,
  ttlSeconds: number,
  kept?: RecordCache,
): SessionStore {
  const store = new SessionStore({
    client,
    dbName,
    collectionName: collections.sessions,
    stringify: false,
    autoRemove: 'disabled',
    ttl: ttlSeconds,
    // An unchanged session's expiry is written at most every five minutes, not on every request (the
    // cookie's own expiry, set at sign-in, is what ends a session).
    touchAfter: TOUCH_AFTER_S,
  });
  if (kept) store.keepIn(kept);
  return store;
}

export function createSessionMiddleware(config: Config, client: MongoClient, db: Db) {
  // Sessions read once are kept in the process (docs/adr/0038-kept-sessions.md; SESSION_CACHE).
  const kept = new RecordCache(config.sessionCache, SESSION_PEER_EVENT);
  const store = createSessionStore(
    client,
    db.databaseName,
    Math.round(config.auth.sessionMaxAgeMs / 1000),
    kept,
  );
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
      await store.endedSessionsOf([userId]);
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
    /** Kept sessions follow the node's other processes (docs/adr/0038-kept-sessions.md). */
    follow: (peers: SessionPeers, forgetPerson: (personId: string) => void) =>
      store.follow(peers, forgetPerson),
    /** How much is kept (tests). */
    kept: () => kept.stats(),
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
