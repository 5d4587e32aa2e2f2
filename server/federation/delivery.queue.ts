import { createHash } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { collections } from '../db/collections.js';
import { DocumentLocks } from '../db/document.lock.js';
import { insertOnce, isDuplicateKey, upsertOne } from '../db/errors.js';
import { claimsOf, takeClaims, type ClaimDoc } from '../jobs/claims.js';

/** One activity, stored once however many inboxes it goes to. */
export interface OutgoingActivityDoc {
  _id: string;
  actorId: string;
  body: string;
  createdAt: Date;
}

/**
 * Deliveries of one activity to up to BATCH_SIZE inboxes, claimed and leased as one (ADR 0009). Inboxes
 * that fail are moved into a new batch (retry, or waiting for a host's circuit), or into one `failed`
 * document each; a batch is deleted once all its inboxes are settled.
 */
export interface DeliveryDoc {
  _id: string;
  /** The batch first queued for these inboxes: what retries and waits are named after. */
  root: string;
  /** When the activity was first queued for these inboxes (a delivery is given up after the schedule). */
  queuedAt: Date;
  activityId: string;
  actorId: string;
  inboxes: string[];
  /** Attempts these inboxes have already failed. */
  attempts: number;
  runAt: Date;
  /** Claims taken so far; a claim's `_id` ends with the claim number. */
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
export const BATCH_SIZE = 50;

export const hashOf = (parts: string[]) =>
  createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);

/** How long batches queued behind another activity are kept from polls (`enqueue`). */
export const BEHIND_HOLD_MS = 10_000;

/** What `enqueue` just wrote: its batches and the activity's body (a worker here sends them at once). */
export interface Queued {
  batches: DeliveryDoc[];
  /** The first `leased` batches were written leased to the worker that reserved them (`Taker.reserve`). */
  leased: number;
  body: string;
  /** An activity whose deliveries from this process go out first. */
  behind?: string | undefined;
}

/**
 * A worker of this process that takes what is queued here at once. `reserve` says how many of `count` new
 * batches it takes now (they are written already leased to it, for `leaseMs`); `release` gives back a
 * reservation whose batches were not written.
 */
export interface Taker {
  reserve(count: number): { count: number; leaseMs: number };
  release(count: number): void;
  take(queued: Queued): void;
  /** Whether it is sending this activity's deliveries now. */
  isSending(activityId: string): boolean;
}

/**
 * The persistent delivery queue: batches are claimed by inserting unique claims (the job system's
 * primitive, `server/jobs/claims.ts`), leased, renewed while being sent, and settled by the claim's holder
 * only (every write is fenced on the claim count: FerretDB writes updates back over whole documents).
 * A crashed worker's batch is claimed again when its lease runs out: at-least-once; receivers deduplicate
 * by activity id.
 */
export class DeliveryQueue {
  readonly activities: Collection<OutgoingActivityDoc>;
  readonly deliveries: Collection<DeliveryDoc>;
  readonly hosts: Collection<HostDoc>;
  private readonly claimsCol: Collection<ClaimDoc>;
  private readonly takers = new Set<Taker>();
  /** A host's health is written by every worker of every process that sends to it: one at a time (ADR 0010). */
  private readonly locks: DocumentLocks;

  constructor(db: Db) {
    this.activities = db.collection<OutgoingActivityDoc>(collections.fedActivities);
    this.deliveries = db.collection<DeliveryDoc>(collections.fedDeliveries);
    this.hosts = db.collection<HostDoc>(collections.fedHosts);
    this.claimsCol = claimsOf(db);
    this.locks = new DocumentLocks(db);
  }

  /**
   * Count a failed send to a host, from the host's state as it is now in the database (several workers, in
   * several processes, fail against one host at once: each failure counts once), and open its circuit at
   * `threshold` consecutive failures for `openMs(times opened in a row)`. A failure while the circuit is open
   * (a request sent before it opened) is not counted: null.
   */
  async hostFailed(
    host: string,
    failure: { at: Date; error: string; threshold: number; openMs: (opened: number) => number },
  ): Promise<HostDoc | null> {
    return this.locks.run(this.locks.keyOf(this.hosts, host), async () => {
      const current: HostDoc = (await this.hosts.findOne({ _id: host })) ?? {
        _id: host,
        consecutiveFailures: 0,
        openUntil: NEVER,
        opened: 0,
        lastSuccessAt: null,
        lastFailureAt: null,
        lastError: null,
      };
      if (current.openUntil.getTime() > failure.at.getTime()) return null;
      const next: HostDoc = {
        ...current,
        consecutiveFailures: current.consecutiveFailures + 1,
        lastFailureAt: failure.at,
        lastError: failure.error,
      };
      if (next.consecutiveFailures >= failure.threshold) {
        next.opened = current.opened + 1;
        next.openUntil = new Date(failure.at.getTime() + failure.openMs(next.opened));
      }
      const { _id, ...fields } = next;
      await upsertOne(this.hosts, { _id }, { $set: fields });
      return next;
    });
  }

