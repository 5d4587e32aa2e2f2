import type { Logger } from '../core/logger.js';
import type { DeliveryQueue, HostDoc } from './delivery.queue.js';
import { retryDelayMs, type Outcome } from './delivery.retry.js';

/** The circuit's fields of `DeliveryOptions` (delivery.worker.ts). */
export interface CircuitOptions {
  circuitThreshold: number;
  retryBaseMs: number;
}

/**
 * Remote hosts' health as this worker last read it (every process's counts, kept in the database): a host
 * that keeps failing has its circuit opened; its inboxes wait, then one probe goes, and the first success
 * closes it.
 */
export class HostCircuits {
  private hostStates = new Map<string, HostDoc>();
  /** When the hosts' health was last read from the database (`refresh`). */
  private readAt = 0;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly options: CircuitOptions,
    private readonly logger: Logger,
  ) {}

  /** How long ago the hosts' health was last read (`refresh`). */
  get age(): number {
    return Date.now() - this.readAt;
  }

  /** Read the hosts' health again. */
  async refresh(): Promise<void> {
    const at = Date.now();
    await this.load();
    this.readAt = at;
  }

  /** The hosts that have failed lately (for the metrics), kept as this worker's view. */
  async load(): Promise<HostDoc[]> {
    const hosts = await this.queue.hosts.find({ consecutiveFailures: { $gt: 0 } }).toArray();
    this.hostStates = new Map(hosts.map((h) => [h._id, h]));
    return hosts;
  }

  state(host: string): 'closed' | 'open' | 'half-open' {
    const state = this.hostStates.get(host);
    if (!state || state.consecutiveFailures < this.options.circuitThreshold) return 'closed';
    return state.openUntil.getTime() > Date.now() ? 'open' : 'half-open';
  }

  /** Until when an open host's inboxes wait. */
  openUntil(host: string): Date {
    return this.hostStates.get(host)!.openUntil;
  }

  /** Count a request's outcome against its host. */
  async outcome(host: string, outcome: Outcome): Promise<void> {
    const now = new Date();
    if (outcome.kind === 'delivered') {
      if (!this.hostStates.get(host)?.consecutiveFailures) return;
      this.hostStates.delete(host);
      await this.queue.hostSucceeded(host, now);
      return;
    }
    // Permanent refusals, and retried answers (a rate limit, a refused signature, a 503 saying when), say the
    // host is up.
    if (outcome.kind !== 'retry' || outcome.answered) return;
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
}
