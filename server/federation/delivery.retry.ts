import { hashOf, type DeliveryDoc, type DeliveryQueue } from './delivery.queue.js';

const MAX_DELAY_MS = 12 * 3600_000;

/** The wait before retry `n` (from 1), before jitter: doubling from the base, at most 12 hours. */
export const retryDelayMs = (baseMs: number, n: number): number =>
  Math.min(baseMs * 2 ** (n - 1), MAX_DELAY_MS);

export type Outcome =
  | { kind: 'delivered' }
  | { kind: 'deferred'; until: Date }
  | {
      kind: 'retry';
      status: number | null;
      error: string;
      /** The host answered (a rate limit, a signature refused, a 503 saying when): not counted against it. */
      answered?: boolean;
    }
  | { kind: 'permanent'; status: number | null; error: string };

/** How an inbox of a settled batch came out, as `DeliveryWorker.onOutcome` tells it. */
export type Settled = 'delivered' | 'retry' | 'failed' | 'deferred';

/** Refusals that may pass by themselves: a receiver that could not fetch our key for now answers 401. */
const RETRIED_4XX = new Set([401, 408, 429]);

/**
 * 2xx is delivered; 4xx other than 401, 408 and 429 is permanent, and so is 501 (no inbox there); anything
 * else is retried. As Mastodon classifies its own deliveries: a 401 is often the receiver's failure to fetch
 * the sender's key for now (the signature scheme was already negotiated again on the spot, `SignatureNegotiator`).
 */
export function outcomeOfStatus(status: number, retryAfter = false): Outcome {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if ((status >= 400 && status < 500 && !RETRIED_4XX.has(status)) || status === 501)
    return { kind: 'permanent', status, error: `HTTP ${status}` };
  // A rate limit, a refused signature, or a 503 that says when to come back (an inbox waiting for a third
  // server, ADR 0052): the host answered, and its circuit does not count it.
  const answered = status === 429 || status === 401 || (status === 503 && retryAfter);
  return { kind: 'retry', status, error: `HTTP ${status}`, ...(answered ? { answered } : {}) };
}

/** The retry schedule: its fields of `DeliveryOptions` (delivery.worker.ts). */
export interface RetryOptions {
  retryBaseMs: number;
  maxAttempts: number;
}

/**
 * What becomes of a sent batch's inboxes: retried with exponential backoff and jitter, waiting for their
 * host's circuit, or kept as failed (permanent, out of attempts, or past the whole retry schedule).
 */
export class DeliveryRetries {
  constructor(
    private readonly queue: DeliveryQueue,
    private readonly options: RetryOptions,
  ) {}

  /** The whole retry schedule, at its longest (jitter included). */
  scheduleMs(): number {
    let total = 0;
    for (let n = 1; n < this.options.maxAttempts; n++) total += retryDelayMs(this.options.retryBaseMs, n);
    return total * 1.25;
  }

  /** How long activities and claims are kept: the whole retry schedule, and a day more. */
  keepMs(): number {
    return this.scheduleMs() + 86_400_000;
  }

  /**
   * Settle a batch: retries and waiting inboxes into new batches, failures kept, then the batch deleted.
   * `tell` hears how each inbox came out.
   */
  async settle(
    batch: DeliveryDoc,
    outcomes: Outcome[],
    tell: (outcome: Settled, inbox: string) => void,
  ): Promise<void> {
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
        tell('delivered', inbox);
      } else if (expired && outcome.kind !== 'permanent') {
        tell('failed', inbox);
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
        tell('deferred', inbox);
      } else if (outcome.kind === 'retry' && batch.attempts + 1 < this.options.maxAttempts) {
        retry.push(inbox);
        lastRetry = outcome;
        tell('retry', inbox);
      } else {
        next.push(this.failed(batch, inbox, outcome));
        tell('failed', inbox);
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
}
