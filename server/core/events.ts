import { EventEmitter } from 'node:events';
import type { Logger } from './logger.js';

/**
 * Domain events, emitted by services after a write is committed. Bridges (realtime, federation,
 * notifications) subscribe; a failing listener is logged and never fails or slows the write.
 */
export interface DomainEvents {
  /** `verifiedEmail` only when the identity provider vouches for the address (email_verified). */
  'person.created': { personId: string; handle: string; verifiedEmail: string | undefined };
  'person.updated': { personId: string; handle: string };
  'person.deactivated': { personId: string; handle: string };
  'person.reactivated': { personId: string; handle: string };
  'person.merged': { fromPersonId: string; intoPersonId: string };
  'group.created': { groupId: string; handle: string; byUserId: string };
  'group.updated': { groupId: string; handle: string; byUserId: string; audienceChanged: boolean };
  'group.deleted': { groupId: string; handle: string; byUserId: string };
  'group.restored': { groupId: string; handle: string; byUserId: string };
  'member.joined': { groupId: string; userId: string; role: string };
  'member.left': { groupId: string; userId: string; reason: 'left' | 'removed' | 'banned' };
  /** A request to join (for a group hosted on another node: asked of that node, waiting for its answer). */
  'member.requested': { groupId: string; userId: string };
  /** A join request denied (by a moderator here, or by the node hosting the group). */
  'member.request_denied': { groupId: string; userId: string };
  /** An invitation declined by the person invited. */
  'member.declined': { groupId: string; userId: string };
  /** A ban lifted. */
  'member.unbanned': { groupId: string; userId: string };
  'member.invited': { groupId: string; userId: string | null; email: string | null; byUserId: string };
  'member.role_changed': { groupId: string; userId: string; role: string; byUserId: string };
  /** `position`: the thread's place in its group's timeline (a `/groups/{group}/threads` cursor). */
  'thread.created': {
    threadId: string;
    groupId: string;
    position: number;
    authorId: string;
    mentions: string[];
    /** Posted by an owner or admin who chose not to notify anyone. */
    silent: boolean;
    /** Written on another node and recorded here (federation sends nothing for it from here). */
    received?: boolean;
  };
  'thread.updated': {
    threadId: string;
    groupId: string;
    change: 'pinned' | 'locked';
    value: boolean;
    byUserId: string;
  };
  'reply.created': {
    replyId: string;
    threadId: string;
    groupId: string;
    /** The reply's position in its thread (a `/threads/{id}/replies` cursor). */
    seq: number;
    authorId: string;
    /** Whose post this answers (the parent reply's author, or the thread's). */
    parentAuthorId: string;
    mentions: string[];
    /** Written on another node and recorded here (federation sends nothing for it from here). */
    received?: boolean;
  };
  /** A post written here into a group hosted on another node was announced by that group. */
  'post.confirmed': { kind: 'threads' | 'replies'; id: string; threadId: string; groupId: string };
  'post.edited': {
    kind: 'threads' | 'replies';
    id: string;
    threadId: string;
    groupId: string;
    byUserId: string;
  };
  /** A post reported to its group's moderators (federation sends it to a group hosted elsewhere). */
  'post.reported': {
    kind: 'threads' | 'replies';
    id: string;
    groupId: string;
    byUserId: string;
    reason: string;
  };
  'post.deleted': {
    kind: 'threads' | 'replies';
    id: string;
    threadId: string;
    groupId: string;
    byUserId: string;
    byModerator: boolean;
  };
  'file.uploaded': { fileId: string; groupId: string; byUserId: string; kind: 'library' | 'attachment' };
  'file.replaced': { fileId: string; groupId: string; byUserId: string; version: number };
  'file.updated': { fileId: string; groupId: string; byUserId: string };
  'file.deleted': { fileId: string; groupId: string; byUserId: string };
  'file.restored': { fileId: string; groupId: string; byUserId: string };
  'folder.changed': {
    folderId: string;
    groupId: string;
    byUserId: string;
    change: 'created' | 'updated' | 'deleted';
  };
  'post.liked': {
    kind: 'threads' | 'replies';
    id: string;
    threadId: string;
    groupId: string;
    byUserId: string;
    authorId: string;
  };
  /** A like taken back. */
  'post.unliked': {
    kind: 'threads' | 'replies';
    id: string;
    threadId: string;
    groupId: string;
    byUserId: string;
  };
}

export type EventName = keyof DomainEvents;
type Listener<E extends EventName> = (payload: DomainEvents[E]) => void | Promise<void>;

export class EventBus {
  private readonly emitter = new EventEmitter();
  constructor(private readonly logger?: Logger) {
    this.emitter.setMaxListeners(100);
  }

  on<E extends EventName>(event: E, listener: Listener<E>): () => void {
    const wrapped = (payload: DomainEvents[E]) => {
      Promise.resolve()
        .then(() => listener(payload))
        .catch((err: unknown) => this.logger?.error({ err, event }, 'domain event listener failed'));
    };
    this.emitter.on(event, wrapped);
    return () => this.emitter.off(event, wrapped);
  }

  emit<E extends EventName>(event: E, payload: DomainEvents[E]): void {
    this.emitter.emit(event, payload);
  }
}
