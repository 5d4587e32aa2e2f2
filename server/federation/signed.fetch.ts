import type { Request } from 'express';
import type { FederationPolicy } from './federation.policy.js';
import { parseSignature, verifyRequest } from './http-signature.js';
import type { RemoteKeys } from './remote.keys.js';

/**
 * Who signed a GET (draft-cavage, as peers sign their fetches): the actor owning the verified key, or null
 * for an unsigned request or one whose signature does not verify. Used where a document is served only to
 * the servers it was addressed to (docs/federation.md, "Documents").
 */
export function signedFetchVerifier(deps: {
  keys: RemoteKeys;
  policy: FederationPolicy;
  maxSkewMs: number;
}): (req: Request) => Promise<string | null> {
  return async (req) => {
    const header = req.get('signature');
    if (!header) return null;
    try {
      const parsed = parseSignature(header);
      if (!URL.canParse(parsed.keyId) || !/^https?:$/.test(new URL(parsed.keyId).protocol)) return null;
      if (!deps.policy.allows(parsed.keyId)) return null;
      const key = await deps.keys.keyOf(parsed.keyId, false);
      verifyRequest(
        { method: req.method, path: req.originalUrl, headers: req.headers },
        parsed,
        key.publicKeyPem,
        {
          maxSkewMs: deps.maxSkewMs,
        },
      );
      return key.owner;
    } catch {
      return null;
    }
  };
}
