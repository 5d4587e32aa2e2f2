import type { DomainEvents, EventBus, EventName } from '../core/events.js';
import type { Peers } from './hearing.js';
import { ALL_RECORDS, recordKeys as k, type RecordCache } from './record.cache.js';

type Keys<E extends EventName> = (e: DomainEvents[E]) => string[];

/** A group's record and one person's membership of it (a membership change moves the kept member count). */
const membership = (e: { groupId: string; userId: string | null }) => [
  k.group(e.groupId),
  ...(e.userId ? [k.membership(e.groupId, e.userId)] : []),
];

/** A post's thread (a like or an edit of a reply changes no thread). */
const threadOf = (e: { kind: 'threads' | 'replies'; threadId: string }) =>
  e.kind === 'threads' ? [k.thread(e.threadId)] : [];

/**
 * Domain event → the records it changes (docs/adr/0034-record-cache.md). Every domain event is here (the
 * table's type does not compile without each one). Writes a repository makes after its event (a reply's
 * bookkeeping on its thread) or without one (records of other nodes refreshed, repairs) are dropped by the
 * repository itself (`RecordCache.changed`).
 */
const records: { [E in EventName]: Keys<E> } = {
  'person.created': () => [],
  'person.updated': (e) => [k.person(e.personId)],
  'person.deactivated': (e) => [k.person(e.personId)],
  'person.reactivated': (e) => [k.person(e.personId)],
  // Memberships, authorship and likes move from one account to the other: nothing kept is trusted.
  'person.merged': () => [ALL_RECORDS],
  // With its creator's membership (written after the group: a read in between found none).
  'group.created': (e) => [
    k.group(e.groupId),
    k.head(e.groupId),
    k.pins(e.groupId),
    k.membership(e.groupId, e.byUserId),
  ],
  'group.updated': (e) => [k.group(e.groupId)],
  'group.deleted': (e) => [k.group(e.groupId)],
  'group.restored': (e) => [k.group(e.groupId)],
  'member.joined': membership,
  'member.left': membership,
  'member.requested': membership,
  'member.request_denied': membership,
  'member.declined': membership,
  'member.unbanned': membership,
  'member.invited': membership,
  'member.role_changed': membership,
  'thread.created': (e) => [k.head(e.groupId)],
  // A lock, a pin, a new title: what a reply is checked against too.
  'thread.updated': (e) => [
    k.thread(e.threadId),
    k.replyTarget(e.threadId),
    k.head(e.groupId),
    k.pins(e.groupId),
  ],
  'reply.created': (e) => [k.thread(e.threadId), k.head(e.groupId)],
  'post.edited': threadOf,
  'post.deleted': (e) => [k.thread(e.threadId), k.replyTarget(e.threadId), k.head(e.groupId)],
  'post.liked': (e) => [...threadOf(e), k.like(e.id, e.byUserId)],
  'post.unliked': (e) => [...threadOf(e), k.like(e.id, e.byUserId)],
  'post.confirmed': (e) => [k.thread(e.threadId), k.replyTarget(e.threadId), k.head(e.groupId)],
  'post.reported': () => [],
  'file.uploaded': () => [],
  'file.replaced': () => [],
  'file.updated': () => [],
  'file.deleted': () => [],
  'file.restored': () => [],
  'folder.changed': () => [],
};

/** The events that change kept records. */
export const recordEvents = Object.keys(records) as EventName[];

/**
 * Drops the records each domain event changes, here and in the node's other processes, through the channel
 * the page cache uses (registered before the realtime bridge: a process hears the drop before the room events
 * of the same change). While the other processes cannot be heard, nothing is kept.
 */
export function bridgeRecords(events: EventBus, cache: RecordCache, peers: Peers): void {
  cache.follow(peers);
  for (const name of recordEvents) {
    events.on(name, (e: DomainEvents[typeof name]) => cache.changed((records[name] as Keys<typeof name>)(e)));
  }
}
