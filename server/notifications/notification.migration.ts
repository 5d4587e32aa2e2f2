import type { ObjectId } from 'mongodb';
import type { NotificationRepository } from './notification.repository.js';

interface LegacyState {
  _id: ObjectId;
  head?: number;
  mailedUpTo?: number;
  digested?: string;
}

/**
 * Schema 3 (ADR 0010): what the system records about a person's notifications leaves the document the
 * person writes. The head hint goes to `sequence_hints`, mail progress to `notification_mail`.
 */
export async function migrateNotificationState(repo: NotificationRepository): Promise<void> {
  const legacy = (await repo.state
    .find(
      {
        $or: [
          { head: { $exists: true } },
          { mailedUpTo: { $exists: true } },
          { digested: { $exists: true } },
        ],
      },
      { projection: { _id: 1, head: 1, mailedUpTo: 1, digested: 1 } },
    )
    .toArray()) as LegacyState[];
  for (const doc of legacy) {
    if (typeof doc.head === 'number') await repo.recordHead(doc._id.toHexString(), doc.head);
    await repo.updateProgress(doc._id, {
      $max: { mailedUpTo: doc.mailedUpTo ?? 0 },
      ...(typeof doc.digested === 'string' ? { $set: { digested: doc.digested } } : {}),
    });
    await repo.state.updateOne({ _id: doc._id }, { $unset: { head: '', mailedUpTo: '', digested: '' } });
  }
}

/**
 * Schema 5: every existing `all` choice goes on its group's or thread's follower list (the lists are
 * what the fan-out reads). Listing is idempotent, so a migration cut short is simply run again.
 */
export async function migrateFollowerLists(repo: NotificationRepository): Promise<void> {
  for await (const sub of repo.subscriptions.find(
    { level: 'all' },
    { projection: { userId: 1, kind: 1, targetId: 1 } },
  )) {
    await repo.list(sub.userId, sub.kind, sub.targetId);
  }
}
