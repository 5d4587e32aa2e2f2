import type { Collection, Db } from 'mongodb';
import { DomainError, PeerUnavailableError, UnauthenticatedError } from '../core/errors.js';
import { collections } from '../db/collections.js';
import { upsertOne } from '../db/errors.js';
import { Lru } from '../core/lru.js';
import { multikeyToPem } from './multikey.js';
import { RemoteFetchError, type RemoteFetcher } from './remote.fetcher.js';

/** A cached key is fetched again after a day (a revoked key stops working within that). */
const KEY_TTL_MS = 86_400_000;

interface RemoteKeyDoc {
  /** The key's id (`keyId` of a signature). */
  _id: string;
  owner: string;
  publicKeyPem: string;
  fetchedAt: Date;
}

type KeyShape = { id?: unknown; owner?: unknown; publicKeyPem?: unknown };

const listed = (value: unknown): Record<string, unknown>[] =>
  (Array.isArray(value) ? value : [value]).filter(
    (k): k is Record<string, unknown> => !!k && typeof k === 'object' && !Array.isArray(k),
  );

/**
 * The keys a document lists: `publicKey` (security v1: RSA, or Ed25519 in PEM), and Ed25519 `Multikey`s in
 * `assertionMethod` (FEP-521a), read as the same shape (`controller` is their owner).
 */
const keysIn = (doc: Record<string, unknown>): KeyShape[] => [
  ...listed(doc.publicKey),
  ...listed(doc.assertionMethod).flatMap((k): KeyShape[] => {
    if (k.type !== 'Multikey' || typeof k.publicKeyMultibase !== 'string') return [];
    const pem = multikeyToPem(k.publicKeyMultibase);
    return pem ? [{ id: k.id, owner: k.controller, publicKeyPem: pem }] : [];
  }),
];

/**
 * Remote actors' public keys, found from a signature's keyId and bound to their owner (docs/federation.md, "Signatures"):
 * the key is listed by an actor document on the key's own origin, and that actor is the key's owner.
 * A key document that names an owner elsewhere, or an owner that does not list the key, is refused.
 */
export class RemoteKeys {
  private readonly keys: Collection<RemoteKeyDoc>;
  /** Keys read lately, so a busy peer's key is not read from the database on every post. */
  private readonly recent = new Lru<string, RemoteKeyDoc>(5000);

  constructor(
    db: Db,
    private readonly fetcher: RemoteFetcher,
  ) {
    this.keys = db.collection<RemoteKeyDoc>(collections.fedRemoteKeys);
  }

  async keyOf(
    keyId: string,
    refresh: boolean,
  ): Promise<{ owner: string; publicKeyPem: string; cached: boolean }> {
    const cached = this.recent.get(keyId) ?? (await this.keys.findOne({ _id: keyId }));
    if (cached) this.recent.set(keyId, cached);
    const fresh = cached && Date.now() - cached.fetchedAt.getTime() < KEY_TTL_MS;
    if (cached && fresh && !refresh)
      return { owner: cached.owner, publicKeyPem: cached.publicKeyPem, cached: true };
    let found: { owner: string; publicKeyPem: string };
    try {
      found = await this.fetchKey(keyId);
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (!(err instanceof RemoteFetchError))
        throw new UnauthenticatedError(`The signing key could not be had: ${(err as Error).message}`);
      // An expired key whose server is unreachable for now is still the key it was.
      if (cached && !refresh) return { owner: cached.owner, publicKeyPem: cached.publicKeyPem, cached: true };
      // Its server did not answer, or had trouble: the sender is told to try again, not that it signed wrong.
      if (err.transient)
        throw new PeerUnavailableError(`The signing key could not be had now: ${err.message}.`);
      throw new UnauthenticatedError(`The signing key could not be had: ${err.message}`);
    }
    const fetchedAt = new Date();
    await upsertOne(this.keys, { _id: keyId }, { $set: { ...found, fetchedAt } });
    this.recent.set(keyId, { _id: keyId, ...found, fetchedAt });
    return { ...found, cached: false };
  }

  /** Keys not needed for a month are dropped (they are fetched again if their owner writes). */
  async sweep(): Promise<void> {
    await this.keys.deleteMany({ fetchedAt: { $lt: new Date(Date.now() - 30 * KEY_TTL_MS) } });
  }

  /** A deleted actor's keys are forgotten (a Delete of the actor itself, verified). */
  async forgetOwner(owner: string): Promise<void> {
    this.recent.clear();
    await this.keys.deleteMany({ owner });
  }

  private async fetchKey(keyId: string): Promise<{ owner: string; publicKeyPem: string }> {
    const doc = await this.fetcher.getObject(keyId);
    // The key inside an actor document (Mastodon: keyId = actor#main-key), or a key document naming its owner.
    let owner: Record<string, unknown>;
    if (keysIn(doc).length) owner = doc;
    else {
      // A CryptographicKey names its `owner`, a Multikey its `controller`.
      const named = doc.type === 'Multikey' ? doc.controller : doc.owner;
      const material = doc.type === 'Multikey' ? doc.publicKeyMultibase : doc.publicKeyPem;
      if (typeof named !== 'string' || typeof material !== 'string')
        throw new UnauthenticatedError('The keyId names neither an actor nor a key.');
      if (!URL.canParse(named) || new URL(named).origin !== new URL(keyId).origin)
        throw new UnauthenticatedError('The key’s owner is on another origin.');
      owner = await this.fetcher.getObject(named);
    }
    const key = keysIn(owner).find((k) => k.id === keyId);
    if (!key || typeof key.publicKeyPem !== 'string')
      throw new UnauthenticatedError('The key’s owner does not list this key.');
    if (typeof key.owner === 'string' && key.owner !== owner.id)
      throw new UnauthenticatedError('The key names another owner.');
    return { owner: String(owner.id), publicKeyPem: key.publicKeyPem };
  }
}
