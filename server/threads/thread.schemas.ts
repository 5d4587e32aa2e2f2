import { z } from 'zod';

export const objectId = z.string().regex(/^[0-9a-f]{24}$/, 'expected an id');
const body = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(20_000)
  .describe('Markdown; @handle mentions a person');

const attachments = z
  .array(objectId)
  .max(10)
  .optional()
  .describe('Ids of files you uploaded to the group with POST /groups/{group}/attachments');
export const threadInput = z
  .object({
    title: z.string().trim().min(3).max(200),
    body,
    attachments,
    notify: z.boolean().optional().describe('false: nobody is notified (owners and admins only)'),
  })
  .strict();
export const threadPatch = z
  .object({ title: z.string().trim().min(3).max(200), body })
  .partial()
  .strict();
export const replyInput = z.object({ body, parentId: objectId.optional(), attachments }).strict();
export const replyPatch = z.object({ body }).strict();
export const removeInput = z.object({ reason: z.string().trim().max(500).optional() }).strict();

export const idParams = z.object({ id: objectId });
export const pageQuery = z.object({
  cursor: z.string().max(80).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

const author = z.object({ handle: z.string(), displayName: z.string() }).nullable();
const tombstone = z
  .object({ at: z.string(), byModerator: z.boolean(), reason: z.string().nullable() })
  .nullable();
const renderedBody = z.object({ html: z.string(), markdown: z.string().optional() });
const federated = {
  pending: z
    .boolean()
    .describe('Written here into a group hosted on another node, not yet announced by that group'),
  url: z.string().nullable().describe('For a post written on another node: its page there'),
};
const attachmentView = z.object({
  id: z.string(),
  name: z.string(),
  size: z.number().int(),
  contentType: z.string(),
  url: z.string(),
  thumbnailUrl: z.string().nullable().describe('For images; answers 404 until the thumbnail is made'),
  unavailable: z
    .string()
    .nullable()
    .describe(
      'A file of a post written on another node that this node could not copy (refused type, too large, not served): why; it cannot be downloaded here',
    ),
});

export const threadView = z.object({
  id: z.string(),
  group: z.string(),
  title: z.string(),
  body: renderedBody.nullable(),
  author,
  pinned: z.boolean(),
  locked: z.boolean(),
  replyCount: z.number().int(),
  likeCount: z.number().int(),
  likedByMe: z.boolean(),
  createdAt: z.string(),
  editedAt: z.string().nullable(),
  lastActivityAt: z.string(),
  deleted: tombstone,
  attachments: z.array(attachmentView),
  ...federated,
});
export type ThreadView = z.infer<typeof threadView>;

export const replyView = z.object({
  id: z.string(),
  threadId: z.string(),
  parentId: z.string().nullable(),
  depth: z.number().int(),
  seq: z
    .number()
    .int()
    .describe('Position in the thread: pass the last one seen as `cursor` to read what came after it'),
  body: renderedBody.nullable(),
  author,
  likeCount: z.number().int(),
  likedByMe: z.boolean(),
  createdAt: z.string(),
  editedAt: z.string().nullable(),
  deleted: tombstone,
  attachments: z.array(attachmentView),
  ...federated,
});
export type ReplyView = z.infer<typeof replyView>;

export const threadPage = z.object({
  pinned: z.array(threadView),
  items: z.array(threadView),
  nextCursor: z.string().nullable(),
});
export const replyPage = z.object({ items: z.array(replyView), nextCursor: z.string().nullable() });