  /** A send to a host succeeded: its failures are forgotten and its circuit closed. */
  async hostSucceeded(host: string, at: Date): Promise<void> {
    await this.locks.update(this.hosts, host, {
      $set: { consecutiveFailures: 0, opened: 0, openUntil: NEVER, lastSuccessAt: at },
    });
  }

  /** Wake the workers of this process with what was just queued (they also poll). */
  onEnqueue(taker: Taker): void {
    this.takers.add(taker);
  }

  /**
   * Queue one activity for these inboxes (each inbox once, however often it is listed). Its body is written
   * before its batches (for no inboxes, only its body): whatever a receiver gets, this node can serve back
   * at once (`/ap/s/:id`, while its JSON-LD form is being kept: ADR 0031). The inboxes may still be being
   * found (or wait for what must be fetchable first, `Outbox.send`): the body is written meanwhile.
   */
  async enqueue(
    actorId: string,
    body: string,
    inboxes: string[] | Promise<string[]>,
    options: { behind?: string | undefined } = {},
  ): Promise<number> {
    const parsed = JSON.parse(body) as { id?: unknown };
    if (typeof parsed.id !== 'string') throw new Error('an outgoing activity needs an id');
    const activityId = parsed.id;
    const now = new Date();
    const [, targets] = await Promise.all([
      insertOnce(this.activities, { _id: activityId, actorId, body, createdAt: now }),
      inboxes,
    ]);
    const unique = [...new Set(targets)];
    // Behind an activity only while a worker here is still sending it; otherwise it is out already. Batches
    // behind one are held from polls for a while (BEHIND_HOLD_MS): the worker sending the activity ahead
    // takes them once it is out, so they arrive after it; past that (that worker gone), any poll sends them.
    const behind =
      options.behind !== undefined && [...this.takers].some((t) => t.isSending(options.behind!))
        ? options.behind
        : undefined;
    const runAt = behind ? new Date(now.getTime() + BEHIND_HOLD_MS) : now;
    const docs: DeliveryDoc[] = [];
    for (let i = 0; i < unique.length; i += BATCH_SIZE) {
      const chunk = unique.slice(i, i + BATCH_SIZE);
      // The same activity queued again for the same inboxes is the same batch.
      const root = `${activityId}#${hashOf(chunk)}`;
      docs.push(this.batch(root, { root, queuedAt: now }, activityId, actorId, chunk, 0, runAt));
    }
    if (!docs.length) return unique.length;
    // A worker of this process takes the batches as they are written: leased to it already, so they need no
    // claim (one insert and one update fewer before the first delivery, ADR 0036). Not those queued behind
    // another activity: their lease would run while they wait.
    let taker: Taker | undefined;
    let reserved = { count: 0, leaseMs: 0 };
    for (const t of behind ? [] : this.takers) {
      reserved = t.reserve(docs.length);
      if (reserved.count) {
        taker = t;
        break;
      }
    }
    const leaseUntil = new Date(Date.now() + reserved.leaseMs);
    for (const doc of docs.slice(0, reserved.count)) Object.assign(doc, { claims: 1, leaseUntil });
    let written: Set<number>;
    try {
      written = await this.insertNew(docs);
    } catch (err) {
      taker?.release(reserved.count);
      throw err;
    }
    // A batch that was there already (the same activity queued again) is not this worker's: a poll finds it.
    const leased = docs.slice(0, reserved.count).filter((_, i) => written.has(i));
    if (taker && leased.length < reserved.count) taker.release(reserved.count - leased.length);
    const queued: Queued = {
      batches: [...leased, ...docs.slice(reserved.count).filter((_, i) => written.has(i + reserved.count))],
      leased: leased.length,
      body,
      behind,
    };
    // The leased batches are their holder's alone; any worker here may claim the others.
    const others: Queued = { ...queued, batches: queued.batches.slice(queued.leased), leased: 0 };
    for (const t of this.takers) {
      const mine = t === taker ? queued : others;
      if (mine.batches.length) t.take(mine);
    }
    return unique.length;
  }

  batch(
    _id: string,
    origin: { root: string; queuedAt: Date },
    activityId: string,
    actorId: string,
    inboxes: string[],
    attempts: number,
    runAt: Date,
  ): DeliveryDoc {
    return {
      _id,
      root: origin.root,
      queuedAt: origin.queuedAt,
      activityId,
      actorId,
      inboxes,
      attempts,
      runAt,
      claims: 0,
      leaseUntil: NEVER,
      state: 'pending',
      lastStatus: null,
      lastError: null,
      createdAt: new Date(),
    };
  }

  /** Insert batches, ignoring those already there (settling a batch twice inserts the same ones). */
  async insert(docs: DeliveryDoc[]): Promise<void> {
    await this.insertNew(docs);
  }

