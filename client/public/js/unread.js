// The unread notification count shown in the header: read once, then kept current by live events and by
// the notifications view when it marks some read.
const listeners = new Set();
const arrivals = new Set();
let count = 0;

function changed() {
  for (const listener of listeners) listener(count);
}

export const unread = {
  set(n) {
    count = Math.max(0, n);
    changed();
  },
  add(delta) {
    unread.set(count + delta);
  },
  arrived(notification) {
    if (!notification.read) unread.add(1);
    for (const arrival of arrivals) arrival(notification);
  },
  onChange(listener) {
    listeners.add(listener);
    listener(count);
  },
  /** Live notifications, for the open notifications view. Returns the call that stops listening. */
  onArrival(listener) {
    arrivals.add(listener);
    return () => arrivals.delete(listener);
  },
};
