import type { Collection, Db, ObjectId } from 'mongodb';
import { collections } from '../db/collections.js';
import { DenseSequence, type SlotDoc } from '../db/sequence.js';
import { insertOnce, upsertOne } from '../db/errors.js';

export const notificationKinds = [
  'reply', // someone answered your post
  'mention', // someone @mentioned you
  'thread.activity', // a reply in a thread you follow
  'thread.new', // a new thread in a group you follow
  'join.request', // someone asks to join a group you moderate
  'invitation', // you are invited to a group
] as const;
export type NotificationKind = (typeof notificationKinds)[number];

/** One notification; `_id` = `<person>:<n>`, so a person's list is read newest first by `_id`. */
export interface NotificationDoc extends SlotDoc {
  userId: ObjectId;
  kind: NotificationKind;
  groupId: ObjectId;
  threadId: ObjectId | null;
  replyId: ObjectId | null;
  actorId: ObjectId | null;
  createdAt: Date;
  readAt: Date | null;
}

export type EmailDelivery = 'immediate' | 'daily' | 'weekly' | 'none';

/**
 * Per person, written only by the person's own choices (mail preference, "mark all read"). `_id` = the
 * person. What the system records about a person lives in other documents (`MailProgressDoc`, the head
 * hint): FerretDB writes an update back as a whole document, so two writers of one document can undo each
 * other's fields (docs/adr/0010-one-writer-per-document.md).
 */
export interface NotificationStateDoc {
  _id: ObjectId;
  email: EmailDelivery;
  /** Every notification up to this position is read ("mark all read"). */
  readUpTo: number;
}

/** Per person, written only by notification mail. `_id` = the person. */
export interface MailProgressDoc {
  _id: ObjectId;
  /** The last position included in a digest or an immediate mail (a hint: the mail claims are the truth). */
  mailedUpTo: number;
  /** The last digest period done (sent, or nothing to send), so a sweep passes over it. */
  digested?: string;
}

/** A mail claim: `<person>:<period>` or `<person>:from:<n>`; `upTo` once the mail from n is done. */
export interface MailClaimDoc {
  _id: string;
  at: Date;
  upTo?: number;
}

export type GroupLevel = 'all' | 'default' | 'mute';
export type ThreadLevel = 'all' | 'none';

/** A person's choice for one group or thread; `_id` = `<person>:<group|thread>:<id>`. */
export interface SubscriptionDoc {
  _id: string;
  userId: ObjectId;
  kind: 'group' | 'thread';
  targetId: ObjectId;
  level: GroupLevel | ThreadLevel;
  updatedAt: Date;
}

export const subscriptionId = (userId: ObjectId, kind: 'group' | 'thread', targetId: ObjectId) =>
  `${userId.toHexString()}:${kind}:${targetId.toHexString()}`;

/** One entry of a group's or thread's follower list: `_id` = `<kind>:<target>:<n>`. */
export interface FollowerSlot extends SlotDoc {
  userId: ObjectId;
}

/** The follower list of a group or thread: entries `<list>:<n>`, marks `<list>:<person>`. */
export const followerListId = (kind: 'group' | 'thread', targetId: ObjectId) =>
  `${kind}:${targetId.toHexString()}`;

/** Follower list entries read at once when a list is walked. */
const FOLLOWER_PAGE = 500;

export const DEFAULT_EMAIL: EmailDelivery = 'daily';

/** A person's notification state before they chose anything. */
const STATE_DEFAULTS = { email: DEFAULT_EMAIL, readUpTo: 0 };

export class NotificationRepository {
  readonly notifications: DenseSequence<NotificationDoc>;
  readonly state: Collection<NotificationStateDoc>;
  readonly mailProgress: Collection<MailProgressDoc>;
  readonly subscriptions: Collection<SubscriptionDoc>;
  /**
   * Mail claims, taken by insert: `<person>:<period>` for each digest period (no digest goes out twice) and
   * `<person>:from:<n>` for each mail starting at position n (two workers never mail the same notifications).
   */
  readonly digestClaims: Collection<MailClaimDoc>;
  /** `<notify job>:<person>`: each event notifies each person once, however often its jobs run. */
  readonly delivered: Collection<{ _id: string; at: Date }>;
  /** `notifications:<person>`: the newest position written, a hint for the next one (written by the fan-out). */
  readonly hints: Collection<{ _id: string; n: number }>;
  /**
   * Everyone who ever chose level `all` for a group or thread, in the order they did, each listed once
   * (`followerMarks`). A filter on `subscriptions` other than `_id` makes FerretDB scan every subscription
   * of the node (615 ms at 20,000): the fan-out walks this list by `_id` instead, and each person's current
   * choice is read from their subscription, so stopping or muting later takes effect at once.
   */
  readonly followerSlots: DenseSequence<FollowerSlot>;
  readonly followerMarks: Collection<{ _id: string }>;

