import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ForbiddenError, UnauthenticatedError } from '../core/errors.js';
import { originOf } from './as.values.js';
import type { FederationPolicy } from './federation.policy.js';
import { parseSignature, SignatureError, verifyRequest } from './http-signature.js';
import {
  acceptSignature,
  checkMessageSignature,
  parseMessageSignature,
  verifyMessageSignatureBytes,
} from './message-signature.js';
import type { RemoteKeys } from './remote.keys.js';

export type SignatureScheme = 'rfc9421' | 'draft-cavage';

/** Who signed a request, once verified. */
export interface VerifiedSignature {
  scheme: SignatureScheme;
  keyId: string;
  /** The actor that lists the key (on the key's own origin). */
  owner: string;
}

export interface SignatureVerifierOptions {
  /** Largest accepted difference between the signature's time (Date, `created`) and now. */
  maxSkewMs: number;
  /** The node's public URL: `@target-uri` is its origin and the request's path. */
  publicUrl: string;
}

/** The scheme a request is signed with, or null when it carries no signature. */
export function signatureScheme(req: Request): SignatureScheme | null {
  if (req.get('signature-input')) return 'rfc9421';
  return req.get('signature') ? 'draft-cavage' : null;
}

const httpIri = (iri: string) => URL.canParse(iri) && /^https?:$/.test(new URL(iri).protocol);

/**
 * HTTP request signatures, both schemes, for every route that needs to know who is asking: inbox POSTs
 * (the guard) and, once authorized fetch is required, signed GETs (`middleware`). RFC 9421 when the request
 * has `Signature-Input`, draft-cavage otherwise; the same key rules for both (docs/federation.md,
 * "Signatures"): an http(s) key id, on the actor's origin when an actor is expected, inside the federation
 * policy, fetched and bound to its owner by RemoteKeys; a cached key that does not verify is fetched once
 * more (rotation). Every failure is an UnauthenticatedError (401) naming what is wrong, except the policy
 * (403).
 */
export class SignatureVerifier {
  private readonly origin: string;

  constructor(
    private readonly deps: {
      keys: RemoteKeys;
      policy: FederationPolicy;
      options: SignatureVerifierOptions;
    },
  ) {
    this.origin = new URL(deps.options.publicUrl).origin;
  }

  /**
   * Verify the request's signature. `actorId`: the activity's actor, whose origin the key must be on and
   * who must own it; `body`: the raw body, whose digest the signature must cover.
   */
  async verify(req: Request, expect: { actorId?: string; body?: Buffer } = {}): Promise<VerifiedSignature> {
    const scheme = signatureScheme(req);
    if (!scheme) throw new UnauthenticatedError('The request carries no HTTP signature.');
    const { actorId, body } = expect;
    const onActorOrigin = (keyId: string) => !actorId || originOf(keyId) === originOf(actorId);
    const maxSkewMs = this.deps.options.maxSkewMs;
    let keyId: string;
    let check: (pem: string) => void;
    try {
      if (scheme === 'rfc9421') {
        // Signatures by keys elsewhere (an intermediary's) are passed over; one on the actor's origin is used.
        const parsed = parseMessageSignature(req.headers, (k) => httpIri(k) && onActorOrigin(k));
        const message = { method: req.method, url: `${this.origin}${req.originalUrl}`, headers: req.headers };
        // What can be refused without the key (window, components, digest) is, before anything is fetched.
        checkMessageSignature(message, parsed, { maxSkewMs, ...(body ? { body } : {}) });
        keyId = parsed.keyId;
        check = (pem) => verifyMessageSignatureBytes(message, parsed, pem);
      } else {
        const parsed = parseSignature(req.get('signature'));
        keyId = parsed.keyId;
        check = (pem) =>
          verifyRequest({ method: req.method, path: req.originalUrl, headers: req.headers }, parsed, pem, {
            maxSkewMs,
            ...(body ? { body } : {}),
          });
      }
    } catch (err) {
      if (err instanceof SignatureError) throw new UnauthenticatedError(err.message);
      throw err;
    }
    if (!httpIri(keyId)) throw new UnauthenticatedError('The keyId is not an http(s) IRI.');
    // Peers publish keys next to their actors: a key elsewhere is refused before anything is fetched.
    if (!onActorOrigin(keyId))
      throw new UnauthenticatedError('The signing key is not on the actor’s origin.');
    if (!this.deps.policy.allows(keyId))
      throw new ForbiddenError(`${new URL(keyId).host} does not federate with this node.`);

    let key = await this.deps.keys.keyOf(keyId, false);
    const attempt = (pem: string) => {
      try {
        check(pem);
        return null;
      } catch (err) {
        if (err instanceof SignatureError) return err;
        return new SignatureError('the signing key is not a usable public key');
      }
    };
    let failure = attempt(key.publicKeyPem);
    // A rotated key: fetch it again once, if it came from the cache.
    if (failure && key.cached && /does not verify/.test(failure.message)) {
      key = await this.deps.keys.keyOf(keyId, true);
      failure = attempt(key.publicKeyPem);
    }
    if (failure) throw new UnauthenticatedError(failure.message.replace(/^./, (c) => c.toUpperCase()) + '.');
    if (actorId && key.owner !== actorId)
      throw new UnauthenticatedError('The signing key does not belong to the activity’s actor.');
    return { scheme, keyId, owner: key.owner };
  }

  /**
   * For routes where a signature says who asks (authorized fetch): a signed request is verified and its
   * signer put in `res.locals.signer`; an unsigned one passes with no signer unless `required`. A request
   * whose signature fails is refused (401, with `Accept-Signature`), so a sender can sign again.
   */
  middleware(options: { required: boolean }): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      if (!signatureScheme(req)) {
        if (!options.required) return next();
        res.set('Accept-Signature', acceptSignature(false));
        return next(new UnauthenticatedError('This document is served to signed requests only.'));
      }
      this.verify(req).then(
        (signer) => {
          res.locals.signer = signer;
          next();
        },
        (err: unknown) => {
          if (err instanceof UnauthenticatedError) res.set('Accept-Signature', acceptSignature(false));
          next(err);
        },
      );
    };
  }
}
