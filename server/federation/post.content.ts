import sanitizeHtml from 'sanitize-html';
import { ValidationError } from '../core/errors.js';
import { sanitizeHtmlFragment } from '../core/html.js';
import type { Rendered } from '../groups/group.repository.js';
import { idOf, isNode, urlOf } from './as.values.js';
import { readAttachments, type IncomingAttachment } from './post.attachments.js';

/** Object types read as posts: a thread (no `inReplyTo`) or a reply. */
export const POST_TYPES = new Set(['Page', 'Note', 'Article', 'Question']);

const MAX_TEXT = 20_000;
const MAX_TITLE = 200;

/** A post another node wrote, as the domain takes it (docs/federation.md, "Posts"). */
export interface IncomingPost {
  iri: string;
  type: string;
  /** `name`, else `summary`, else the first line of the text (threads need a title). */
  title: string;
  /** Sanitised HTML, with its plain text as `markdown` (for search and for editing nothing: not ours). */
  body: Rendered;
  inReplyTo: string | null;
  /** FEP-7888: the thread. */
  context: string | null;
  /** `audience`, `to` and `cc`: where a group is named. */
  addressed: string[];
  attributedTo: string | null;
  published: Date | undefined;
  /** Its page on its node. */
  url: string | null;
  /** The files it carries (docs/adr/0029-attachments-across-nodes.md). */
  attachments: IncomingAttachment[];
}

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);
const iris = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).map((x) => idOf(x)).filter((x): x is string => typeof x === 'string');

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' };

/** The text of an HTML fragment: paragraphs and line breaks kept as new lines, tags dropped. */
export function textOf(html: string): string {
  const marked = html.replace(/<br\s*\/?>/gi, '\n').replace(/<\/(p|div|li|h[1-6]|blockquote|pre)>/gi, '\n');
  const text = sanitizeHtml(marked, { allowedTags: [], allowedAttributes: {} });
  return text
    .replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, e: string) => ENTITIES[e] ?? '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
    .slice(0, MAX_TEXT);
}

/** Read a post object (already cut to what its origin may vouch for). */
export function readPost(raw: Record<string, unknown>): IncomingPost {
  const iri = str(raw.id);
  const type = str(first(raw.type));
  if (!iri || !type || !POST_TYPES.has(type))
    throw new ValidationError('The object is not a post (Page, Note, Article or Question).', [
      { field: 'body.object.type', message: `expected ${[...POST_TYPES].join(', ')}` },
    ]);
  const contentMap = isNode(raw.contentMap) ? Object.values(raw.contentMap).find((v) => str(v)) : undefined;
  const content = str(raw.content) ?? str(contentMap) ?? '';
  const html = sanitizeHtmlFragment(content.slice(0, MAX_TEXT * 2));
  const source = isNode(raw.source) ? raw.source : null;
  const markdown =
    source && source.mediaType === 'text/markdown' && str(source.content)
      ? String(source.content).slice(0, MAX_TEXT)
      : textOf(html);
  const name = str(first(raw.name)) ?? str(first(raw.summary));
  const title = (name ? textOf(name) : (markdown.split('\n')[0] ?? '')).slice(0, MAX_TITLE).trim() || '…';
  const published = str(raw.published);
  return {
    iri,
    type,
    title,
    body: { markdown, html },
    inReplyTo: idOf(first(raw.inReplyTo)),
    context: idOf(first(raw.context)),
    addressed: [...iris(raw.audience), ...iris(raw.to), ...iris(raw.cc)],
    attributedTo: idOf(first(raw.attributedTo)),
    published: published && !Number.isNaN(Date.parse(published)) ? new Date(published) : undefined,
    url: urlOf(raw.url),
    attachments: readAttachments(raw.attachment),
  };
}

/** Links the node writes relative to itself (mentions: `/people/<handle>`) made absolute for peers. */
export function absoluteLinks(html: string, base: string): string {
  return html.replace(/href="\/(?!\/)/g, `href="${base}/`);
}
