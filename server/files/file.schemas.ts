import { z } from 'zod';
import { objectId } from '../threads/thread.schemas.js';

const name = z.string().trim().min(1, 'must not be empty').max(255);

export const fileParams = z.object({ id: objectId });
export const libraryQuery = z.object({
  folder: objectId.optional().describe('The folder to list or upload into (the root when absent)'),
  deleted: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('Moderators: list the deleted files that can still be restored'),
  cursor: objectId.optional().describe('The last file of the previous page'),
  limit: z.coerce.number().int().min(1).max(200).default(100),
});
export const fileSearchQuery = z.object({
  q: z.string().trim().min(1).max(200),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export const uploadQuery = z.object({ folder: objectId.optional() });
export const contentQuery = z.object({
  version: z.coerce.number().int().min(1).max(1_000_000).optional(),
  disposition: z.enum(['attachment', 'inline']).default('attachment'),
});
export const filePatch = z
  .object({ name, folderId: objectId.nullable() })
  .partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give a name or a folderId');
export const folderInput = z.object({ name, parentId: objectId.optional() }).strict();
export const folderPatch = z
  .object({ name, parentId: objectId.nullable() })
  .partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give a name or a parentId');

export const fileView = z.object({
  id: z.string(),
  group: z.string(),
  folderId: z.string().nullable(),
  kind: z.enum(['library', 'attachment']),
  name: z.string(),
  size: z.number().int(),
  contentType: z.string().describe('Sniffed from the bytes'),
  sha256: z.string(),
  version: z.number().int(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deletedAt: z.string().nullable(),
  url: z.string(),
  thumbnailUrl: z.string().nullable().describe('Set once the thumbnail of an image is ready'),
});
export const fileDetail = fileView.extend({
  versions: z.array(
    z.object({
      n: z.number().int(),
      name: z.string(),
      size: z.number().int(),
      contentType: z.string(),
      sha256: z.string(),
      uploadedAt: z.string(),
      url: z.string(),
    }),
  ),
});
export const folderView = z.object({
  id: z.string(),
  parentId: z.string().nullable(),
  name: z.string(),
  createdAt: z.string(),
});
export const libraryView = z.object({
  folders: z.array(folderView).describe('On the first page only'),
  files: z.array(fileView),
  nextCursor: z.string().nullable(),
});
export const multipartFiles = (field: string, many: boolean) =>
  z.object({
    [field]: many
      ? z.array(z.string().describe('binary file')).describe('one or more files')
      : z.string().describe('binary file'),
  });
