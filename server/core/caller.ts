import { UnauthenticatedError, ForbiddenError } from './errors.js';

/**
 * Who is acting. Services take one explicitly; transports build it (session, inbox signature, jobs).
 *
 * `remote` is a person of another node, known here through federation (docs/adr/0016-remote-records.md):
 * the inbox turns a verified activity into a service call made for its author. What they may do is
 * decided by the same group rules as for anyone (group.policy.ts): in a group hosted here, by their
 * membership; in a group hosted on another node, by the standing that group vouched for when it
 * announced the activity (`vouched`), since only the group's own node knows its members and moderators.
 */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'person'; personId: string; handle: string; isAdmin: boolean }
  | {
      kind: 'remote';
      /** The local record of the remote person (`users`, status `remote`). */
      personId: string;
      /** `name@host`. */
      handle: string;
      /** Their ActivityPub actor. */
      actorIri: string;
      /** Granted by a group hosted on another node (its Announce), for that group only. */
      vouched?: { groupId: string; role: 'member' | 'moderator' };
    }
  | { kind: 'system'; reason: string };

export type PersonCaller = Extract<Caller, { kind: 'person' }>;
export type RemoteCaller = Extract<Caller, { kind: 'remote' }>;
/** Someone who takes part in groups: a person of this node or of another one. */
export type ParticipantCaller = PersonCaller | RemoteCaller;

export const anonymous: Caller = { kind: 'anonymous' };
export const systemCaller = (reason: string): Caller => ({ kind: 'system', reason });

export function requirePerson(caller: Caller): PersonCaller {
  if (caller.kind !== 'person') throw new UnauthenticatedError('Sign in to do this.');
  return caller;
}

/** A person of this node or of another one (group work: joining, posting, liking). */
export function requireParticipant(caller: Caller): ParticipantCaller {
  if (caller.kind !== 'person' && caller.kind !== 'remote')
    throw new UnauthenticatedError('Sign in to do this.');
  return caller;
}

/** The person a caller is, when it is one (local or remote). */
export const personIdOf = (caller: Caller): string | null =>
  caller.kind === 'person' || caller.kind === 'remote' ? caller.personId : null;

export function requireAdmin(caller: Caller): Caller {
  if (caller.kind === 'system') return caller;
  const user = requirePerson(caller);
  if (!user.isAdmin) throw new ForbiddenError('Only an instance administrator can do this.');
  return user;
}
