import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { upsertOne } from '../db/errors.js';
import type { KeyStore } from './federation.keys.js';
import type { FederationPolicy } from './federation.policy.js';
import { signRequest } from './http-signature.js';
import { safeFetch, type OutboundPolicy } from './outbound.js';
import { ACTIVITY_JSON } from './remote.fetcher.js';
import { NEVER, type DeliveryDoc, type DeliveryQueue, type HostDoc } from './delivery.queue.js';

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
const SWEEP_EVERY_MS = 3600_000;
const KEEP_MS = 7 * 86_400_000;

type Outcome =
  | { kind: 'delivered' }
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

/**
 * Sends queued deliveries (replacing apex's serial loop, FEDERATION.md 7): many at once, a few per host,
 * each signed at send time with its actor's key from the key store. 2xx is delivered; 4xx other than 408 and
 * 429 is permanent (kept as failed, not retried); anything else is retried with exponential backoff and
 * jitter. A host that keeps failing has its circuit opened: nothing is sent to it until a probe may go, and
 * the first success closes it again.
 */
export class DeliveryWorker {
  private readonly owner = randomUUID();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly perHost = new Map<string, number>();
  private hostStates = new Map<string, HostDoc>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private lastSweep = 0;
  private delivered = 0;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly keys: KeyStore,
    private readonly outbound: OutboundPolicy,
    private readonly policy: FederationPolicy,
    private readonly options: DeliveryOptions,
    private readonly logger: Logger,
    private readonly userAgent: string,
  ) {
    queue.onEnqueue(() => this.kick());
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
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Until nothing is due (tests and benches). */
  async drain(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      this.kick();
      await this.ticking;
      await Promise.allSettled([...this.inFlight.values()]);
      if (!this.inFlight.size && !(await this.queue.due(1)).length) return;
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

  private hostState(host: string): 'closed' | 'open' | 'half-open' {
    const state = this.hostStates.get(host);
    if (!state || state.consecutiveFailures < this.options.circuitThreshold) return 'closed';
    return state.openUntil.getTime() > Date.now() ? 'open' : 'half-open';
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep > SWEEP_EVERY_MS) {
      this.lastSweep = now;
      await this.queue.sweep(new Date(now - KEEP_MS));
    }
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0) return;
    this.hostStates = new Map(
      (await this.queue.hosts.find({ consecutiveFailures: { $gt: 0 } }).toArray()).map((h) => [h._id, h]),
    );
    // Hosts whose circuit is open are left out of the query itself, so they cannot crowd out the others.
    const open = [...this.hostStates.keys()].filter((h) => this.hostState(h) === 'open');
    const due = await this.queue.due(free * 4, new Date(), open);
    const picked: DeliveryDoc[] = [];
    const planned = new Map(this.perHost);
    for (const d of due) {
      if (picked.length >= free) break;
      const state = this.hostState(d.host);
      if (state === 'open') continue;
      // A half-open host gets one probe at a time.
      const cap = state === 'half-open' ? 1 : this.options.perHost;
      const busy = planned.get(d.host) ?? 0;
      if (busy >= cap) continue;
      planned.set(d.host, busy + 1);
      picked.push(d);
    }
    const mine = await this.queue.claim(picked, this.owner, this.options.leaseMs);
    for (const d of mine) {
      this.perHost.set(d.host, (this.perHost.get(d.host) ?? 0) + 1);
      const run = this.run(d).finally(() => {
        this.inFlight.delete(d._id);
        const left = (this.perHost.get(d.host) ?? 1) - 1;
        if (left > 0) this.perHost.set(d.host, left);
        else this.perHost.delete(d.host);
        this.kick();
      });
      this.inFlight.set(d._id, run);
    }
    // More was due than this round took: go again at once.
    if (mine.length && due.length > mine.length) this.again = true;
  }

  private async run(d: DeliveryDoc): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.send(d);
    } catch (err) {
      outcome = { kind: 'retry', status: null, error: (err as Error).message };
    }
    try {
      await this.record(d, outcome);
    } catch (err) {
      // The lease runs out and the delivery is tried again: at-least-once.
      this.logger.error({ err, delivery: d._id }, 'could not record a delivery outcome');
    }
  }

  private async send(d: DeliveryDoc): Promise<Outcome> {
    if (!this.policy.allows(d.host))
      return { kind: 'permanent', status: null, error: `${d.host} is outside the federation policy` };
    const activity = await this.queue.body(d.activityId);
    if (!activity) return { kind: 'permanent', status: null, error: 'the activity is no longer kept' };
    const headers = signRequest(
      {
        method: 'POST',
        url: d.inbox,
        headers: { 'content-type': ACTIVITY_JSON, 'user-agent': this.userAgent, accept: ACTIVITY_JSON },
        body: activity.body,
      },
      { keyId: `${d.actorId}#main-key`, privateKeyPem: await this.keys.privateKey(d.actorId) },
    );
    const response = await safeFetch(
      d.inbox,
      { method: 'POST', headers, body: activity.body },
      this.outbound,
    );
    const status = response.status;
    if (status >= 200 && status < 300) return { kind: 'delivered' };
    const error = `HTTP ${status}`;
    if (status >= 400 && status < 500 && status !== 408 && status !== 429)
      return { kind: 'permanent', status, error };
    return { kind: 'retry', status, error };
  }

  private async record(d: DeliveryDoc, outcome: Outcome): Promise<void> {
    const now = new Date();
    if (outcome.kind === 'delivered') {
      this.delivered++;
      await this.queue.done([d._id]);
      if (this.hostStates.get(d.host)?.consecutiveFailures) {
        this.hostStates.delete(d.host);
        await this.queue.hosts.updateOne(
          { _id: d.host },
          { $set: { consecutiveFailures: 0, opened: 0, openUntil: NEVER, lastSuccessAt: now } },
        );
      }
      return;
    }
    const attempts = d.attempts + 1;
    const retry = outcome.kind === 'retry' && attempts < this.options.maxAttempts;
    const delay =
      Math.min(this.options.retryBaseMs * 2 ** (attempts - 1), MAX_DELAY_MS) * (0.75 + Math.random() / 2);
    await this.queue.settle([
      {
        id: d._id,
        runAt: retry ? new Date(now.getTime() + delay) : null,
        attempts,
        status: outcome.status,
        error: outcome.error,
      },
    ]);
    if (outcome.kind === 'retry' && outcome.status !== 429) await this.hostFailed(d.host, outcome.error, now);
  }

  private async hostFailed(host: string, error: string, now: Date): Promise<void> {
    const current = this.hostStates.get(host) ??
      (await this.queue.hosts.findOne({ _id: host })) ?? {
        _id: host,
        consecutiveFailures: 0,
        openUntil: NEVER,
        opened: 0,
        lastSuccessAt: null,
        lastFailureAt: null,
        lastError: null,
      };
    // Failures of deliveries sent while the circuit was already open count once.
    if (current.openUntil.getTime() > now.getTime()) return;
    const next: HostDoc = {
      ...current,
      consecutiveFailures: current.consecutiveFailures + 1,
      lastFailureAt: now,
      lastError: error,
    };
    if (next.consecutiveFailures >= this.options.circuitThreshold) {
      next.opened = current.opened + 1;
      const openMs = Math.min(this.options.retryBaseMs * 2 ** (next.opened - 1), MAX_DELAY_MS);
      next.openUntil = new Date(now.getTime() + openMs);
      this.logger.warn({ host, until: next.openUntil, error }, 'delivery circuit opened');
    }
    this.hostStates.set(host, next);
    const { _id, ...fields } = next;
    await upsertOne(this.queue.hosts, { _id }, { $set: fields });
  }

  async metrics(): Promise<DeliveryMetrics> {
    const counts = await this.queue.counts();
    const hosts = await this.queue.hosts.find({ consecutiveFailures: { $gt: 0 } }).toArray();
    this.hostStates = new Map(hosts.map((h) => [h._id, h]));
    return {
      ...counts,
      inFlight: this.inFlight.size,
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