  /** `insert`, telling which of the batches (by index) were not there before. */
  private async insertNew(docs: DeliveryDoc[]): Promise<Set<number>> {
    const all = new Set(docs.map((_, i) => i));
    if (!docs.length) return all;
    try {
      await this.deliveries.insertMany(docs, { ordered: false });
      return all;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const failed = (err as { writeErrors?: { index: number }[] }).writeErrors;
      // Which ones were there is unknown: none is taken as new (a poll finds those that are).
      if (!failed?.length) return new Set();
      for (const e of failed) all.delete(e.index);
      return all;
    }
  }

  /** Batches due now, oldest first (leased ones are someone else's). */
  due(limit: number, now = new Date()): Promise<DeliveryDoc[]> {
    return this.deliveries
      .find({ state: 'pending', runAt: { $lte: now }, leaseUntil: { $lte: now } })
      .sort({ runAt: 1 })
      .limit(limit)
      .toArray();
  }

  private claimKey(d: DeliveryDoc): string {
    return `delivery:${d._id}@${d.createdAt.getTime()}#${d.claims + 1}`;
  }

  /** Claim these batches for `leaseMs`; returns the ones this worker won, as it now holds them. */
  async claim(candidates: DeliveryDoc[], owner: string, leaseMs: number): Promise<DeliveryDoc[]> {
    if (!candidates.length) return [];
    const at = new Date();
    const won = await takeClaims(
      this.claimsCol,
      candidates.map((d) => ({ _id: this.claimKey(d), owner, at })),
    );
    await this.repairLostClaims(
      candidates.filter((d) => !won.has(this.claimKey(d))),
      leaseMs,
    );
    const mine = candidates.filter((d) => won.has(this.claimKey(d)));
    const leaseUntil = new Date(Date.now() + leaseMs);
    const held: DeliveryDoc[] = [];
    for (const d of mine) {
      const result = await this.deliveries.updateOne(
        { _id: d._id, claims: d.claims },
        { $set: { leaseUntil, claims: d.claims + 1 } },
      );
      if (result.matchedCount) held.push({ ...d, claims: d.claims + 1, leaseUntil });
    }
    return held;
  }

  /** Batches held behind another activity (`enqueue`), due now for any worker. */
  async makeDue(batches: DeliveryDoc[]): Promise<void> {
    await this.deliveries.updateMany(
      { _id: { $in: batches.map((b) => b._id) }, state: 'pending', claims: 0 },
      { $set: { runAt: new Date() } },
    );
  }

  /** Keep holding a batch being sent. */
  async renew(d: DeliveryDoc, leaseMs: number): Promise<void> {
    await this.deliveries.updateOne(
      { _id: d._id, claims: d.claims },
      { $set: { leaseUntil: new Date(Date.now() + leaseMs) } },
    );
  }

  /** The batch is settled: what still needs doing was inserted as new documents first. */
  async finish(d: DeliveryDoc, next: DeliveryDoc[]): Promise<void> {
    await this.insert(next);
    await this.deliveries.deleteOne({ _id: d._id, claims: d.claims });
  }

  /**
   * FerretDB writes an update back over the whole document, so a late write can put back an older claim
   * count; the next claim would then always be taken. A claim older than two leases on a batch that is
   * free again is such a leftover: count past it, and the next poll claims afresh.
   */
  private async repairLostClaims(lost: DeliveryDoc[], leaseMs: number): Promise<void> {
    if (!lost.length) return;
    const stale = new Date(Date.now() - 2 * leaseMs);
    const keys = lost.map((d) => this.claimKey(d));
    const old = new Set(
      (await this.claimsCol.find({ _id: { $in: keys }, at: { $lt: stale } }).toArray()).map((c) => c._id),
    );
    for (const d of lost.filter((l) => old.has(this.claimKey(l))))
      await this.deliveries.updateOne({ _id: d._id, claims: d.claims }, { $set: { claims: d.claims + 1 } });
  }

  body(activityId: string): Promise<OutgoingActivityDoc | null> {
    return this.activities.findOne({ _id: activityId });
  }

  /** Claims and activities nobody needs any more (run from the worker's sweep). */
  async sweep(olderThan: Date): Promise<void> {
    // Delivery claims only: the job queue deletes its own when a job finishes.
    await this.claimsCol.deleteMany({ _id: { $regex: /^delivery:/ }, at: { $lt: olderThan } });
    const pending = new Set(
      (await this.deliveries.find({ state: 'pending' }, { projection: { activityId: 1 } }).toArray()).map(
        (d) => d.activityId,
      ),
    );
    const old = await this.activities
      .find({ createdAt: { $lt: olderThan } }, { projection: { _id: 1 } })
      .toArray();
    const unused = old.map((a) => a._id).filter((id) => !pending.has(id));
    if (unused.length) await this.activities.deleteMany({ _id: { $in: unused } });
  }

  async counts(): Promise<{ queued: number; failed: number }> {
    const pending = await this.deliveries
      .find({ state: 'pending' }, { projection: { inboxes: 1 } })
      .toArray();
    const failed = await this.deliveries.countDocuments({ state: 'failed' });
    return { queued: pending.reduce((sum, d) => sum + d.inboxes.length, 0), failed };
  }
}
