import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { ObjectId } from 'mongodb';
import multer from 'multer';
import sanitizeFilename from 'sanitize-filename';
import {
  DomainError,
  InsufficientStorageError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../core/errors.js';
import type { FileRepository } from './file.repository.js';
import { msg } from '../core/messages.js';

/** Bytes read before deciding a file's type (file-type's own sample size). */
const SNIFF_BYTES = 4100;

/** What an upload stored: one GridFS file, measured and hashed on the way in. */
export interface StoredBlob {
  blobId: ObjectId;
  field: string;
  name: string;
  size: number;
  sha256: string;
  contentType: string;
}

export interface TypePolicy {
  allowed: string[];
  denied: string[];
}

const matches = (type: string, patterns: string[]) =>
  patterns.some((p) => p === type || (p.endsWith('/*') && type.startsWith(p.slice(0, -1))));

export function typeAccepted(type: string, policy: TypePolicy): boolean {
  if (matches(type, policy.denied)) return false;
  return policy.allowed.length === 0 || matches(type, policy.allowed);
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * A name safe to keep and to send back in Content-Disposition: the last path segment only, without
 * control characters, path or reserved characters, Windows device names, or trailing dots and spaces,
 * at most 255 bytes. What is left of `../../etc/passwd` is `passwd`.
 */
export function safeFileName(raw: string | undefined): string {
  let last = (raw ?? '').split(/[/\\]/).pop() ?? '';
  // A Windows device name keeps its text, prefixed, rather than being dropped.
  if (WINDOWS_RESERVED.test(last.trim())) last = `_${last.trim()}`;
  const name = sanitizeFilename(last.normalize('NFC'), { replacement: '' })
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim();
  if (!name || /^\.+$/.test(name)) return 'file';
  return name;
}

/** The type of a file from its first bytes: file-type's answer, else text when it decodes as UTF-8. */
export async function sniffType(head: Buffer): Promise<string> {
  const { fileTypeFromBuffer } = await import('file-type');
  const found = await fileTypeFromBuffer(head);
  if (found) return found.mime;
  if (head.length === 0) return 'application/octet-stream';
  if (head.includes(0)) return 'application/octet-stream';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return 'text/plain';
  } catch {
    return 'application/octet-stream';
  }
}

/** Counts, hashes and sniffs the bytes as they pass; refuses a type or a size on the way. */
export class Inspect extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  contentType = 'application/octet-stream';
  private head: Buffer[] | null = [];
  private headBytes = 0;

  constructor(
    private readonly policy: TypePolicy,
    private readonly budget: { remaining: number },
    /** Bytes a file may have (multer counts them itself for uploads). */
    private readonly maxBytes = Infinity,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      done(new PayloadTooLargeError('This file is over the size limit.'));
      return;
    }
    this.budget.remaining -= chunk.length;
    if (this.budget.remaining < 0) {
      done(new InsufficientStorageError('This upload would take the group past its storage quota.'));
      return;
    }
    this.hash.update(chunk);
    if (!this.head) {
      done(null, chunk);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) {
      done();
      return;
    }
    this.decide().then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    if (!this.head) {
      done();
      return;
    }
    this.decide().then(() => done(), done);
  }

  /** Sniff the first bytes, refuse a type the node does not take, then let the held bytes through. */
  private async decide(): Promise<void> {
    const head = Buffer.concat(this.head!);
    this.head = null;
    this.contentType = await sniffType(head.subarray(0, SNIFF_BYTES));
    if (!typeAccepted(this.contentType, this.policy)) {
      throw new UnsupportedMediaTypeError(msg`Files of type ${this.contentType} are not accepted here.`, [
        { field: 'body.files', message: msg`type ${this.contentType} refused` },
      ]);
    }
    this.push(head);
  }
}

/**
 * A multer storage engine that streams each file straight into GridFS: nothing on disk, nothing held in
 * memory beyond the first 4 KiB (for sniffing) and the stream buffers. A file that fails for any reason
 * (limit, quota, refused type, client gone) has its chunks removed before the failure is reported.
 */
class GridFsEngine implements multer.StorageEngine {
  constructor(
    private readonly repo: FileRepository,
    private readonly policy: TypePolicy,
    private readonly budget: { remaining: number },
  ) {}

