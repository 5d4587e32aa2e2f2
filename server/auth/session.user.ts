import type { Request } from 'express';
import { ObjectId } from 'mongodb';
import type { PassportStatic } from 'passport';
import { anonymous, type Caller } from '../core/caller.js';
import { Lru } from '../core/lru.js';
import type { Language } from '../core/messages.js';
import type { EventBus } from '../core/events.js';
import type { PersonRepository } from '../people/person.repository.js';

/** What a session carries of its person on each request. */
export interface SessionUser {
  id: string;
  handle: string;
  isAdmin: boolean;
  /** The language the person reads the node in: what they are told when a request is refused. */
  locale: Language;
}

/** How long a process trusts what it read of a signed-in person. */
export const SESSION_USER_TTL_MS = 2_000;

/**
 * The person behind a session, as each request needs it (active or not, handle, administrator or not),
 * read from the database at most every SESSION_USER_TTL_MS per person and process: one read fewer on
 * nearly every request. Nothing that must take effect at once depends on it: deactivating or merging an
 * account also ends its sessions in the database (every process reads sessions on each request), and this
 * process forgets a person as soon as they change or sign in. An administrator right granted or withdrawn
 * at a sign-in reaches the other processes within SESSION_USER_TTL_MS.
 */
export class SessionUsers {
  private readonly known = new Lru<string, { user: SessionUser; at: number }>(10_000);

  constructor(
    private readonly people: PersonRepository,
    events: EventBus,
  ) {
    const forget = ({ personId }: { personId: string }) => this.forget(personId);
    events.on('person.updated', forget);
    events.on('person.deactivated', forget);
    events.on('person.reactivated', forget);
    events.on('person.merged', ({ fromPersonId, intoPersonId }) => {
      this.forget(fromPersonId);
      this.forget(intoPersonId);
    });
  }

  /**
   * Let passport keep only the person's id in the session and find the person behind it on each request.
   * A sign-in makes this process read again whatever it knew of the person (an administrator right, say).
   */
  serve(passport: Pick<PassportStatic, 'serializeUser' | 'deserializeUser'>): void {
    passport.serializeUser((user, done) => {
      const { id } = user as { id: string };
      this.forget(id);
      done(null, id);
    });
    passport.deserializeUser((id: string, done) => {
      this.resolve(id).then(
        (user) => done(null, user),
        (err: unknown) => done(err),
      );
    });
  }

  forget(userId: string): void {
    this.known.delete(userId);
  }

  /** The session's person, or false when the session no longer stands for an active person. */
  async resolve(id: string): Promise<SessionUser | false> {
    if (!ObjectId.isValid(id)) return false;
    const hit = this.known.get(id);
    if (hit && Date.now() - hit.at < SESSION_USER_TTL_MS) return hit.user;
    const doc = await this.people.byId(new ObjectId(id));
    // A deactivated or merged person is signed out on their next request, whatever session they hold. That
    // ends the session for good, so it is decided on a fresh read each time, never on what was cached.
    if (!doc || doc.status !== 'active') return false;
    const user = { id, handle: doc.handle, isAdmin: doc.isAdmin, locale: doc.locale };
    this.known.set(id, { user, at: Date.now() });
    return user;
  }
}

/** The caller of a request: the signed-in person of its session, or anonymous. */
export function callerOf(req: Request): Caller {
  const user = req.user as SessionUser | undefined;
  return user ? { kind: 'person', personId: user.id, handle: user.handle, isAdmin: user.isAdmin } : anonymous;
}
