import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { HostCircuits } from './delivery.circuit.js';
import { Handing } from './delivery.gates.js';
import { BATCH_SIZE, type DeliveryDoc, type DeliveryQueue, type Queued } from './delivery.queue.js';
import { DeliveryRetries, type Settled } from './delivery.retry.js';
import { DeliverySender } from './delivery.sender.js';
import type { KeyStore } from './federation.keys.js';
import type { FederationPolicy } from './federation.policy.js';
import type { OutboundPolicy } from './outbound.js';
import { SignatureNegotiator } from './signature.negotiator.js';

export { retryDelayMs } from './delivery.retry.js';

export interface DeliveryOptions {
  /** Deliveries in flight in this process. */
  concurrency: number;
  /** Deliveries in flight to one host from this process. */
  perHost: number;
  /** First retry delay; each later one doubles (capped at 12 h), with jitter. */
  retryBaseMs: number;
  /** Attempts before a delivery is kept as failed (14 from 30 s: about two days). */
  maxAttempts: number;
  /** Consecutive failures that open a host's circuit. */
  circuitThreshold: number;
  leaseMs: number;
  pollMs: number;
}

export const defaultDeliveryOptions: Pick<DeliveryOptions, 'circuitThreshold' | 'pollMs'> = {
  circuitThreshold: 5,
  pollMs: 1000,
};

const SWEEP_EVERY_MS = 3600_000;

export interface DeliveryMetrics {
  queued: number;
  inFlight: number;
  failed: number;
  delivered: number;
  hosts: {
    host: string;
    state: 'closed' | 'open' | 'half-open';
    consecutiveFailures: number;
    openUntil: string | null;
  }[];
}

/**
 * Sends queued deliveries (replacing apex's serial loop, docs/federation.md, "What the node sends"). Batches of one activity's
 * inboxes are claimed from the queue; their inboxes go out many at once, a few per host, each signed at send
 * time with its actor's key from the key store. 2xx is delivered; 4xx other than 408 and 429 is permanent
 * (kept as failed, not retried); anything else is retried with exponential backoff and jitter. A host that
 * keeps failing has its circuit opened: its inboxes wait, then one probe goes, and the first success closes it.
 */
export class DeliveryWorker {
  private readonly owner = randomUUID();
  private readonly inHand = new Map<string, Promise<void>>();
  private readonly circuits: HostCircuits;
  private readonly sender: DeliverySender;
  private readonly retries: DeliveryRetries;
  /** Batches being claimed straight after they were queued (`takeQueued`). */
  private claiming = 0;
  /** Per activity queued here: until its batches taken at once are sent and settled (`takeQueued`). */
  private readonly sending = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private lastSweep = 0;
  private delivered = 0;
  private readonly outcomeListeners: ((outcome: Settled, host: string) => void)[] = [];
  private readonly sendingListeners: ((handed: Promise<void>) => void)[] = [];

  constructor(
    private readonly queue: DeliveryQueue,
    keys: KeyStore,
    outbound: OutboundPolicy,
    policy: FederationPolicy,
    private readonly options: DeliveryOptions,
    private readonly logger: Logger,
    userAgent: string,
    /** Which scheme each host is signed with (shared with the fetcher). */
    signatures = new SignatureNegotiator(),
  ) {
    this.circuits = new HostCircuits(queue, options, logger);
    this.sender = new DeliverySender(
      queue,
      keys,
      outbound,
      policy,
      this.circuits,
      options,
      userAgent,
      signatures,
    );
    this.retries = new DeliveryRetries(queue, options);
    queue.onEnqueue({
      reserve: (count) => this.reserve(count),
      release: (count) => {
        this.claiming -= count;
      },
      take: (queued) => this.takeQueued(queued),
      isSending: (activityId) => this.sending.has(activityId),
    });
  }

  /**
   * Called for each inbox of a settled batch: delivered, retry (scheduled again), failed (kept as failed)
   * or deferred (its host's circuit is open). For the metrics (docs/operations.md).
   */
  onOutcome(listener: (outcome: 'delivered' | 'retry' | 'failed' | 'deferred', host: string) => void): void {
    this.outcomeListeners.push(listener);
  }

