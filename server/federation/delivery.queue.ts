import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import { collections } from '../db/collections.js';
import { isDuplicateKey } from '../db/errors.js';
import { claimsOf, takeClaims, type ClaimDoc } from '../jobs/claims.js';

/** One activity, stored once however many inboxes it goes to. */
export interface OutgoingActivityDoc {
  _id: string;
  actorId: string;
  body: string;
  createdAt: Date;
}

/** One activity to one inbox. `_id` = `<activity> <inbox>`: the same pair is queued once (shared inboxes). */
export interface DeliveryDoc {
  _id: string;
  activityId: string;
  actorId: string;
  inbox: string;
  host: string;
  runAt: Date;
  attempts: number;
  /** Claims taken so far; the next claim is `<delivery>#<claims + 1>`. */
  claims: number;
  /** Until when the current claim holds (epoch when unclaimed). */
  leaseUntil: Date;
  state: 'pending' | 'failed';
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
}

/** A remote host's health as deliveries see it (shared by every process). */
export interface HostDoc {
  _id: string;
  consecutiveFailures: number;
  /** Nothing is sent to the host before this time (the circuit is open). */
  openUntil: Date;
  /** How many times the circuit opened in a row (its next opening lasts longer). */
  opened: number;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
}

export const NEVER = new Date(0);

/**
 * The persistent delivery queue (ADR 0009): deliveries are documents, claimed by inserting a unique claim
 * document (FerretDB's updates are not atomic), leased, and deleted once the receiver has the activity.
 * A crashed worker's deliveries are claimed again when their lease runs out: at-least-once, and receivers
 * deduplicate by activity id.
 */
export class DeliveryQueue {
  readonly activities: Collection<OutgoingActivityDoc>;
  readonly deliveries: Collection<DeliveryDoc>;
  readonly hosts: Collection<HostDoc>;
  private readonly claimsCol: Collection<ClaimDoc>;
  private readonly listeners = new Set<() => void>();

  constructor(db: Db) {
    this.activities = db.collection<OutgoingActivityDoc>(collections.fedActivities);
    this.deliveries = db.collection<DeliveryDoc>(collections.fedDeliveries);
    this.hosts = db.collection<HostDoc>(collections.fedHosts);
    this.claimsCol = claimsOf(db);
  }

