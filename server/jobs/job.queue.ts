import { randomUUID } from 'node:crypto';
import { ObjectId, type Collection, type Db } from 'mongodb';
import type { Logger } from '../core/logger.js';
import { BatchInserter } from '../db/batch.insert.js';
import { collections } from '../db/collections.js';
import { claimsOf, takeClaims, type ClaimDoc } from './claims.js';

export interface JobDoc {
  _id: ObjectId;
  queue: string;
  payload: Record<string, unknown>;
  /** Earliest time to run (backoff after a failure). */
  runAt: Date;
  /** Claims taken so far; the next claim is `<job>:<claims + 1>`. */
  claims: number;
  /**
   * Until when the current claim holds; a crashed worker's job is claimed again after it. NO_LEASE (the
   * epoch) when nobody holds it: a date either way, so the due query is served by the database (ADR 0041).
   */
  leaseUntil: Date;
  failures: number;
  lastError: string | null;
  state: 'pending' | 'failed';
  createdAt: Date;
}

export interface QueueOptions {
  /** How long a claim holds without being finished. */
  leaseMs: number;
  /** Attempts before the job is kept as failed. */
  maxFailures: number;
  /** Backoff after the nth failure, before jitter. */
  backoffMs: (failures: number) => number;
  /** Jobs run at once by this process. */
  concurrency: number;
}

/**
 * The jobs of a queue that are due and held by nobody, first due first. Jobs held by a live lease are left
 * out, so they cannot crowd out the backlog. Equality and ranges only, sorted by `runAt`: FerretDB (as
 * Ensemble builds it) walks the `ordered_due` index within the queue and stops at the page, instead of
 * reading every job of the queue on each poll (ADR 0041).
 */
export function dueQuery(queue: string, now: Date) {
  return {
    filter: { queue, state: 'pending' as const, runAt: { $lte: now }, leaseUntil: { $lte: now } },
    sort: { runAt: 1 as const },
  };
}

/** A job's `leaseUntil` while nobody holds it. */
export const NO_LEASE = new Date(0);

type Handler = (payload: Record<string, unknown>, job: JobDoc) => Promise<void>;

/**
 * The job system every background task runs on (docs/architecture.md, "Background jobs"): jobs are documents,
 * workers in any number of processes claim them, a claim is a lease, a finished job is deleted, a failed
 * one is retried with backoff and jitter, and a crashed worker's job is claimed again when its lease ends.
 * At-least-once: handlers must be idempotent.
 */
export class JobQueue {
  private readonly jobs: Collection<JobDoc>;
  private readonly inserts: BatchInserter<JobDoc>;
  private readonly claims: Collection<ClaimDoc>;
  private readonly handlers = new Map<string, { handler: Handler; options: QueueOptions }>();
  private readonly owner = randomUUID();
  /** Jobs in hand, per queue. */
  private readonly running = new Map<string, Set<Promise<void>>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private polling: Promise<void> | undefined;
  private readonly settledListeners: ((
    queue: string,
    outcome: 'completed' | 'retried' | 'failed',
    seconds: number,
  ) => void)[] = [];

  constructor(
    db: Db,
    private readonly logger: Logger,
    private readonly pollMs = 500,
    /** How long a claim holds unless a queue says otherwise (JOBS_LEASE_MS). */
    private readonly defaultLeaseMs = 60_000,
  ) {
    this.jobs = db.collection<JobDoc>(collections.jobs);
    this.inserts = new BatchInserter(this.jobs);
    this.claims = claimsOf(db);
  }

  register(queue: string, handler: Handler, options: Partial<QueueOptions> = {}): void {
    this.handlers.set(queue, {
      handler,
      options: {
        leaseMs: this.defaultLeaseMs,
        maxFailures: 5,
        backoffMs: (n) => Math.min(2 ** n * 1000, 3_600_000),
        concurrency: 2,
        ...options,
      },
    });
  }

  /** Called once per job this process ran: completed, retried later, or failed for good (metrics). */
  onSettled(
    listener: (queue: string, outcome: 'completed' | 'retried' | 'failed', seconds: number) => void,
  ): void {
    this.settledListeners.push(listener);
  }

