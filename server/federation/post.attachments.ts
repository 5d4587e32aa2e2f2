import type { Readable } from 'node:stream';
import type { ObjectId } from 'mongodb';
import type { Logger } from '../core/logger.js';
import type { AttachmentCopies, AttachmentSource } from '../files/attachment.copies.js';
import type { AttachmentSummary } from '../files/file.service.js';
import type { GroupDoc } from '../groups/group.repository.js';
import { isNode, originOf } from './as.values.js';
import type { FederationRecords } from './federation.records.js';
import type { KeyStore } from './federation.keys.js';
import { pemSigner, signCavage } from './http-signature.js';
import { safeFetch, type OutboundPolicy } from './outbound.js';
import { urlOf } from './as.values.js';

/** Object types read as a post's file attachments (Mastodon sends Document and Image). */
const FILE_TYPES = new Set(['Document', 'Image', 'Video', 'Audio']);
/** Attachments read from one post, at most. */
export const MAX_ATTACHMENTS = 20;
/** Time for copying all the files of one post (a slow or silent origin cannot hold a delivery longer). */
const POST_FETCH_BUDGET_MS = 120_000;

/**
 * The term for an attachment's size in bytes (docs/federation.md, "Attachments"): defined inline in a post
 * that carries attachments, as Ensemble defines its other terms.
 */
export const ATTACHMENT_TERMS = { ensemble: 'https://w3id.org/ensemble/ns#', size: 'ensemble:size' };

/** A file attached to a post of another node, as its object describes it. */
export interface IncomingAttachment {
  url: string;
  name: string | null;
  mediaType: string | null;
  size: number | null;
}

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

/** The file attachments of a post object (`attachment`: Document, Image, Video or Audio with a `url`). */
export function readAttachments(value: unknown): IncomingAttachment[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const found = new Map<string, IncomingAttachment>();
  for (const item of list) {
    if (!isNode(item) || !FILE_TYPES.has(String(first(item.type)))) continue;
    const url = urlOf(item.url);
    if (!url || !/^https?:$/.test(new URL(url).protocol) || found.has(url)) continue;
    const name = typeof item.name === 'string' && item.name.trim() ? item.name.slice(0, 255) : null;
    const mediaType = typeof item.mediaType === 'string' ? item.mediaType.slice(0, 100) : null;
    const size =
      typeof item.size === 'number' && Number.isSafeInteger(item.size) && item.size >= 0 ? item.size : null;
    found.set(url, { url, name, mediaType, size });
    if (found.size >= MAX_ATTACHMENTS) break;
  }
  return [...found.values()];
}

/** A post's attachments as ActivityStreams Documents: its own files at this node's URL, copies at their origin's. */
export function renderAttachments(list: AttachmentSummary[], base: string): Record<string, unknown>[] {
  return list.map((a) => ({
    type: 'Document',
    mediaType: a.contentType,
    name: a.name,
    url: a.origin ?? `${base}/ap/files/${a.fileId.toHexString()}`,
    size: a.size,
  }));
}

/**
 * Where this node reads an attachment's bytes (docs/adr/0029-attachments-across-nodes.md), or why it does
 * not: only on the post's own origin; in a members-only group hosted elsewhere, a post of a third node's
 * attachment is read from the group's node (which kept its copy), as the group's copy of the post is
 * believed there (ADR 0028).
 */
export function attachmentSource(
  url: string,
  postIri: string,
  group: GroupDoc,
): { url: string } | { refused: string } {
  const postOrigin = originOf(postIri);
  if (originOf(url) !== postOrigin) return { refused: "it is not on the post's own node" };
  const groupOrigin = group.origin ? originOf(group.origin.iri) : null;
  if (groupOrigin && group.visibility === 'members' && groupOrigin !== postOrigin)
    return { url: `${groupOrigin}/ap/files?url=${encodeURIComponent(url)}` };
  return { url };
}

/**
 * Copies of the attachments of posts received from other nodes: each read with a GET signed by this node's
 * instance actor (so a members-only group's node serves it), streamed into the files domain, which applies
 * this node's limits. A refusal leaves the attachment recorded as not available; the post is kept.
 */
export class PostAttachments {
  constructor(
    private readonly deps: {
      copies: AttachmentCopies;
      records: FederationRecords;
      keys: KeyStore;
      instanceIri: string;
      userAgent: string;
      outbound: OutboundPolicy;
      logger: Logger;
    },
  ) {}

  private policy(deadline: number): OutboundPolicy {
    // No redirect is followed: the bytes come from the host the post's origin allows, or not at all.
    return {
      ...this.deps.outbound,
      maxBytes: this.deps.copies.maxBytes,
      maxRedirects: 0,
      timeoutMs: Math.max(1, deadline - Date.now()),
    };
  }

  /** A signed GET of `url`, its body as a stream, within the post's time budget. */
  private open(url: string, deadline: number): AttachmentSource {
    return async (): Promise<Readable> => {
      if (Date.now() >= deadline) throw new Error('the time for copying this post’s files ran out');
      const { instanceIri, keys, userAgent } = this.deps;
      const headers = await signCavage(
        { method: 'GET', url, headers: { accept: '*/*', 'user-agent': userAgent } },
        pemSigner(`${instanceIri}#main-key`, await keys.privateKey(instanceIri)),
      );
      const response = await safeFetch(url, { method: 'GET', headers, stream: true }, this.policy(deadline));
      if (!response.stream) throw new Error(`it answered ${response.status}`);
      return response.stream;
    };
  }

  /** Forget the copies kept for a post that was then refused. */
  discard(kept: AttachmentSummary[]): Promise<void> {
    return this.deps.copies.discard(kept.map((a) => a.fileId));
  }

  /** Record the attachments a received post carries, for the post about to be written (`attachedTo`). */
  async receive(
    group: GroupDoc,
    postIri: string,
    attachments: IncomingAttachment[],
    authorId: ObjectId,
    attachedTo: { kind: 'threads' | 'replies'; id: ObjectId },
  ): Promise<AttachmentSummary[]> {
    const kept: AttachmentSummary[] = [];
    const deadline = Date.now() + POST_FETCH_BUDGET_MS;
    for (const a of attachments) {
      const claim = await this.deps.records.claim(a.url, 'file');
      if (claim.kind !== 'file') continue;
      const source = attachmentSource(a.url, postIri, group);
      const offer = {
        id: claim.localId,
        groupId: group._id,
        audience: group.deletedAt ? ('hidden' as const) : group.visibility,
        authorId,
        attachedTo,
        url: a.url,
        name: a.name,
        declaredType: a.mediaType,
        declaredSize: a.size,
      };
      kept.push(
        await this.deps.copies.keep(offer, 'refused' in source ? source : this.open(source.url, deadline)),
      );
    }
    return kept;
  }
}