  /** Wake the workers of this process (they also poll). */
  onEnqueue(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** Queue one activity for these inboxes; inboxes already queued for it are not queued again. */
  async enqueue(actorId: string, body: string, inboxes: string[]): Promise<number> {
    const parsed = JSON.parse(body) as { id?: unknown };
    if (typeof parsed.id !== 'string') throw new Error('an outgoing activity needs an id');
    const activityId = parsed.id;
    const now = new Date();
    await this.activities
      .insertOne({ _id: activityId, actorId, body, createdAt: now })
      .catch((err: unknown) => {
        if (!isDuplicateKey(err)) throw err;
      });
    const unique = [...new Set(inboxes)];
    if (!unique.length) return 0;
    const docs: DeliveryDoc[] = unique.map((inbox) => ({
      _id: `${activityId} ${inbox}`,
      activityId,
      actorId,
      inbox,
      host: new URL(inbox).host.toLowerCase(),
      runAt: now,
      attempts: 0,
      claims: 0,
      leaseUntil: NEVER,
      state: 'pending',
      lastStatus: null,
      lastError: null,
      createdAt: now,
    }));
    let inserted = docs.length;
    try {
      await this.deliveries.insertMany(docs, { ordered: false });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      inserted = (err as { insertedCount?: number }).insertedCount ?? 0;
    }
    for (const listener of this.listeners) listener();
    return inserted;
  }

  /** Deliveries due now, oldest first (leased ones are someone else's). */
  due(limit: number, now = new Date(), skipHosts: string[] = []): Promise<DeliveryDoc[]> {
    return this.deliveries
      .find({
        state: 'pending',
        runAt: { $lte: now },
        leaseUntil: { $lte: now },
        ...(skipHosts.length ? { host: { $nin: skipHosts } } : {}),
      })
      .sort({ runAt: 1 })
      .limit(limit)
      .toArray();
  }

  /**
   * Claim these deliveries for `leaseMs`; returns the ones this worker won. A claim is named after the
   * delivery, when it was queued and the claim number, so a delivery queued again later starts afresh.
   */
  async claim(candidates: DeliveryDoc[], owner: string, leaseMs: number): Promise<DeliveryDoc[]> {
    if (!candidates.length) return [];
    const at = new Date();
    const key = (d: DeliveryDoc) => `delivery:${d._id}#${d.createdAt.getTime()}#${d.claims + 1}`;
    const won = await takeClaims(
      this.claimsCol,
      candidates.map((d) => ({ _id: key(d), owner, at })),
    );
    const mine = candidates.filter((d) => won.has(key(d)));
    await this.repairLostClaims(
      candidates.filter((d) => !won.has(key(d))),
      key,
      leaseMs,
    );
    if (!mine.length) return [];
    const leaseUntil = new Date(Date.now() + leaseMs);
    await this.deliveries.bulkWrite(
      mine.map((d) => ({
        updateOne: { filter: { _id: d._id }, update: { $set: { leaseUntil, claims: d.claims + 1 } } },
      })),
      { ordered: false },
    );
    return mine.map((d) => ({ ...d, claims: d.claims + 1, leaseUntil }));
  }

  /**
   * FerretDB writes an update back over the whole document, so a slow worker's late write can put back an
   * older claim count; its next claim would then always be taken. A claim that is older than two leases
   * while its delivery is free again is such a leftover: count past it, and the next poll claims afresh.
   */
  private async repairLostClaims(
    lost: DeliveryDoc[],
    key: (d: DeliveryDoc) => string,
    leaseMs: number,
  ): Promise<void> {
    if (!lost.length) return;
    const stale = new Date(Date.now() - 2 * leaseMs);
    const old = await this.claimsCol.find({ _id: { $in: lost.map(key) }, at: { $lt: stale } }).toArray();
    const staleKeys = new Set(old.map((c) => c._id));
    for (const d of lost.filter((l) => staleKeys.has(key(l))))
      await this.deliveries.updateOne({ _id: d._id, claims: d.claims }, { $set: { claims: d.claims + 1 } });
  }

  /** Delivered: gone from the queue. */
  async done(ids: string[]): Promise<void> {
    if (ids.length) await this.deliveries.deleteMany({ _id: { $in: ids } });
  }

  /** Not delivered: try again at `runAt`, or keep as failed. */
  async settle(
    updates: { id: string; runAt: Date | null; attempts: number; status: number | null; error: string }[],
  ): Promise<void> {
    if (!updates.length) return;
    const ops: AnyBulkWriteOperation<DeliveryDoc>[] = updates.map((u) => ({
      updateOne: {
        filter: { _id: u.id },
        update: {
          $set: {
            attempts: u.attempts,
            lastStatus: u.status,
            lastError: u.error.slice(0, 500),
            leaseUntil: NEVER,
            ...(u.runAt ? { runAt: u.runAt } : { state: 'failed' as const }),
          },
        },
      },
    }));
    await this.deliveries.bulkWrite(ops, { ordered: false });
  }

  body(activityId: string): Promise<OutgoingActivityDoc | null> {
    return this.activities.findOne({ _id: activityId });
  }

  /** Claims and activities nobody needs any more (run from the worker's sweep). */
  async sweep(olderThan: Date): Promise<void> {
    // Delivery claims only: the job queue deletes its own when a job finishes.
    await this.claimsCol.deleteMany({ _id: { $regex: /^delivery:/ }, at: { $lt: olderThan } });
    await this.activities.deleteMany({ createdAt: { $lt: olderThan } });
  }

  async counts(): Promise<{ queued: number; failed: number }> {
    const [queued, failed] = await Promise.all([
      this.deliveries.countDocuments({ state: 'pending' }),
      this.deliveries.countDocuments({ state: 'failed' }),
    ]);
    return { queued, failed };
  }
}