  constructor(db: Db) {
    this.notifications = new DenseSequence(db.collection<NotificationDoc>(collections.notifications));
    this.state = db.collection<NotificationStateDoc>(collections.notificationState);
    this.mailProgress = db.collection<MailProgressDoc>(collections.notificationMail);
    this.subscriptions = db.collection<SubscriptionDoc>(collections.subscriptions);
    this.digestClaims = db.collection(collections.digestClaims);
    this.delivered = db.collection(collections.notificationKeys);
    this.hints = db.collection(collections.sequenceHints);
    this.followerSlots = new DenseSequence(db.collection<FollowerSlot>(collections.followerSlots));
    this.followerMarks = db.collection(collections.followerMarks);
  }

  /**
   * Forget what only guards against work done twice once that work cannot come again: event keys after
   * two days (a notify job is long finished or failed by then), mail claims after five weeks (a weekly
   * digest's period is over). FerretDB has no TTL index, so this runs on an interval.
   */
  async sweep(now = new Date()): Promise<void> {
    const day = 24 * 60 * 60 * 1000;
    await this.delivered.deleteMany({ at: { $lt: new Date(now.getTime() - 2 * day) } });
    await this.digestClaims.deleteMany({ at: { $lt: new Date(now.getTime() - 35 * day) } });
  }

  /** One notification read (`_id` = `<person>:<n>`). */
  async markRead(id: string): Promise<void> {
    await this.notifications.collection.updateOne({ _id: id }, { $set: { readAt: new Date() } });
  }

  /** A person's stored notification state; null before they have one. */
  storedState(userId: ObjectId): Promise<NotificationStateDoc | null> {
    return this.state.findOne({ _id: userId });
  }

  /** Whether a person has a notification state document yet (an `_id` read). */
  async hasState(userId: ObjectId): Promise<boolean> {
    return (await this.state.findOne({ _id: userId }, { projection: { _id: 1 } })) !== null;
  }

  /** Everyone who asked for a daily or weekly digest, with what the digest sweep needs of them. */
  digestReaders(): Promise<Pick<NotificationStateDoc, '_id' | 'email' | 'readUpTo'>[]> {
    return this.state
      .find({ email: { $in: ['daily', 'weekly'] } }, { projection: { _id: 1, email: 1, readUpTo: 1 } })
      .toArray();
  }

  /** Take a mail claim (`digestClaims`): false when it is held already. */
  takeMailClaim(id: string, at: Date): Promise<boolean> {
    return insertOnce(this.digestClaims, { _id: id, at });
  }

  mailClaim(id: string): Promise<MailClaimDoc | null> {
    return this.digestClaims.findOne({ _id: id });
  }

  /** A mail claim given back; with `at`, only the claim taken then (a takeover of a stale one). */
  async releaseMailClaim(id: string, at?: Date): Promise<void> {
    await this.digestClaims.deleteOne(at ? { _id: id, at } : { _id: id });
  }

  /** The mail of a claim sent: it covered the person's notifications up to `upTo`. */
  async finishMailClaim(id: string, upTo: number): Promise<void> {
    await this.digestClaims.updateOne({ _id: id }, { $set: { upTo } });
  }

  /** An event's key for one person given back: the retried job notifies them. */
  async forgetDelivered(key: string): Promise<void> {
    await this.delivered.deleteOne({ _id: key });
  }

  async stateOf(userId: ObjectId): Promise<NotificationStateDoc> {
    return (await this.state.findOne({ _id: userId })) ?? { _id: userId, ...STATE_DEFAULTS };
  }

  /**
   * Give a person the default state document if they have none (the digest sweep finds people by it).
   * An insert, so it never changes a state that exists.
   */
  async ensureState(userId: ObjectId): Promise<void> {
    await insertOnce(this.state, { _id: userId, ...STATE_DEFAULTS });
  }

