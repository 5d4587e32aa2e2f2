import type { Delivered } from '../notifications/notification.fanout.js';
import type { NotificationDoc } from '../notifications/notification.repository.js';
import { REALTIME_VERSION } from './realtime.bridge.js';
import { roomOf, type RealtimeServer } from './realtime.server.js';

/**
 * Notifications written for people are pushed whole to their own room (`notification`, docs/realtime.md),
 * as the person's notification list shows them: unlike room events, the payload is the notification, because
 * only its recipient hears it.
 */
export function notificationPush(deps: {
  realtime: Pick<RealtimeServer, 'io'>;
  views: (docs: NotificationDoc[], readUpTo: number) => Promise<object[]>;
}): (delivered: Delivered[]) => Promise<void> {
  return async (delivered) => {
    for (const { userId, notification } of delivered) {
      const [view] = await deps.views([notification], 0);
      deps.realtime.io
        ?.to(roomOf.user(userId))
        .emit(
          'notification' as never,
          { v: REALTIME_VERSION, at: new Date().toISOString(), ...view } as never,
        );
    }
  };
}