  /** Per registered queue: jobs pending and failed (all processes), and running in this process. */
  async counts(): Promise<{ queue: string; pending: number; failed: number; running: number }[]> {
    return Promise.all(
      [...this.handlers.keys()].map(async (queue) => ({
        queue,
        // Both lead with the `due` index's first field.
        pending: await this.jobs.countDocuments({ queue, state: 'pending' }),
        failed: await this.jobs.countDocuments({ queue, state: 'failed' }),
        running: this.running.get(queue)?.size ?? 0,
      })),
    );
  }

  private settled(queue: string, outcome: 'completed' | 'retried' | 'failed', startedAt: number): void {
    const seconds = (performance.now() - startedAt) / 1000;
    for (const listener of this.settledListeners) listener(queue, outcome, seconds);
  }

  async enqueue(queue: string, payload: Record<string, unknown>, runAt = new Date()): Promise<ObjectId> {
    const _id = new ObjectId();
    const now = new Date();
    const entry = this.handlers.get(queue);
    const running = this.runningOf(queue);
    // A job this process can run now is written already claimed by it (its first claim, leased), and run as
    // soon as it is written: no poll, no claim, no update before it starts (docs/adr/0048-jobs-in-hand.md).
    // Should this process stop first, the job is taken over once its lease runs out, as any claimed job is.
    const inHand =
      !this.stopped && entry !== undefined && runAt <= now && running.size < entry.options.concurrency;
    const job: JobDoc = {
      _id,
      queue,
      payload,
      runAt,
      claims: inHand ? 1 : 0,
      leaseUntil: inHand ? new Date(now.getTime() + entry.options.leaseMs) : NO_LEASE,
      failures: 0,
      lastError: null,
      state: 'pending',
      createdAt: now,
    };
    // Its place among the queue's running jobs is held while it is written.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    if (inHand) running.add(held);
    try {
      // Jobs queued at once (a busy inbox's notifications) go in one insert.
      await this.inserts.insert(job);
    } finally {
      running.delete(held);
      release();
    }
    // A process that began stopping meanwhile leaves the job to the lease's end (it is closing its database).
    if (inHand && !this.stopped) this.begin(queue, running, job);
    else this.kick(queue);
    return _id;
  }

  private runningOf(queue: string): Set<Promise<void>> {
    let running = this.running.get(queue);
    if (!running) this.running.set(queue, (running = new Set()));
    return running;
  }

  /** Run a job this process holds, among its queue's running ones; the next due job follows when it ends. */
  private begin(queue: string, running: Set<Promise<void>>, job: JobDoc): void {
    const run: Promise<void> = this.run(job)
      .catch((err: unknown) => this.logger.error({ err, queue }, 'job bookkeeping failed'))
      .finally(() => {
        running.delete(run);
        // The next due job of the queue is taken as soon as there is room, not at the next poll.
        this.kick(queue);
      });
    running.add(run);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Stop claiming, and wait for the jobs in hand (their leases would otherwise have to run out). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
    await Promise.allSettled(this.inHand());
  }

  private inHand(): Promise<void>[] {
    return [...this.running.values()].flatMap((set) => [...set]);
  }

  /** Run what is due now and wait for it (tests and shutdown use this). */
  async drain(): Promise<void> {
    for (;;) {
      await this.poll();
      const inHand = this.inHand();
      if (!inHand.length) return;
      await Promise.allSettled(inHand);
    }
  }

  /** Look for due jobs (of one queue: the one just given a job; every queue on the timer). */
  private kick(queue?: string): void {
    if (this.stopped || this.polling) return;
    this.polling = this.poll(queue)
      .catch((err: unknown) => this.logger.error({ err }, 'job queue poll failed'))
      .finally(() => {
        this.polling = undefined;
      });
  }

  private async poll(only?: string): Promise<void> {
    const now = new Date();
    for (const [queue, { options }] of this.handlers) {
      if (only && queue !== only) continue;
      const running = this.runningOf(queue);
      if (running.size >= options.concurrency) continue;
      const { filter, sort } = dueQuery(queue, now);
      const due = await this.jobs
        .find(filter)
        .sort(sort)
        .limit(options.concurrency * 4)
        .toArray();
      for (const job of due) {
        if (running.size >= options.concurrency) break;
        if (!(await this.claim(job, options))) continue;
        this.begin(queue, running, job);
      }
    }
  }

