// The live connection (Socket.IO, docs/realtime.md). The session cookie signs the socket in; views follow
// rooms through `follow`, and are told to catch up through the REST API whenever the connection comes
// back without Socket.IO's state recovery (a long drop, a restarted node): nothing is silently missed.

const socket = io({ autoConnect: false });
const followed = new Map(); // room key → { room, catchUp }
const statusListeners = new Set();

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
    subscribe(entry.room).then(
      () => entry.catchUp(),
      () => entry.catchUp(),
    );
  }
});
socket.on('disconnect', () => setStatus('reconnecting'));

export const live = {
  socket,
  start() {
    socket.connect();
  },
  /** Follow a room; `catchUp` runs after each connection that lost events. Returns the unfollow call. */
  async follow(room, catchUp) {
    const entry = { room, catchUp };
    followed.set(key(room), entry);
    if (socket.connected) await subscribe(room);
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
