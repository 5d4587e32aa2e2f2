import { Lru } from '../core/lru.js';
import { signCavage, type RequestSigner } from './http-signature.js';
import { planFromAcceptSignature, signMessage, type MessageSignaturePlan } from './message-signature.js';
import { safeFetch, type OutboundPolicy, type OutboundResponse } from './outbound.js';

export interface SignedSend {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The body's draft-cavage Digest, when the caller already has it (one activity to many inboxes). */
  digest?: string;
  /** Told when a request is handed to its connection (once per attempt). */
  onSent?: () => void;
}

/**
 * Which signature scheme the node sends to each host (docs/federation.md, "Signatures"). draft-cavage
 * (`rsa-sha256`) by default: every fediverse server verifies it. A receiver that answers `401` with an
 * `Accept-Signature` header (RFC 9421 §5) is sent the request once more, signed with RFC 9421 as it asks; if
 * that is accepted, the host is remembered (in this process, up to 1000 hosts) and later requests to it are
 * signed that way first. A remembered host that answers 401 to RFC 9421 and accepts draft-cavage again is
 * forgotten.
 */
export class SignatureNegotiator {
  private readonly preferred = new Lru<string, MessageSignaturePlan>(1000);

  /** The scheme the next request to `host` is signed with first. */
  schemeFor(host: string): 'rfc9421' | 'draft-cavage' {
    return this.preferred.get(host.toLowerCase()) ? 'rfc9421' : 'draft-cavage';
  }

  /** Sign and send a request through the outbound policy, negotiating the scheme as above. */
  async send(
    request: SignedSend,
    signer: RequestSigner,
    outbound: OutboundPolicy,
  ): Promise<OutboundResponse> {
    const host = new URL(request.url).host.toLowerCase();
    const plan = this.preferred.get(host);
    const first = await this.sign(request, signer, plan);
    const response = await this.fetch(request, first, outbound);
    if (response.status !== 401) return response;
    const asked = planFromAcceptSignature(response.headers['accept-signature'], signer.keyId);
    if (plan) {
      // The host asked for RFC 9421 before; if it no longer takes it, draft-cavage once more.
      const again = await this.fetch(request, await this.sign(request, signer, asked ?? undefined), outbound);
      if (again.status !== 401) {
        if (asked) this.preferred.set(host, asked);
        else this.preferred.delete(host);
      }
      return again;
    }
    if (!asked) return response;
    const again = await this.fetch(request, await this.sign(request, signer, asked), outbound);
    if (again.status !== 401 && again.status !== 400) this.preferred.set(host, asked);
    return again;
  }

  private sign(
    request: SignedSend,
    signer: RequestSigner,
    plan: MessageSignaturePlan | undefined,
  ): Promise<Record<string, string>> {
    const input = {
      method: request.method,
      url: request.url,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
    };
    if (plan) return signMessage(input, signer, plan);
    return signCavage({ ...input, ...(request.digest ? { digest: request.digest } : {}) }, signer);
  }

  private fetch(
    request: SignedSend,
    headers: Record<string, string>,
    outbound: OutboundPolicy,
  ): Promise<OutboundResponse> {
    return safeFetch(
      request.url,
      {
        method: request.method,
        headers,
        ...(request.body !== undefined ? { body: request.body } : {}),
        ...(request.onSent ? { onSent: request.onSent } : {}),
      },
      outbound,
    );
  }
}
