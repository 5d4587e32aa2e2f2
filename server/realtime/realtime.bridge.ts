import type { DomainEvents, EventBus, EventName } from '../core/events.js';
import { roomOf, type RealtimeServer } from './realtime.server.js';

/** Version of every realtime payload; bumped when a payload changes incompatibly (docs/realtime.md). */
export const REALTIME_VERSION = 1;

type Emit = { rooms: string[]; event: string; payload: Record<string, unknown> };
type Mapper<E extends EventName> = (e: DomainEvents[E]) => Emit | null;

const group = roomOf.group;
const thread = roomOf.thread;

/**
 * Domain event → Socket.IO event: which rooms hear it and what they get. Payloads are compact (ids,
 * positions, the change); clients fetch content through the REST API, which applies the reader's rights.
 * Every payload carries `v` and `at`; replies and threads carry the position to resume from after a gap.
 */
const mappers: { [E in EventName]?: Mapper<E> } = {
  'thread.created': (e) => ({
    rooms: [group(e.groupId)],
    event: 'thread.created',
    payload: { groupId: e.groupId, threadId: e.threadId, position: e.position, authorId: e.authorId },
  }),
  'thread.updated': (e) => ({
    rooms: [group(e.groupId), thread(e.threadId)],
    event: 'thread.updated',
    payload: { groupId: e.groupId, threadId: e.threadId, change: e.change, value: e.value },
  }),
  'reply.created': (e) => ({
    rooms: [group(e.groupId), thread(e.threadId)],
    event: 'reply.created',
    payload: {
      groupId: e.groupId,
      threadId: e.threadId,
      replyId: e.replyId,
      seq: e.seq,
      authorId: e.authorId,
    },
  }),
  'post.edited': (e) => ({
    rooms: [group(e.groupId), thread(e.threadId)],
    event: 'post.edited',
    payload: { groupId: e.groupId, threadId: e.threadId, kind: e.kind, id: e.id },
  }),
  'post.deleted': (e) => ({
    rooms: [group(e.groupId), thread(e.threadId)],
    event: 'post.deleted',
    payload: { groupId: e.groupId, threadId: e.threadId, kind: e.kind, id: e.id, byModerator: e.byModerator },
  }),
  'post.liked': (e) => ({
    rooms: [group(e.groupId), thread(e.threadId)],
    event: 'post.liked',
    payload: { groupId: e.groupId, threadId: e.threadId, kind: e.kind, id: e.id },
  }),
  'post.confirmed': (e) => ({
    rooms: [group(e.groupId), thread(e.threadId)],
    event: 'post.confirmed',
    payload: { groupId: e.groupId, threadId: e.threadId, kind: e.kind, id: e.id },
  }),
  'post.unliked': (e) => ({
    rooms: [group(e.groupId), thread(e.threadId)],
    event: 'post.unliked',
    payload: { groupId: e.groupId, threadId: e.threadId, kind: e.kind, id: e.id },
  }),
  'member.joined': (e) => ({
    rooms: [group(e.groupId)],
    event: 'member.joined',
    payload: { groupId: e.groupId, userId: e.userId, role: e.role },
  }),
  'member.left': (e) => ({
    rooms: [group(e.groupId)],
    event: 'member.left',
    payload: { groupId: e.groupId, userId: e.userId, reason: e.reason },
  }),
  // Said to the one who asked only (their own room): a page they have open on the group changes at once.
  'member.request_denied': (e) => ({
    rooms: [roomOf.user(e.userId)],
    event: 'member.request_denied',
    payload: { groupId: e.groupId, userId: e.userId },
  }),
  'member.role_changed': (e) => ({
    rooms: [group(e.groupId)],
    event: 'member.role_changed',
    payload: { groupId: e.groupId, userId: e.userId, role: e.role },
  }),
  'file.uploaded': (e) =>
    e.kind === 'library'
      ? {
          rooms: [group(e.groupId)],
          event: 'file.uploaded',
          payload: { groupId: e.groupId, fileId: e.fileId },
        }
      : null,
  'file.replaced': (e) => ({
    rooms: [group(e.groupId)],
    event: 'file.replaced',
    payload: { groupId: e.groupId, fileId: e.fileId, version: e.version },
  }),
  'file.updated': (e) => ({
    rooms: [group(e.groupId)],
    event: 'file.updated',
    payload: { groupId: e.groupId, fileId: e.fileId },
  }),
  'file.deleted': (e) => ({
    rooms: [group(e.groupId)],
    event: 'file.deleted',
    payload: { groupId: e.groupId, fileId: e.fileId },
  }),
  'file.restored': (e) => ({
    rooms: [group(e.groupId)],
    event: 'file.restored',
    payload: { groupId: e.groupId, fileId: e.fileId },
  }),
  'folder.changed': (e) => ({
    rooms: [group(e.groupId)],
    event: 'folder.changed',
    payload: { groupId: e.groupId, folderId: e.folderId, change: e.change },
  }),
};

/** Every event the bridge sends, for docs/realtime.md and its test. */
export const realtimeEvents = Object.keys(mappers) as EventName[];

/**
 * Subscribes to domain events: sends each to its rooms, in the order the events happened, and takes
 * sockets out of rooms they may no longer read as soon as the change that forbids it is written.
 */
export function bridgeRealtime(
  events: EventBus,
  realtime: RealtimeServer,
  onSent: (event: string) => void = () => undefined,
): void {
  for (const name of realtimeEvents) {
    const send = (e: DomainEvents[typeof name]) => {
      const io = realtime.io;
      const out = (mappers[name] as Mapper<typeof name>)(e);
      if (!io || !out) return;
      io.to(out.rooms).emit(
        out.event as never,
        { v: REALTIME_VERSION, at: new Date().toISOString(), ...out.payload } as never,
      );
      onSent(out.event);
    };
    events.on(name, send as never);
  }
  events.on('member.left', ({ groupId, userId }) => realtime.recheck(groupId, userId));
  events.on('member.role_changed', ({ groupId, userId }) => realtime.recheck(groupId, userId));
  events.on('group.updated', async ({ groupId, audienceChanged }) => {
    if (audienceChanged) await realtime.recheck(groupId);
  });
  events.on('group.deleted', ({ groupId }) => realtime.recheck(groupId));
  events.on('person.deactivated', ({ personId }) => realtime.disconnectUser(personId));
  events.on('person.merged', ({ fromPersonId }) => realtime.disconnectUser(fromPersonId));
}
