import { randomUUID, type webcrypto } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { Lru } from '../core/lru.js';
import {
  BATCH_SIZE,
  hashOf,
  type DeliveryDoc,
  type DeliveryQueue,
  type HostDoc,
  type Queued,
} from './delivery.queue.js';
import type { KeyStore } from './federation.keys.js';
import type { FederationPolicy } from './federation.policy.js';
import { cryptoKeySigner, digestOf, toSigningCryptoKey } from './http-signature.js';
import type { OutboundPolicy } from './outbound.js';
import { SignatureNegotiator } from './signature.negotiator.js';
import { ACTIVITY_JSON } from './remote.fetcher.js';

type CryptoKey = webcrypto.CryptoKey;

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

const MAX_DELAY_MS = 12 * 3600_000;

/** The wait before retry `n` (from 1), before jitter: doubling from the base, at most 12 hours. */
export const retryDelayMs = (baseMs: number, n: number): number =>
  Math.min(baseMs * 2 ** (n - 1), MAX_DELAY_MS);
const SWEEP_EVERY_MS = 3600_000;
const BODY_CACHE = 500;

type Outcome =
  | { kind: 'delivered' }
  | { kind: 'deferred'; until: Date }
  | { kind: 'retry'; status: number | null; error: string }
  | { kind: 'permanent'; status: number | null; error: string };

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

/** Counting gates: so many sends at once in all, so many per host. */
class Gates {
  private active = 0;
  private readonly perHost = new Map<string, number>();
  private readonly waiting: { host: string; cap: number; go: () => void }[] = [];
  constructor(private readonly total: number) {}

  get inFlight(): number {
    return this.active;
  }

  enter(host: string, cap: number): Promise<void> {
    return new Promise((go) => {
      this.waiting.push({ host, cap, go });
      this.pump();
    });
  }

  leave(host: string): void {
    this.active--;
    const left = (this.perHost.get(host) ?? 1) - 1;
    if (left > 0) this.perHost.set(host, left);
    else this.perHost.delete(host);
    this.pump();
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length && this.active < this.total;) {
      const w = this.waiting[i]!;
      if ((this.perHost.get(w.host) ?? 0) >= w.cap) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.active++;
      this.perHost.set(w.host, (this.perHost.get(w.host) ?? 0) + 1);
      w.go();
    }
  }
}

/** When every delivery of a set is handed to its connection (`DeliveryWorker.onSending`). */
class Handing {
  private left = 0;
  private release!: () => void;
  readonly done = new Promise<void>((resolve) => (this.release = resolve));

  /** How many deliveries there are (none: done). */
  expect(count: number): void {
    this.left += count;
    if (this.left <= 0) this.release();
  }

  /** A function that counts one delivery handed, however often it is called. */
  one(): () => void {
    let told = false;
    return () => {
      if (told) return;
      told = true;
      if (--this.left <= 0) this.release();
    };
  }