  /**
   * Called when this worker starts sending what was just queued here (`takeQueued`), with when every one of
   * those deliveries is handed to its connection (or settled without a request): the first deliveries of a
   * post go before its bookkeeping (`Lanes`, docs/adr/0042-first-deliveries-before-bookkeeping.md).
   */
  onSending(listener: (handed: Promise<void>) => void): void {
    this.sendingListeners.push(listener);
  }

  private tell(outcome: Settled, inbox: string): void {
    if (!this.outcomeListeners.length) return;
    const host = URL.canParse(inbox) ? new URL(inbox).host : '';
    for (const listener of this.outcomeListeners) listener(outcome, host);
  }

  /** Batches held at once: enough inboxes in hand to keep every slot busy while others are claimed or settled. */
  private get maxBatches(): number {
    return Math.ceil((this.options.concurrency * 8) / BATCH_SIZE) + 2;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    await Promise.allSettled([...this.inHand.values()]);
  }

  /** Until nothing is due or in hand (tests and benches). */
  async drain(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      this.kick();
      await this.ticking;
      await Promise.allSettled([...this.inHand.values()]);
      // What this worker took at once when it was queued, then a poll asked for meanwhile (it would
      // otherwise run after this returned).
      await Promise.allSettled([...this.sending.values()]);
      while (this.ticking) await this.ticking;
      if (!this.inHand.size && !(await this.queue.due(1)).length) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('deliveries did not drain in time');
  }

  kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err: unknown) => this.logger.error({ err }, 'delivery poll failed'))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /**
   * How many batches about to be queued here this worker takes as they are written (leased to it: no claim,
   * ADR 0036): as many as it has room for, counted as being claimed until `takeQueued` has them.
   */
  private reserve(count: number): { count: number; leaseMs: number } {
    if (this.stopped) return { count: 0, leaseMs: 0 };
    const taken = Math.max(0, Math.min(count, this.maxBatches - this.inHand.size - this.claiming));
    this.claiming += taken;
    return { count: taken, leaseMs: this.options.leaseMs };
  }

  /**
   * What this process just queued is claimed and sent at once, without waiting for a poll to find it: no
   * query for due batches, no read of the body it was given, the hosts' health read again only when older
   * than a poll (ADR 0031). Claims decide as for any batch: a worker elsewhere that finds it first sends it.
   */
  private takeQueued(queued: Queued): void {
    // Written leased to this worker (`reserve`): sent now, with no claim.
    const leased = queued.batches.slice(0, queued.leased);
    const rest = queued.batches.slice(queued.leased);
    if (this.stopped) {
      // Stopping: their lease runs out and a poll, here or elsewhere, sends them.
      this.claiming -= leased.length;
      return;
    }
    const free = this.maxBatches - this.inHand.size - this.claiming;
    if (queued.behind !== undefined) return this.takeBehind(queued);
    const now = rest.filter((b) => b.runAt.getTime() <= Date.now()).slice(0, Math.max(free, 0));
    if (!now.length && !leased.length) return this.kick();
    const activityId = queued.batches[0]!.activityId;
    this.sender.keepBody(activityId, queued.body);
    this.claiming += now.length;
    const handing = new Handing();
    for (const listener of this.sendingListeners) listener(handing.done);
    const sending = (async () => {
      let counted = true;
      const uncount = () => {
        if (counted) this.claiming -= now.length + leased.length;
        counted = false;
      };
      try {
        const [mine] = await Promise.all([
          now.length ? this.queue.claim(now, this.owner, this.options.leaseMs) : [],
          this.circuits.age > this.options.pollMs ? this.circuits.refresh() : undefined,
        ]);
        uncount();
        const batches = [...leased, ...mine];
        handing.expect(batches.reduce((n, batch) => n + batch.inboxes.length, 0));
        await Promise.allSettled(batches.map((batch) => this.run(batch, handing)));
      } finally {
        handing.end();
        uncount();
      }
    })()
      .catch((err: unknown) => this.logger.error({ err }, 'delivery claim failed'))
      .finally(() => {
        if (this.sending.get(activityId) === sending) this.sending.delete(activityId);
        // The rest (more than this worker holds at once) is found by the next poll.
        if (leased.length + now.length < queued.batches.length) this.kick();
      });
    this.sending.set(activityId, sending);
  }

  /**
   * Batches queued behind another activity this worker is sending (docs/federation.md, "Order"), held from
   * polls: once that activity's deliveries are answered, the worker claims what it has room for then and
   * makes the rest due for any poll (and all of them, if it is stopping). They take no room while they wait:
   * a slow receiver of the activity ahead holds up only what follows it.
   */
  private takeBehind(queued: Queued): void {
    // The worker sending the activity ahead takes them (another worker of this process leaves them).
    const ahead = this.sending.get(queued.behind!);
    if (!ahead) return;
    const activityId = queued.batches[0]!.activityId;
    this.sender.keepBody(activityId, queued.body);
    const sending = (async () => {
      await ahead;
      const free = this.stopped ? 0 : Math.max(this.maxBatches - this.inHand.size - this.claiming, 0);
      const now = queued.batches.slice(0, free);
      const overflow = queued.batches.slice(now.length);
      if (overflow.length) await this.queue.makeDue(overflow);
      if (!now.length) return;
      this.claiming += now.length;
      let mine: DeliveryDoc[];
      try {
        [mine] = await Promise.all([
          this.queue.claim(now, this.owner, this.options.leaseMs),
          this.circuits.age > this.options.pollMs ? this.circuits.refresh() : undefined,
        ]);
      } finally {
        this.claiming -= now.length;
      }
      await Promise.allSettled(mine.map((batch) => this.run(batch)));
    })()
      .catch((err: unknown) => this.logger.error({ err }, 'delivery claim failed'))
      .finally(() => {
        if (this.sending.get(activityId) === sending) this.sending.delete(activityId);
      });
    this.sending.set(activityId, sending);
  }

  /** Send a batch this worker holds; the next poll follows when it is settled. */
  private run(batch: DeliveryDoc, handing?: Handing): Promise<void> {
    const run = this.runBatch(batch, handing)
      .catch((err: unknown) =>
        // The lease runs out and the batch is sent again: at-least-once.
        this.logger.error({ err, batch: batch._id }, 'delivery batch failed'),
      )
      .finally(() => {
        this.inHand.delete(batch._id);
        this.kick();
      });
    this.inHand.set(batch._id, run);
    return run;
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep > SWEEP_EVERY_MS) {
      this.lastSweep = now;
      await this.queue.sweep(new Date(now - this.retries.keepMs()));
    }
    const free = this.maxBatches - this.inHand.size - this.claiming;
    if (free <= 0) return;
    await this.circuits.refresh();
    const due = await this.queue.due(free);
    const mine = await this.queue.claim(due, this.owner, this.options.leaseMs);
    for (const batch of mine) void this.run(batch);
    if (mine.length && mine.length === free) this.again = true;
  }

  private async runBatch(batch: DeliveryDoc, handing?: Handing): Promise<void> {
    const renew = setInterval(() => {
      this.queue
        .renew(batch, this.options.leaseMs)
        .catch((err: unknown) => this.logger.warn({ err }, 'delivery lease renewal failed'));
    }, this.options.leaseMs / 3);
    renew.unref();
    try {
      const outcomes = await this.sender.send(batch, handing);
      await this.retries.settle(batch, outcomes, (outcome, inbox) => {
        if (outcome === 'delivered') this.delivered++;
        this.tell(outcome, inbox);
      });
    } finally {
      clearInterval(renew);
    }
  }

  async metrics(): Promise<DeliveryMetrics> {
    const counts = await this.queue.counts();
    const hosts = await this.circuits.load();
    return {
      ...counts,
      inFlight: this.sender.inFlight,
      delivered: this.delivered,
      hosts: hosts.map((h) => ({
        host: h._id,
        state: this.circuits.state(h._id),
        consecutiveFailures: h.consecutiveFailures,
        openUntil: h.openUntil.getTime() > 0 ? h.openUntil.toISOString() : null,
      })),
    };
  }
}