  private async claim(job: JobDoc, options: QueueOptions): Promise<boolean> {
    const n = job.claims + 1;
    // A job whose worker died every time (e.g. killed for memory) is not claimed forever: claims count too.
    if (job.claims >= options.maxFailures * 2) {
      await this.jobs.updateOne(
        { _id: job._id },
        { $set: { state: 'failed', lastError: `claimed ${job.claims} times without finishing` } },
      );
      this.logger.error(
        { queue: job.queue, job: job._id.toHexString() },
        'job abandoned after repeated crashes',
      );
      return false;
    }
    const key = `${job._id.toHexString()}:${n}`;
    const won = await takeClaims(this.claims, [
      { _id: key, jobId: job._id, owner: this.owner, at: new Date() },
    ]);
    if (!won.has(key)) {
      await this.repairLostClaim(job, key, options);
      return false;
    }
    // A worker that read the job before another finished it (finished jobs are deleted, their claims
    // with them) could take a claim number again: the job must still be there, at the claim it expected.
    const fresh = await this.jobs.findOne({ _id: job._id });
    if (!fresh || fresh.claims !== job.claims || fresh.state !== 'pending') {
      await this.claims.deleteOne({ _id: `${job._id.toHexString()}:${n}` });
      return false;
    }
    await this.jobs.updateOne(
      { _id: job._id },
      { $set: { claims: n, leaseUntil: new Date(Date.now() + options.leaseMs) } },
    );
    return true;
  }

  /**
   * A claim inserted by a worker that died (or failed) before recording it on the job, or a claim count put
   * back by FerretDB's whole-document write-back, would be lost by every later poll: once the job's lease has
   * run out and the claim is older than two leases, the job's count moves past it.
   */
  private async repairLostClaim(job: JobDoc, key: string, options: QueueOptions): Promise<void> {
    const now = Date.now();
    if (job.leaseUntil && job.leaseUntil.getTime() > now) return;
    const claim = await this.claims.findOne({ _id: key });
    if (claim && now - claim.at.getTime() > 2 * options.leaseMs)
      await this.jobs.updateOne({ _id: job._id, claims: job.claims }, { $set: { claims: job.claims + 1 } });
  }

  private async run(job: JobDoc): Promise<void> {
    const entry = this.handlers.get(job.queue);
    if (!entry) return;
    // Renew the lease while the handler works, so a long job is not taken over by another worker.
    const renew = setInterval(() => {
      this.jobs
        .updateOne({ _id: job._id }, { $set: { leaseUntil: new Date(Date.now() + entry.options.leaseMs) } })
        .catch((err: unknown) => this.logger.warn({ err }, 'job lease renewal failed'));
    }, entry.options.leaseMs / 3);
    renew.unref();
    const startedAt = performance.now();
    try {
      await entry.handler(job.payload, job);
      await this.jobs.deleteOne({ _id: job._id });
      await this.claims.deleteMany({ jobId: job._id });
      this.settled(job.queue, 'completed', startedAt);
    } catch (err) {
      const failures = job.failures + 1;
      const message = err instanceof Error ? err.message : String(err);
      const failed = failures >= entry.options.maxFailures;
      const delay = entry.options.backoffMs(failures) * (0.5 + Math.random());
      await this.jobs.updateOne(
        { _id: job._id },
        {
          $set: {
            failures,
            lastError: message.slice(0, 1000),
            leaseUntil: NO_LEASE,
            runAt: new Date(Date.now() + delay),
            state: failed ? 'failed' : 'pending',
          },
        },
      );
      this.settled(job.queue, failed ? 'failed' : 'retried', startedAt);
      this.logger[failed ? 'error' : 'warn'](
        { queue: job.queue, job: job._id.toHexString(), failures, err: message },
        failed ? 'job failed for good' : 'job failed; retrying later',
      );
    } finally {
      clearInterval(renew);
    }
  }
}
