import { UnauthenticatedError, ForbiddenError } from './errors.js';

/** Who is acting. Services take one explicitly; transports build it (session, inbox signature, jobs). */
export type Actor =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: string; handle: string; isAdmin: boolean }
  | { kind: 'system'; reason: string };

export type UserActor = Extract<Actor, { kind: 'user' }>;

export const anonymous: Actor = { kind: 'anonymous' };
export const systemActor = (reason: string): Actor => ({ kind: 'system', reason });

export function requireUser(actor: Actor): UserActor {
  if (actor.kind !== 'user') throw new UnauthenticatedError('Sign in to do this.');
  return actor;
}

export function requireAdmin(actor: Actor): Actor {
  if (actor.kind === 'system') return actor;
  const user = requireUser(actor);
  if (!user.isAdmin) throw new ForbiddenError('Only an instance administrator can do this.');
  return user;
}