  /** Whatever is left is not waited for any more. */
  end(): void {
    this.release();
  }
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
  private readonly gates: Gates;
  private readonly inHand = new Map<string, Promise<void>>();
  private readonly cryptoKeys = new Map<string, Promise<CryptoKey>>();
  private readonly bodies = new Lru<string, { body: string; digest: string } | null>(BODY_CACHE);
  private hostStates = new Map<string, HostDoc>();
  /** When `hostStates` was last read from the database. */
  private hostStatesAt = 0;
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
  private readonly outcomeListeners: ((
    outcome: 'delivered' | 'retry' | 'failed' | 'deferred',
    host: string,
  ) => void)[] = [];
  private readonly sendingListeners: ((handed: Promise<void>) => void)[] = [];

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly keys: KeyStore,
    private readonly outbound: OutboundPolicy,
    private readonly policy: FederationPolicy,
    private readonly options: DeliveryOptions,
    private readonly logger: Logger,
    private readonly userAgent: string,
    /** Which scheme each host is signed with (shared with the fetcher). */
    private readonly signatures = new SignatureNegotiator(),
  ) {
    this.gates = new Gates(options.concurrency);
    queue.onEnqueue({
      reserve: (count) => this.reserve(count),
      release: (count) => {
        this.claiming -= count;
      },
      take: (queued) => this.takeQueued(queued),
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

  private tell(outcome: 'delivered' | 'retry' | 'failed' | 'deferred', inbox: string): void {
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
   * What this process just queued is claimed and sent at once, without waiting for a poll to find it: no
   * query for due batches, no read of the body it was given, the hosts' health read again only when older
   * than a poll (ADR 0031). Claims decide as for any batch: a worker elsewhere that finds it first sends it.
   */
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
    const now = rest.filter((b) => b.runAt.getTime() <= Date.now()).slice(0, Math.max(free, 0));
    if (!now.length && !leased.length) return this.kick();
    const activityId = queued.batches[0]!.activityId;
    if (!this.bodies.get(activityId))
      this.bodies.set(activityId, { body: queued.body, digest: digestOf(queued.body) });
    const ahead = queued.behind ? this.sending.get(queued.behind) : undefined;
    this.claiming += now.length;
    // Behind another activity, these are not the first deliveries of anything: nothing waits for them.
    const handing = queued.behind ? undefined : new Handing();
    if (handing) for (const listener of this.sendingListeners) listener(handing.done);
    const sending = (async () => {
      let counted = true;
      const uncount = () => {
        if (counted) this.claiming -= now.length + leased.length;
        counted = false;
      };
      try {
        // Behind another activity's deliveries: claimed once they are out (a poll may take them first).
        if (ahead) await ahead;
        const [mine] = await Promise.all([
          now.length ? this.queue.claim(now, this.owner, this.options.leaseMs) : [],
          Date.now() - this.hostStatesAt > this.options.pollMs ? this.readHostStates() : undefined,
        ]);
        uncount();
        const batches = [...leased, ...mine];
        handing?.expect(batches.reduce((n, batch) => n + batch.inboxes.length, 0));
        await Promise.allSettled(batches.map((batch) => this.run(batch, handing)));
      } finally {
        handing?.end();
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

  private async readHostStates(): Promise<void> {
    const at = Date.now();
    this.hostStates = new Map(
      (await this.queue.hosts.find({ consecutiveFailures: { $gt: 0 } }).toArray()).map((h) => [h._id, h]),
    );
    this.hostStatesAt = at;
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

  private hostState(host: string): 'closed' | 'open' | 'half-open' {
    const state = this.hostStates.get(host);
    if (!state || state.consecutiveFailures < this.options.circuitThreshold) return 'closed';
    return state.openUntil.getTime() > Date.now() ? 'open' : 'half-open';
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep > SWEEP_EVERY_MS) {
      this.lastSweep = now;
      await this.queue.sweep(new Date(now - this.keepMs()));
    }
    const free = this.maxBatches - this.inHand.size - this.claiming;
    if (free <= 0) return;
    await this.readHostStates();
    const due = await this.queue.due(free);
    const mine = await this.queue.claim(due, this.owner, this.options.leaseMs);
    for (const batch of mine) void this.run(batch);
    if (mine.length && mine.length === free) this.again = true;
  }

  /** The whole retry schedule, at its longest (jitter included). */
  private scheduleMs(): number {
    let total = 0;
    for (let n = 1; n < this.options.maxAttempts; n++) total += retryDelayMs(this.options.retryBaseMs, n);
    return total * 1.25;
  }

  /** How long activities and claims are kept: the whole retry schedule, and a day more. */
  private keepMs(): number {
    return this.scheduleMs() + 86_400_000;
  }

  private async bodyOf(activityId: string): Promise<{ body: string; digest: string } | null> {
    const cached = this.bodies.get(activityId);
    if (cached !== undefined) return cached;
    const doc = await this.queue.body(activityId);
    const entry = doc ? { body: doc.body, digest: digestOf(doc.body) } : null;
    this.bodies.set(activityId, entry);
    return entry;
  }

  /** Each actor's key, read from the key store when first needed by this process, in WebCrypto form. */
  private signingKey(actorId: string): Promise<CryptoKey> {
    let key = this.cryptoKeys.get(actorId);
    if (!key) {
      key = this.keys.privateKey(actorId).then(toSigningCryptoKey);
      key.catch(() => this.cryptoKeys.delete(actorId));
      this.cryptoKeys.set(actorId, key);
    }
    return key;
  }

  private async runBatch(batch: DeliveryDoc, handing?: Handing): Promise<void> {
    const renew = setInterval(() => {
      this.queue
        .renew(batch, this.options.leaseMs)
        .catch((err: unknown) => this.logger.warn({ err }, 'delivery lease renewal failed'));
    }, this.options.leaseMs / 3);
    renew.unref();
    try {
      const activity = await this.bodyOf(batch.activityId);
      const key = activity ? await this.signingKey(batch.actorId) : null;
      const outcomes = await Promise.all(
        batch.inboxes.map((inbox) =>
          activity && key
            ? this.deliver(batch, inbox, activity, key, handing?.one()).catch((err: unknown): Outcome => ({
                kind: 'retry',
                status: null,
                error: (err as Error).message,
              }))
            : ({ kind: 'permanent', status: null, error: 'the activity is no longer kept' } as Outcome),
        ),
      );
      await this.settle(batch, outcomes);
    } finally {
      clearInterval(renew);
    }
  }

  private async deliver(
    batch: DeliveryDoc,
    inbox: string,
    activity: { body: string; digest: string },
    key: CryptoKey,
    /** Told once the request is handed to its connection, or the delivery settled without one. */
    handed: () => void = () => undefined,
  ): Promise<Outcome> {
    try {
      return await this.attempt(batch, inbox, activity, key, handed);
    } finally {
      handed();
    }
  }

  private async attempt(
    batch: DeliveryDoc,
    inbox: string,
    activity: { body: string; digest: string },
    key: CryptoKey,
    handed: () => void,
  ): Promise<Outcome> {
    const host = new URL(inbox).host.toLowerCase();
    if (!this.policy.allows(host))
      return { kind: 'permanent', status: null, error: `${host} is outside the federation policy` };
    const state = this.hostState(host);
    if (state === 'open') return { kind: 'deferred', until: this.hostStates.get(host)!.openUntil };
    // A half-open host gets one probe at a time.
    await this.gates.enter(host, state === 'half-open' ? 1 : this.options.perHost);
    // The circuit may have opened while this inbox waited its turn.
    if (this.hostState(host) === 'open') {
      this.gates.leave(host);
      return { kind: 'deferred', until: this.hostStates.get(host)!.openUntil };
    }
    try {
      // Signed when sent, draft-cavage unless the receiver asked for RFC 9421 (SignatureNegotiator).
      const response = await this.signatures.send(
        {
          method: 'POST',
          url: inbox,
          headers: { 'content-type': ACTIVITY_JSON, 'user-agent': this.userAgent, accept: ACTIVITY_JSON },
          body: activity.body,
          digest: activity.digest,
          onSent: handed,
        },
        cryptoKeySigner(`${batch.actorId}#main-key`, key),
        this.outbound,
      );
      const status = response.status;
      let outcome: Outcome;
      if (status >= 200 && status < 300) outcome = { kind: 'delivered' };
      else if (status >= 400 && status < 500 && status !== 408 && status !== 429)
        outcome = { kind: 'permanent', status, error: `HTTP ${status}` };
      else outcome = { kind: 'retry', status, error: `HTTP ${status}` };
      await this.hostOutcome(host, outcome);
      return outcome;
    } catch (err) {
      const outcome: Outcome = { kind: 'retry', status: null, error: (err as Error).message };
      await this.hostOutcome(host, outcome);
      return outcome;
    } finally {
      this.gates.leave(host);
    }
  }

  /** Settle a batch: retries and waiting inboxes into new batches, failures kept, then the batch deleted. */
  private async settle(batch: DeliveryDoc, outcomes: Outcome[]): Promise<void> {
    const now = Date.now();
    const origin = this.originOf(batch);
    // Past the whole retry schedule a delivery is given up, even one only ever waiting for a host's circuit.
    const expired = now - origin.queuedAt.getTime() > this.scheduleMs();
    const next: DeliveryDoc[] = [];
    const retry: string[] = [];
    const deferred = new Map<number, string[]>();
    let lastRetry: Outcome | undefined;
    batch.inboxes.forEach((inbox, i) => {
      const outcome = outcomes[i]!;
      if (outcome.kind === 'delivered') {
        this.delivered++;
        this.tell('delivered', inbox);
      } else if (expired && outcome.kind !== 'permanent') {
        this.tell('failed', inbox);
        next.push(
          this.failed(batch, inbox, {
            kind: 'permanent',
            status: null,
            error: 'given up after the retry schedule',
          }),
        );
      } else if (outcome.kind === 'deferred') {
        const at = outcome.until.getTime();
        deferred.set(at, [...(deferred.get(at) ?? []), inbox]);
        this.tell('deferred', inbox);
      } else if (outcome.kind === 'retry' && batch.attempts + 1 < this.options.maxAttempts) {
        retry.push(inbox);
        lastRetry = outcome;
        this.tell('retry', inbox);
      } else {
        next.push(this.failed(batch, inbox, outcome));
        this.tell('failed', inbox);
      }
    });
    const attempts = batch.attempts + 1;
    if (retry.length) {
      const delay = retryDelayMs(this.options.retryBaseMs, attempts) * (0.75 + Math.random() / 2);
      const doc = this.queue.batch(
        `${origin.root}|r${attempts}|${hashOf(retry)}`,
        origin,
        batch.activityId,
        batch.actorId,
        retry,
        attempts,
        new Date(now + delay),
      );
      if (lastRetry && lastRetry.kind === 'retry') {
        doc.lastStatus = lastRetry.status;
        doc.lastError = lastRetry.error.slice(0, 500);
      }
      next.push(doc);
    }
    for (const [at, inboxes] of deferred)
      next.push(
        this.queue.batch(
          `${origin.root}|w${at}|${hashOf(inboxes)}`,
          origin,
          batch.activityId,
          batch.actorId,
          inboxes,
          batch.attempts,
          new Date(at),
        ),
      );
    await this.queue.finish(batch, next);
  }

  private originOf(batch: DeliveryDoc): { root: string; queuedAt: Date } {
    return { root: batch.root ?? batch._id, queuedAt: batch.queuedAt ?? batch.createdAt };
  }

  private failed(batch: DeliveryDoc, inbox: string, outcome: Outcome): DeliveryDoc {
    const doc = this.queue.batch(
      `${batch.activityId} ${inbox}`,
      this.originOf(batch),
      batch.activityId,
      batch.actorId,
      [inbox],
      batch.attempts + 1,
      new Date(),
    );
    doc.state = 'failed';
    if (outcome.kind === 'retry' || outcome.kind === 'permanent') {
      doc.lastStatus = outcome.status;
      doc.lastError = outcome.error.slice(0, 500);
    }
    return doc;
  }

  private async hostOutcome(host: string, outcome: Outcome): Promise<void> {
    const now = new Date();
    if (outcome.kind === 'delivered') {
      if (!this.hostStates.get(host)?.consecutiveFailures) return;
      this.hostStates.delete(host);
      await this.queue.hostSucceeded(host, now);
      return;
    }
    // Permanent refusals and rate limits say the host is up.
    if (outcome.kind !== 'retry' || outcome.status === 429) return;
    // Failures of requests sent before the circuit opened count once (the queue checks again).
    if ((this.hostStates.get(host)?.openUntil.getTime() ?? 0) > now.getTime()) return;
    // Counted in the database, from what every worker of every process counted (not this one's view).
    const next = await this.queue.hostFailed(host, {
      at: now,
      error: outcome.error,
      threshold: this.options.circuitThreshold,
      openMs: (opened) => retryDelayMs(this.options.retryBaseMs, opened),
    });
    if (!next) return;
    if (next.openUntil.getTime() > now.getTime())
      this.logger.warn({ host, until: next.openUntil, error: outcome.error }, 'delivery circuit opened');
    this.hostStates.set(host, next);
  }

  async metrics(): Promise<DeliveryMetrics> {
    const counts = await this.queue.counts();
    const hosts = await this.queue.hosts.find({ consecutiveFailures: { $gt: 0 } }).toArray();
    this.hostStates = new Map(hosts.map((h) => [h._id, h]));
    return {
      ...counts,
      inFlight: this.gates.inFlight,
      delivered: this.delivered,
      hosts: hosts.map((h) => ({
        host: h._id,
        state: this.hostState(h._id),
        consecutiveFailures: h.consecutiveFailures,
        openUntil: h.openUntil.getTime() > 0 ? h.openUntil.toISOString() : null,
      })),
    };
  }
}
