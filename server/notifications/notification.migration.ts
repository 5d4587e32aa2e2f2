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
