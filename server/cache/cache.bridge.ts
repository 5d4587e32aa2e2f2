import type { DomainEvents, EventBus, EventName } from '../core/events.js';
import type { Peers } from './hearing.js';
import type { PageCache } from './page.cache.js';

/** The scope of everything a group shows: its threads, replies, members, files, settings. */
export const groupScope = (groupId: string) => `group:${groupId}`;
/** The scope of people's names and faces, shown beside every post. */
export const PEOPLE = 'people';

type Scopes<E extends EventName> = (e: DomainEvents[E]) => string[];

/**
 * Domain event → the page scopes it changes (docs/adr/0027-page-cache.md). Every domain event is here (the
 * table's type does not compile without each one): a write that changes what a page shows without an event
 * would be served stale, so every write path emits one.
 */
const scopes: { [E in EventName]: Scopes<E> } = {
  'person.created': () => [],
  'person.updated': () => [PEOPLE],
  'person.deactivated': () => [PEOPLE],
  'person.reactivated': () => [PEOPLE],
  'person.merged': () => [PEOPLE],
  'group.created': (e) => [groupScope(e.groupId)],
  'group.updated': (e) => [groupScope(e.groupId)],
  'group.deleted': (e) => [groupScope(e.groupId)],
  'group.restored': (e) => [groupScope(e.groupId)],
  'member.joined': (e) => [groupScope(e.groupId)],
  'member.left': (e) => [groupScope(e.groupId)],
  'member.requested': (e) => [groupScope(e.groupId)],
  'member.request_denied': (e) => [groupScope(e.groupId)],
  'member.declined': (e) => [groupScope(e.groupId)],
  'member.unbanned': (e) => [groupScope(e.groupId)],
  'member.invited': (e) => [groupScope(e.groupId)],
  'member.role_changed': (e) => [groupScope(e.groupId)],
  'thread.created': (e) => [groupScope(e.groupId)],
  'thread.updated': (e) => [groupScope(e.groupId)],
  'reply.created': (e) => [groupScope(e.groupId)],
  'post.edited': (e) => [groupScope(e.groupId)],
  'post.deleted': (e) => [groupScope(e.groupId)],
  'post.liked': (e) => [groupScope(e.groupId)],
  'post.unliked': (e) => [groupScope(e.groupId)],
  'post.confirmed': (e) => [groupScope(e.groupId)],
  // Reports are seen by moderators only, in a queue no page cache holds.
  'post.reported': () => [],
  'file.uploaded': (e) => [groupScope(e.groupId)],
  'file.replaced': (e) => [groupScope(e.groupId)],
  'file.updated': (e) => [groupScope(e.groupId)],
  'file.deleted': (e) => [groupScope(e.groupId)],
  'file.restored': (e) => [groupScope(e.groupId)],
  'folder.changed': (e) => [groupScope(e.groupId)],
};

/** Events that change no page. */
export const cacheEvents = Object.keys(scopes) as EventName[];

const PEER_EVENT = 'page-cache:invalidate';

/**
 * Subscribes to domain events: each one's scopes are invalidated here and in the node's other processes.
 * Registered before the realtime bridge, so that a process sends the invalidation ahead of the room events
 * of the same change, on the same ordered channel (the Redis adapter): a client that re-reads a page when an
 * event arrives never gets the page from before it.
 */
export function bridgeCache(events: EventBus, cache: PageCache, peers: Peers): void {
  // Changes made elsewhere while Redis was down never arrive: no page is trusted across the gap.
  cache.hearing.follow(peers);
  for (const name of cacheEvents) {
    events.on(name, (e: DomainEvents[typeof name]) => {
      const changed = (scopes[name] as Scopes<typeof name>)(e);
      if (!changed.length) return;
      cache.invalidate(changed);
      peers.toPeers(PEER_EVENT, changed);
    });
  }
  peers.onPeers(PEER_EVENT, (payload) => {
    if (Array.isArray(payload) && payload.every((s) => typeof s === 'string')) cache.invalidate(payload);
  });
}

/** The page scope that shows a kept record (record.cache.ts keys), if any. */
function scopeOfRecord(key: string): string | null {
  if (key.startsWith('group:')) return key; // the same words: a group's record is shown on its pages
  if (key.startsWith('head:')) return groupScope(key.slice('head:'.length));
  if (key.startsWith('person:')) return PEOPLE;
  return null;
}

/**
 * Pages follow the records they are built from. Most record changes come with a domain event (the scopes
 * above), but some are written after their event or without one (a thread's reply count and place after
 * the reply is announced, a group's member count after the join, a group of another node refreshed, a
 * person's claims at sign-in): a page built in between would be kept with the old value until the group's
 * next event. Each process drops those pages when it drops the records, on its own writes or on hearing
 * another process's (record.bridge.ts).
 */
export function followRecords(
  records: { onInvalidate(listener: (keys: string[]) => void): void },
  pages: PageCache,
): void {
  records.onInvalidate((keys) => {
    const scopes = [...new Set(keys.map(scopeOfRecord).filter((s): s is string => s !== null))];
    if (scopes.length) pages.invalidate(scopes);
  });
}
