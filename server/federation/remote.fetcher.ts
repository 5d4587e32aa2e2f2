import type { KeyStore } from './federation.keys.js';
import { pemSigner } from './http-signature.js';
import { OutboundRefusedError, type OutboundPolicy } from './outbound.js';
import { SignatureNegotiator } from './signature.negotiator.js';

export const ACTIVITY_JSON = 'application/activity+json';
export const ACCEPT_ACTIVITY = `${ACTIVITY_JSON}, application/ld+json; profile="https://www.w3.org/ns/activitystreams"`;

/** A remote document could not be had, or is not one the node believes. */
export class RemoteFetchError extends Error {
  /**
   * Whether the failure may pass by itself: no answer in time, no connection, or the server's own trouble
   * (5xx but 501, 408, 429). What needed the document is worth trying again later (an inbox answers 503).
   */
  readonly transient: boolean;

  constructor(
    message: string,
    readonly status?: number,
    options: { transient?: boolean } = {},
  ) {
    super(message);
    this.name = 'RemoteFetchError';
    this.transient =
      options.transient ??
      (status !== undefined && ((status >= 500 && status !== 501) || status === 408 || status === 429));
  }
}

/**
 * Every GET the node makes to another server (actor and key documents, objects, JSON-LD contexts): the
 * federation policy and the outbound address policy at every hop (safeFetch), signed by the instance actor so
 * servers in secure mode answer. A document must come from the host it claims: its `id` has the origin of
 * the URL that finally answered.
 */
export class RemoteFetcher {
  constructor(
    private readonly outbound: OutboundPolicy,
    private readonly keys: KeyStore,
    private readonly instanceIri: string,
    private readonly userAgent: string,
    /** Which scheme each host is signed with (shared with the delivery worker). */
    private readonly signatures = new SignatureNegotiator(),
  ) {}

  async getJson(url: string, accept = ACCEPT_ACTIVITY): Promise<Record<string, unknown>> {
    if (!URL.canParse(url)) throw new RemoteFetchError(`${url} is not a URL`);
    const target = new URL(url);
    target.hash = '';
    // The federation policy is checked by safeFetch at every hop (OutboundPolicy.allowHost).
    let response;
    try {
      // Signed by the instance actor, draft-cavage unless the server asked for RFC 9421.
      response = await this.signatures.send(
        { method: 'GET', url: target.toString(), headers: { accept, 'user-agent': this.userAgent } },
        pemSigner(`${this.instanceIri}#main-key`, await this.keys.privateKey(this.instanceIri)),
        this.outbound,
      );
    } catch (err) {
      if (err instanceof OutboundRefusedError)
        throw new RemoteFetchError(err.message, undefined, { transient: err.transient });
      throw err;
    }
    if (response.status === 410) throw new RemoteFetchError(`${url} is gone`, 410);
    if (response.status !== 200)
      throw new RemoteFetchError(`${url} answered ${response.status}`, response.status);
    // A redirect to another origin could hand over a document that origin never vouched for.
    if (new URL(response.url).origin !== target.origin)
      throw new RemoteFetchError(`${url} redirected to another origin`);
    const text = response.body.toString('utf8');
    if (text.includes('\u0000') || text.includes('\\u0000'))
      throw new RemoteFetchError(`${url} answered NUL characters`);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new RemoteFetchError(`${url} did not answer JSON`);
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc))
      throw new RemoteFetchError(`${url} did not answer a JSON object`);
    return doc as Record<string, unknown>;
  }

  /** An ActivityStreams document whose `id` is on the origin that served it. */
  async getObject(url: string): Promise<Record<string, unknown>> {
    const doc = await this.getJson(url);
    const id = typeof doc.id === 'string' && URL.canParse(doc.id) ? doc.id : null;
    if (!id) throw new RemoteFetchError(`${url} has no usable id`);
    if (new URL(id).origin !== new URL(url).origin)
      throw new RemoteFetchError(`${url} answered a document from another origin (${id})`);
    return doc;
  }
}
