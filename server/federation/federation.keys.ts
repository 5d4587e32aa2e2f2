import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Collection, Db } from 'mongodb';
import { collections } from '../db/collections.js';
import { insertOnce } from '../db/errors.js';

const generate = promisify(generateKeyPair);

interface KeyDoc {
  /** The actor's IRI. */
  _id: string;
  publicKeyPem: string;
  privateKeyPem: string;
  createdAt: Date;
}

/**
 * Actor key pairs (RSA-2048, what Mastodon and its peers use), generated once per actor on first need and
 * kept in `federation_keys` only. The private key is read here, to sign, and never put into an actor
 * document, a stored activity or a queued delivery (docs/federation.md, "Signatures").
 */
export class KeyStore {
  private readonly keys: Collection<KeyDoc>;
  private readonly publicKeys = new Map<string, string>();
  private readonly privateKeys = new Map<string, KeyObject>();
  private readonly pending = new Map<string, Promise<KeyDoc>>();

  constructor(db: Db) {
    this.keys = db.collection<KeyDoc>(collections.federationKeys);
  }

  async publicKeyPem(actorIri: string): Promise<string> {
    const cached = this.publicKeys.get(actorIri);
    if (cached) return cached;
    return (await this.pair(actorIri)).publicKeyPem;
  }

  /** The signing key, looked up when a request is signed. */
  async privateKey(actorIri: string): Promise<KeyObject> {
    const cached = this.privateKeys.get(actorIri);
    if (cached) return cached;
    const key = createPrivateKey((await this.pair(actorIri)).privateKeyPem);
    this.privateKeys.set(actorIri, key);
    return key;
  }

  private pair(actorIri: string): Promise<KeyDoc> {
    let pending = this.pending.get(actorIri);
    if (!pending) {
      pending = this.loadOrCreate(actorIri).finally(() => this.pending.delete(actorIri));
      this.pending.set(actorIri, pending);
    }
    return pending;
  }

  private async loadOrCreate(actorIri: string): Promise<KeyDoc> {
    let doc = await this.keys.findOne({ _id: actorIri });
    if (!doc) {
      const pair = await generate('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });
      const fresh: KeyDoc = {
        _id: actorIri,
        publicKeyPem: pair.publicKey,
        privateKeyPem: pair.privateKey,
        createdAt: new Date(),
      };
      // Another process may have made this actor's keys first: then theirs are the keys.
      doc = (await insertOnce(this.keys, fresh)) ? fresh : await this.keys.findOne({ _id: actorIri });
      if (!doc) throw new Error(`the keys of ${actorIri} could not be stored`);
    }
    this.publicKeys.set(actorIri, doc.publicKeyPem);
    return doc;
  }
}
