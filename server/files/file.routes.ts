import { Router } from 'express';
import { z } from 'zod';
import type { Api } from '../core/api.js';
import { NotFoundError } from '../core/errors.js';
import { groupParams } from '../groups/group.schemas.js';
import { sendDownload } from './file.download.js';
import type { FileRepository } from './file.repository.js';
import {
  contentQuery,
  fileDetail,
  fileParams,
  filePatch,
  fileSearchQuery,
  fileView,
  folderInput,
  folderPatch,
  folderView,
  libraryQuery,
  libraryView,
  multipartFiles,
  uploadQuery,
} from './file.schemas.js';
import { THUMBNAIL_SOURCES, type FileService } from './file.service.js';
import { incomingFiles } from './file.storage.js';
import type { FolderService } from './folder.service.js';

export function fileRoutes(
  api: Api,
  files: FileService,
  folders: FolderService,
  repo: FileRepository,
): Router {
  const router = Router();
  const tags = ['files'];

  api.route(
    router,
    {
      method: 'get',
      path: '/groups/:group/files',
      summary: "A folder of the group's library: its folders and files, by name",
      tags,
      access: 'public',
      params: groupParams,
      query: libraryQuery,
      response: libraryView,
    },
    async ({ caller, params, query }) => {
      const page = await files.views.list(caller, params.group, query);
      const first = !query.deleted && !query.cursor;
      return { folders: first ? await folders.list(caller, params.group, query.folder) : [], ...page };
    },
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/groups/:group/files',
      summary: "Upload files to the group's library (members who may post; streamed, size and type checked)",
      tags,
      access: 'person',
      params: groupParams,
      query: uploadQuery,
      rawBody: { contentType: 'multipart/form-data', schema: multipartFiles('files', true) },
      response: z.array(fileView),
    },
    async ({ caller, params, query, req, res }) =>
      files.upload(caller, params.group, 'library', query.folder, incomingFiles(req, res, repo)),
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/groups/:group/attachments',
      summary: 'Upload files to attach to a thread or reply (then pass their ids as attachments)',
      tags,
      access: 'person',
      params: groupParams,
      rawBody: { contentType: 'multipart/form-data', schema: multipartFiles('files', true) },
      response: z.array(fileView),
    },
    async ({ caller, params, req, res }) =>
      files.upload(caller, params.group, 'attachment', undefined, incomingFiles(req, res, repo)),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/files/:id',
      summary: 'A file and its versions',
      tags,
      access: 'public',
      params: fileParams,
      response: fileDetail,
    },
    async ({ caller, params }) => files.views.get(caller, params.id),
  );
  api.route(
    router,
    {
      method: 'patch',
      path: '/files/:id',
      summary: 'Rename or move a library file (its uploader or a moderator)',
      tags,
      access: 'person',
      params: fileParams,
      body: filePatch,
      response: fileView,
    },
    async ({ caller, params, body }) => files.update(caller, params.id, body),
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/files/:id/versions',
      summary: "Replace a file's content; earlier versions stay downloadable (its uploader or a moderator)",
      tags,
      access: 'person',
      params: fileParams,
      rawBody: { contentType: 'multipart/form-data', schema: multipartFiles('file', false) },
      response: fileView,
    },
    async ({ caller, params, req, res }) => files.replace(caller, params.id, incomingFiles(req, res, repo)),
  );
  api.command(
    router,
    {
      method: 'delete',
      path: '/files/:id',
      summary: `Delete a file (its uploader or a moderator); it can be restored within GROUP_RETENTION_DAYS`,
      tags,
      access: 'person',
      params: fileParams,
    },
    async ({ caller, params }) => files.remove(caller, params.id),
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/files/:id/restore',
      summary: 'Restore a deleted file (its uploader or a moderator)',
      tags,
      access: 'person',
      params: fileParams,
      status: 200,
      response: fileView,
    },
    async ({ caller, params }) => files.restore(caller, params.id),
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/files/:id/content',
      summary:
        "Download a file (any version): Range, ETag and Last-Modified honoured; the group's visibility applies",
      tags,
      access: 'public',
      params: fileParams,
      query: contentQuery,
      responseDescription: 'The bytes (206 for a range)',
    },
    async ({ caller, params, query, req, res }) => {
      const { version, name } = await files.views.content(caller, params.id, query.version);
      const inline = query.disposition === 'inline' && THUMBNAIL_SOURCES.includes(version.contentType);
      await sendDownload(req, res, {
        db: repo.db,
        bucket: 'blobs',
        blobId: version.blobId,
        size: version.size,
        contentType: version.contentType,
        name,
        etag: `"${version.sha256}"`,
        lastModified: version.uploadedAt,
        disposition: inline ? 'inline' : 'attachment',
      });
    },
  );
  api.route(
    router,
    {
      method: 'get',
      path: '/files/:id/thumbnail',
      summary: "An image's thumbnail (WebP, 320 px at most), once made; 404 until then",
      tags,
      access: 'public',
      params: fileParams,
      responseDescription: 'The thumbnail bytes',
    },
    async ({ caller, params, req, res }) => {
      const { version } = await files.views.content(caller, params.id, undefined);
      if (!version.thumbnail) throw new NotFoundError('This file has no thumbnail (yet).');
      const size = await repo.thumbnailSize(version.thumbnail.blobId);
      if (size === undefined) throw new NotFoundError('This file has no thumbnail (yet).');
      await sendDownload(req, res, {
        db: repo.db,
        bucket: 'thumbnails',
        blobId: version.thumbnail.blobId,
        size,
        contentType: version.thumbnail.contentType,
        name: `${version.name}.webp`,
        etag: `"t-${version.sha256}"`,
        lastModified: version.uploadedAt,
        disposition: 'inline',
      });
    },
  );

  api.route(
    router,
    {
      method: 'get',
      path: '/search/files',
      summary: 'Library files whose name has every word of the query, among those the searcher may read',
      tags,
      access: 'public',
      query: fileSearchQuery,
      response: z.array(fileView),
    },
    async ({ caller, query }) => files.views.search(caller, query),
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/groups/:group/folders',
      summary: "Create a folder in the group's library (members who may post)",
      tags,
      access: 'person',
      params: groupParams,
      body: folderInput,
      response: folderView,
    },
    async ({ caller, params, body }) => folders.create(caller, params.group, body),
  );
  api.route(
    router,
    {
      method: 'patch',
      path: '/folders/:id',
      summary: 'Rename or move a folder (its creator or a moderator)',
      tags,
      access: 'person',
      params: fileParams,
      body: folderPatch,
      response: folderView,
    },
    async ({ caller, params, body }) => folders.update(caller, params.id, body),
  );
  api.command(
    router,
    {
      method: 'delete',
      path: '/folders/:id',
      summary: 'Remove an empty folder (its creator or a moderator)',
      tags,
      access: 'person',
      params: fileParams,
    },
    async ({ caller, params }) => folders.remove(caller, params.id),
  );
  return router;
}
