// The unread notification count shown in the header: read once, then kept current by live events and by
// the notifications page when it marks some read.
import type { Notification } from './api/api';

const listeners = new Set<(n: number) => void>();
const arrivals = new Set<(n: Notification) => void>();
let count = 0;

function changed() {
  for (const listener of listeners) listener(count);
}

export const unread = {
  get count() {
    return count;
  },
  set(n: number) {
    count = Math.max(0, n);
    changed();
  },
  add(delta: number) {
    unread.set(count + delta);
  },
  arrived(notification: Notification) {
    if (!notification.read) unread.add(1);
    for (const arrival of arrivals) arrival(notification);
  },
  onChange(listener: (n: number) => void): () => void {
    listeners.add(listener);
    listener(count);
    return () => listeners.delete(listener);
  },
  /** Live notifications, for the pages that show them. Returns the call that stops listening. */
  onArrival(listener: (n: Notification) => void): () => void {
    arrivals.add(listener);
    return () => arrivals.delete(listener);
  },
};
