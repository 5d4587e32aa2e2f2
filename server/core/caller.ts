import { UnauthenticatedError, ForbiddenError } from './errors.js';

/** Who is acting. Services take one explicitly; transports build it (session, inbox signature, jobs). */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'person'; personId: string; handle: string; isAdmin: boolean }
  | { kind: 'system'; reason: string };

export type PersonCaller = Extract<Caller, { kind: 'person' }>;

export const anonymous: Caller = { kind: 'anonymous' };
export const systemCaller = (reason: string): Caller => ({ kind: 'system', reason });

export function requirePerson(caller: Caller): PersonCaller {
  if (caller.kind !== 'person') throw new UnauthenticatedError('Sign in to do this.');
  return caller;
}

export function requireAdmin(caller: Caller): Caller {
  if (caller.kind === 'system') return caller;
  const user = requirePerson(caller);
  if (!user.isAdmin) throw new ForbiddenError('Only an instance administrator can do this.');
  return user;
}