  _handleFile(
    _req: Request,
    file: Express.Multer.File,
    callback: (error?: unknown, info?: Partial<Express.Multer.File> & { blob?: StoredBlob }) => void,
  ): void {
    const blobId = new ObjectId();
    const name = safeFileName(file.originalname);
    const inspect = new Inspect(this.policy, this.budget);
    const upload = this.repo.blobs.openUploadStreamWithId(blobId, name);
    let truncated = false;
    file.stream.once('limit', () => {
      truncated = true;
      inspect.destroy(new PayloadTooLargeError('This file is over the size limit.'));
    });
    const fail = async (err: unknown) => {
      // A chunk insert already sent completes after the failure; remove the chunks once none is in flight.
      for (let i = 0; i < 500 && upload.state.outstandingRequests > 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await this.repo.removeBlob('blobs', blobId).catch(() => undefined);
      file.stream.resume(); // let busboy read past the rest of this file
      callback(err);
    };
    const stored = async () => {
      if (truncated) throw new PayloadTooLargeError('This file is over the size limit.');
      const sha256 = inspect.hash.digest('hex');
      await this.repo.db
        .collection('blobs.files')
        .updateOne({ _id: blobId }, { $set: { metadata: { contentType: inspect.contentType, sha256 } } });
      return {
        blobId,
        field: file.fieldname,
        name,
        size: inspect.size,
        sha256,
        contentType: inspect.contentType,
      };
    };
    // Every outcome ends in exactly one callback, with the blob removed on any failure.
    pipeline(file.stream, inspect, upload)
      .then(stored)
      .then(
        (blob) => callback(null, { size: blob.size, blob }),
        (err: unknown) => fail(err),
      )
      .catch((err: unknown) => callback(err));
  }

  _removeFile(
    _req: Request,
    file: Express.Multer.File & { blob?: StoredBlob },
    callback: (error: Error | null) => void,
  ): void {
    if (!file.blob) {
      callback(null);
      return;
    }
    this.repo.removeBlob('blobs', file.blob.blobId).then(
      () => callback(null),
      (err: unknown) => callback(err as Error),
    );
  }
}

export interface UploadLimits {
  maxFileBytes: number;
  maxFiles: number;
  maxFields: number;
  maxFieldBytes: number;
  policy: TypePolicy;
  /** Bytes the group may still store (Infinity: no quota). */
  remainingQuota: number;
}

const MULTER_PROBLEMS: Record<string, (field: string) => ValidationError> = {
  LIMIT_FILE_COUNT: (f) =>
    new ValidationError('Too many files in one upload.', [{ field: `body.${f}`, message: 'too many files' }]),
  LIMIT_FIELD_COUNT: () =>
    new ValidationError('Too many form fields.', [{ field: 'body', message: 'too many fields' }]),
  LIMIT_PART_COUNT: () =>
    new ValidationError('Too many parts in the form.', [{ field: 'body', message: 'too many parts' }]),
  LIMIT_FIELD_KEY: () =>
    new ValidationError('A form field name is too long.', [
      { field: 'body', message: 'field name too long' },
    ]),
  LIMIT_FIELD_VALUE: (f) =>
    new ValidationError('A form field is too long.', [{ field: `body.${f}`, message: 'too long' }]),
  LIMIT_UNEXPECTED_FILE: (f) =>
    new ValidationError(msg`Send files in the multipart field named ${f}.`, [
      { field: `body.${f}`, message: 'unexpected file field' },
    ]),
};

/**
 * A request's multipart files, received when the service that decided their limits asks for them (the route
 * binds it to its request: services never see one).
 */
export type IncomingFiles = (
  field: string,
  limits: UploadLimits,
) => Promise<{ blobs: StoredBlob[]; fields: Record<string, unknown> }>;

/** The files of this request, to be received into GridFS through `repo` (see `receiveFiles`). */
export function incomingFiles(req: Request, res: Response, repo: FileRepository): IncomingFiles {
  return (field, limits) => receiveFiles(req, res, repo, field, limits);
}

/**
 * Receive the multipart files of `field` into GridFS, with every limit applied while streaming. Resolves
 * with the stored blobs once all are complete; on any failure nothing of the request is kept.
 */
export function receiveFiles(
  req: Request,
  res: Response,
  repo: FileRepository,
  field: string,
  limits: UploadLimits,
): Promise<{ blobs: StoredBlob[]; fields: Record<string, unknown> }> {
  if (!req.is('multipart/form-data')) {
    return Promise.reject(
      new UnsupportedMediaTypeError('Send files as multipart/form-data.', [
        { field: 'body', message: 'not multipart' },
      ]),
    );
  }
  const budget = { remaining: limits.remainingQuota };
  const upload = multer({
    storage: new GridFsEngine(repo, limits.policy, budget),
    // Browsers send file names as UTF-8 (multer would read them as latin1: "rÃ©sumÃ©.pdf").
    defParamCharset: 'utf8',
    limits: {
      fileSize: limits.maxFileBytes,
      files: limits.maxFiles,
      fields: limits.maxFields,
      fieldSize: limits.maxFieldBytes,
      parts: limits.maxFiles + limits.maxFields,
    },
  }).array(field, limits.maxFiles);
  return new Promise((resolve, reject) => {
    upload(req, res, (err?: unknown) => {
      if (err) {
        const code = (err as { code?: string }).code;
        if (code === 'LIMIT_FILE_SIZE') {
          const mib = Math.round((limits.maxFileBytes / 1024 / 1024) * 10) / 10;
          reject(
            new PayloadTooLargeError(msg`A file is ${mib} MiB at most.`, [
              { field: `body.${field}`, message: 'too large' },
            ]),
          );
        } else if (code && MULTER_PROBLEMS[code]) {
          reject(MULTER_PROBLEMS[code](field));
        } else if (err instanceof DomainError || (err instanceof Error && err.name.startsWith('Mongo'))) {
          reject(err);
        } else {
          // busboy's complaints about the form itself: a truncated body, a bad boundary or part header.
          const message = err instanceof Error ? err.message : 'malformed';
          reject(
            new ValidationError(msg`The multipart body is not valid: ${message}.`, [
              { field: 'body', message: 'malformed multipart' },
            ]),
          );
        }
        return;
      }
      const files = (req.files as (Express.Multer.File & { blob: StoredBlob })[] | undefined) ?? [];
      resolve({ blobs: files.map((f) => f.blob), fields: { ...(req.body as Record<string, unknown>) } });
    });
  });
}
