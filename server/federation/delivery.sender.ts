import type { webcrypto } from 'node:crypto';
import { Lru } from '../core/lru.js';
import type { HostCircuits } from './delivery.circuit.js';
import { Gates, type Handing } from './delivery.gates.js';
import type { DeliveryDoc, DeliveryQueue } from './delivery.queue.js';
import { outcomeOfStatus, type Outcome } from './delivery.retry.js';
import type { KeyStore } from './federation.keys.js';
import type { FederationPolicy } from './federation.policy.js';
import { cryptoKeySigner, digestOf, toSigningCryptoKey } from './http-signature.js';
import type { OutboundPolicy } from './outbound.js';
import type { SignatureNegotiator } from './signature.negotiator.js';
import { ACTIVITY_JSON } from './remote.fetcher.js';

type CryptoKey = webcrypto.CryptoKey;

const BODY_CACHE = 500;

/** The sender's fields of `DeliveryOptions` (delivery.worker.ts). */
export interface SenderOptions {
  concurrency: number;
  perHost: number;
}

/**
 * Sends the inboxes of the batches a `DeliveryWorker` holds: many at once, a few per host (one probe at a
 * time to a half-open host), each signed at send time with its actor's key from the key store.
 */
export class DeliverySender {
  private readonly gates: Gates;
  private readonly cryptoKeys = new Map<string, Promise<CryptoKey>>();
  private readonly bodies = new Lru<string, { body: string; digest: string } | null>(BODY_CACHE);

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly keys: KeyStore,
    private readonly outbound: OutboundPolicy,
    private readonly policy: FederationPolicy,
    private readonly circuits: HostCircuits,
    private readonly options: SenderOptions,
    private readonly userAgent: string,
    /** Which scheme each host is signed with (shared with the fetcher). */
    private readonly signatures: SignatureNegotiator,
  ) {
    this.gates = new Gates(options.concurrency);
  }

  /** Deliveries being sent now. */
  get inFlight(): number {
    return this.gates.inFlight;
  }

  /** The body of an activity just queued here, so its batches need no read of it. */
  keepBody(activityId: string, body: string): void {
    if (!this.bodies.get(activityId)) this.bodies.set(activityId, { body, digest: digestOf(body) });
  }

  /** Send every inbox of a batch; the outcomes in the order of its inboxes. */
  async send(batch: DeliveryDoc, handing?: Handing): Promise<Outcome[]> {
    const activity = await this.bodyOf(batch.activityId);
    const key = activity ? await this.signingKey(batch.actorId) : null;
    return Promise.all(
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
    const state = this.circuits.state(host);
    if (state === 'open') return { kind: 'deferred', until: this.circuits.openUntil(host) };
    // A half-open host gets one probe at a time.
    await this.gates.enter(host, state === 'half-open' ? 1 : this.options.perHost);
    // The circuit may have opened while this inbox waited its turn.
    if (this.circuits.state(host) === 'open') {
      this.gates.leave(host);
      return { kind: 'deferred', until: this.circuits.openUntil(host) };
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
      const outcome = outcomeOfStatus(response.status, response.headers['retry-after'] !== undefined);
      await this.circuits.outcome(host, outcome);
      return outcome;
    } catch (err) {
      const outcome: Outcome = { kind: 'retry', status: null, error: (err as Error).message };
      await this.circuits.outcome(host, outcome);
      return outcome;
    } finally {
      this.gates.leave(host);
    }
  }
}