  /** Change a person's own choices, created with the defaults (as `stateOf` reads them) on first use. */
  updateState(
    userId: ObjectId,
    update: { $set?: Partial<NotificationStateDoc>; $max?: Partial<NotificationStateDoc> },
  ): Promise<void> {
    const touched = new Set([...Object.keys(update.$set ?? {}), ...Object.keys(update.$max ?? {})]);
    const defaults = Object.entries(STATE_DEFAULTS).filter(([field]) => !touched.has(field));
    return upsertOne(this.state, { _id: userId }, { ...update, $setOnInsert: Object.fromEntries(defaults) });
  }

  async progressOf(userId: ObjectId): Promise<MailProgressDoc> {
    return (await this.mailProgress.findOne({ _id: userId })) ?? { _id: userId, mailedUpTo: 0 };
  }

  updateProgress(
    userId: ObjectId,
    update: { $set?: { digested: string }; $max?: { mailedUpTo: number } },
  ): Promise<void> {
    return upsertOne(this.mailProgress, { _id: userId }, update);
  }

  private hintId(userHex: string) {
    return `notifications:${userHex}`;
  }

  /** The newest notification position the hint knows of (0 when none). */
  async headHint(userHex: string): Promise<number> {
    return (await this.hints.findOne({ _id: this.hintId(userHex) }))?.n ?? 0;
  }

  /** The person's newest notification position, found from the hint. */
  async head(userHex: string): Promise<number> {
    return this.notifications.head(userHex, await this.headHint(userHex));
  }

  recordHead(userHex: string, n: number): Promise<void> {
    return upsertOne(this.hints, { _id: this.hintId(userHex) }, { $max: { n } });
  }

  level(userId: ObjectId, kind: 'group' | 'thread', targetId: ObjectId) {
    return this.subscriptions.findOne({ _id: subscriptionId(userId, kind, targetId) });
  }

  /** Several people's choices for one group or thread, in one query (`_id` `$in`, ADR 0013), by person. */
  async levels(userIds: ObjectId[], kind: 'group' | 'thread', targetId: ObjectId) {
    const ids = userIds.map((u) => subscriptionId(u, kind, targetId));
    const found = ids.length ? await this.subscriptions.find({ _id: { $in: ids } }).toArray() : [];
    const byId = new Map(found.map((s) => [s._id, s]));
    return new Map(userIds.map((u, i) => [u.toHexString(), byId.get(ids[i]!) ?? null]));
  }

  /** Follow a thread unless the person chose otherwise before (an explicit `none` stays). */
  async follow(userId: ObjectId, threadId: ObjectId): Promise<void> {
    await upsertOne(
      this.subscriptions,
      { _id: subscriptionId(userId, 'thread', threadId) },
      {
        $setOnInsert: { userId, kind: 'thread', targetId: threadId, level: 'all', updatedAt: new Date() },
      },
    );
    await this.list(userId, 'thread', threadId);
  }

  /**
   * Put a person on a group's or thread's follower list, once. The entry goes in before the mark, so a
   * crash in between lists them twice at worst (the fan-out counts each person once), never not at all.
   */
  async list(userId: ObjectId, kind: 'group' | 'thread', targetId: ObjectId): Promise<void> {
    const prefix = followerListId(kind, targetId);
    const mark = `${prefix}:${userId.toHexString()}`;
    if (await this.followerMarks.findOne({ _id: mark })) return;
    await this.followerSlots.append(prefix, 0, (n, _id) => ({ _id, n, userId }));
    await insertOnce(this.followerMarks, { _id: mark });
  }

  /** People whose choice for a group or thread is now `all`: its follower list, checked person by person. */
  async followers(kind: 'group' | 'thread', targetId: ObjectId): Promise<ObjectId[]> {
    const prefix = followerListId(kind, targetId);
    const head = await this.followerSlots.head(prefix);
    const seen = new Set<string>();
    const found: ObjectId[] = [];
    for (let from = 1; from <= head; from += FOLLOWER_PAGE) {
      const positions = Array.from({ length: Math.min(FOLLOWER_PAGE, head - from + 1) }, (_, i) => from + i);
      const people = (await this.followerSlots.getMany(prefix, positions))
        .map((slot) => slot?.userId)
        .filter((u): u is ObjectId => u !== undefined && !seen.has(u.toHexString()));
      for (const u of people) seen.add(u.toHexString());
      const choices = await this.levels(people, kind, targetId);
      for (const u of people) if (choices.get(u.toHexString())?.level === 'all') found.push(u);
    }
    return found;
  }
}
