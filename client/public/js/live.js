// The live connection (Socket.IO, docs/realtime.md). The session cookie signs the socket in; views follow
// rooms through `follow`, and are told to catch up through the REST API whenever the connection comes
// back without Socket.IO's state recovery (a long drop, a restarted node): nothing is silently missed.

// WebSocket first (no long-polling request left hanging, no upgrade round trip); long-polling only where a
// proxy refuses WebSockets.
const socket = io({ autoConnect: false, transports: ['websocket', 'polling'], tryAllTransports: true });
const followed = new Map(); // room key → { room, catchUp }
const statusListeners = new Set();
/** How long a view waits for the first connection before it reads without its room. */
const FIRST_JOIN_WAIT_MS = 5000;

function key(room) {
  return room.kind === 'group' ? `group:${room.group}` : `thread:${room.id}`;
}

function subscribe(room) {
  return new Promise((resolve, reject) => {
    socket.timeout(10_000).emit('subscribe', { room }, (err, answer) => {
      if (err) reject(err);
      else if (answer.ok) resolve(answer.room);
      else reject(Object.assign(new Error(answer.error.detail ?? answer.error.title), answer.error));
    });
  });
}

function setStatus(status) {
  for (const listener of statusListeners) listener(status);
}

socket.on('connect', () => {
  setStatus('live');
  // A recovered connection keeps its rooms and has been replayed what it missed.
  if (socket.recovered) return;
  for (const entry of followed.values()) {
    const done = () => {
      // A view still waiting in `follow` reads once it returns; any other view catches up now.
      if (entry.joined) {
        entry.joined();
        entry.joined = null;
      } else entry.catchUp();
    };
    subscribe(entry.room).then(done, done);
  }
});
/** After the server let a connection go (signed out elsewhere, rights it could not check), try again. */
const SERVER_DISCONNECT_RETRY_MS = 1000;
socket.on('disconnect', (reason) => {
  setStatus('reconnecting');
  // Socket.IO reconnects by itself after a network drop, but not after the server's own disconnect: the
  // next connection starts afresh (as the cookie says now) and the views catch up through the REST API.
  if (reason === 'io server disconnect') setTimeout(() => socket.connect(), SERVER_DISCONNECT_RETRY_MS);
});

export const live = {
  socket,
  start() {
    socket.connect();
  },
  /**
   * Follow a room; `catchUp` runs after each connection that lost events. Resolves once the room is
   * joined (or after FIRST_JOIN_WAIT_MS without a connection), so that what the view reads next misses
   * nothing. Returns the unfollow call.
   */
  async follow(room, catchUp) {
    const entry = { room, catchUp, joined: null };
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
        new Promise((resolve) => (entry.joined = resolve)),
        new Promise((resolve) => setTimeout(resolve, FIRST_JOIN_WAIT_MS)),
      ]);
      // Not joined yet: the view reads now, so the connection, when it comes, must catch up.
      entry.joined = null;
    }
    return () => {
      if (followed.get(key(room)) !== entry) return;
      followed.delete(key(room));
      if (socket.connected) socket.emit('unsubscribe', { room }, () => {});
    };
  },
  /** Listen to a server event; returns the call that stops listening. */
  on(event, handler) {
    socket.on(event, handler);
    return () => socket.off(event, handler);
  },
  onStatus(listener) {
    statusListeners.add(listener);
    listener(socket.connected ? 'live' : 'reconnecting');
    return () => statusListeners.delete(listener);
  },
};
