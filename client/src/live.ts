// The live connection (Socket.IO, docs/realtime.md). The session cookie signs the socket in; pages follow
// rooms through `follow`, and are told to catch up through the REST API whenever the connection comes back
// without Socket.IO's state recovery (a long drop, a restarted node): nothing is silently missed.
// Socket.IO's browser bundle is the one the server runs (/socket.io/socket.io.min.js, loaded by index.html).
import type { Socket, io as ioType } from 'socket.io-client';

declare const io: typeof ioType;

export type Room = { kind: 'group'; group: string } | { kind: 'thread'; id: string };
export type LiveStatus = 'live' | 'reconnecting';

/** What every server event carries (docs/realtime.md); the rest depends on the event. */
export interface LiveEvent {
  v: number;
  at: string;
  groupId?: string;
  threadId?: string;
  userId?: string;
  fileId?: string;
  id?: string;
  kind?: string;
  seq?: number;
  role?: string;
  reason?: string;
  change?: string;
  value?: boolean;
  byModerator?: boolean;
  [key: string]: unknown;
}

interface Followed {
  room: Room;
  catchUp: () => void;
  joined: (() => void) | null;
}

// WebSocket first (no long-polling request left hanging, no upgrade round trip); long-polling only where
// a proxy refuses WebSockets.
const socket: Socket = io({
  autoConnect: false,
  transports: ['websocket', 'polling'],
  tryAllTransports: true,
});
const followed = new Map<string, Followed>();
const statusListeners = new Set<(status: LiveStatus) => void>();
/** How long a page waits for the first connection before it reads without its room. */
const FIRST_JOIN_WAIT_MS = 5000;
/** After the server let a connection go (signed out elsewhere, rights it could not check), try again. */
const SERVER_DISCONNECT_RETRY_MS = 1000;

const key = (room: Room) => (room.kind === 'group' ? `group:${room.group}` : `thread:${room.id}`);

interface Answer {
  ok: boolean;
  room?: unknown;
  error?: { title?: string; detail?: string; status?: number };
}

function subscribe(room: Room): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.timeout(10_000).emit('subscribe', { room }, (err: Error | null, answer: Answer) => {
      if (err) reject(err);
      else if (answer.ok) resolve();
      else reject(Object.assign(new Error(answer.error?.detail ?? answer.error?.title), answer.error));
    });
  });
}

function setStatus(status: LiveStatus) {
  for (const listener of statusListeners) listener(status);
}

socket.on('connect', () => {
  setStatus('live');
  // A recovered connection keeps its rooms and has been replayed what it missed.
  if (socket.recovered) return;
  for (const entry of followed.values()) {
    const done = () => {
      // A page still waiting in `follow` reads once it returns; any other page catches up now.
      if (entry.joined) {
        entry.joined();
        entry.joined = null;
      } else entry.catchUp();
    };
    subscribe(entry.room).then(done, done);
  }
});
socket.on('disconnect', (reason) => {
  setStatus('reconnecting');
  // Socket.IO reconnects by itself after a network drop, but not after the server's own disconnect: the
  // next connection starts afresh (as the cookie says now) and the pages catch up through the REST API.
  if (reason === 'io server disconnect') setTimeout(() => socket.connect(), SERVER_DISCONNECT_RETRY_MS);
});

export const live = {
  socket,
  start() {
    socket.connect();
  },
  /**
   * Follow a room; `catchUp` runs after each connection that lost events. Resolves once the room is
   * joined (or after FIRST_JOIN_WAIT_MS without a connection), so that what the page reads next misses
   * nothing. Returns the unfollow call.
   */
  async follow(room: Room, catchUp: () => void): Promise<() => void> {
    const entry: Followed = { room, catchUp, joined: null };
    followed.set(key(room), entry);
    if (socket.connected) {
      try {
        await subscribe(room);
      } catch (err) {
        followed.delete(key(room)); // refused (not found, too many rooms): nothing to follow again later
        throw err;
      }
    } else {
      await Promise.race([
        new Promise<void>((resolve) => (entry.joined = resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, FIRST_JOIN_WAIT_MS)),
      ]);
      // Not joined yet: the page reads now, so the connection, when it comes, must catch up.
      entry.joined = null;
    }
    return () => {
      if (followed.get(key(room)) !== entry) return;
      followed.delete(key(room));
      if (socket.connected) socket.emit('unsubscribe', { room }, () => {});
    };
  },
  /** Listen to a server event; returns the call that stops listening. */
  on(event: string, handler: (e: LiveEvent) => void): () => void {
    socket.on(event, handler);
    return () => {
      socket.off(event, handler);
    };
  },
  onStatus(listener: (status: LiveStatus) => void): () => void {
    statusListeners.add(listener);
    listener(socket.connected ? 'live' : 'reconnecting');
    return () => statusListeners.delete(listener);
  },
};
