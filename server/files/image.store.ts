import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import { GridFSBucket, ObjectId, type Db } from 'mongodb';
import multer from 'multer';
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../core/errors.js';
import { msg } from '../core/messages.js';

/** Avatars and banners: PNG, JPEG, WebP or GIF, recognised from their bytes, never from the declared type. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;

export interface StoredImage {
  fileId: ObjectId;
  contentType: string;
  updatedAt: Date;
}

/** Parse one multipart image field into memory (images are small), mapping multer's errors to problems. */
export function imageUpload(field: string, maxBytes: number): RequestHandler {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: maxBytes, files: 1, fields: 0, parts: 1 },
  });
  const mib = Math.round((maxBytes / 1024 / 1024) * 10) / 10;
  return (req, res, next) =>
    upload.single(field)(req, res, (err?: unknown) => {
      if (!err) return next();
      const code = (err as { code?: string }).code;
      if (code === 'LIMIT_FILE_SIZE') {
        return next(
          new PayloadTooLargeError(msg`An image is ${mib} MiB at most.`, [
            { field: `body.${field}`, message: 'too large' },
          ]),
        );
      }
      next(
        new ValidationError(msg`The upload is not valid: ${(err as Error).message}`, [
          { field: `body.${field}`, message: code ? msg`${code}` : 'invalid' },
        ]),
      );
    });
}

/** The image's real type, from its bytes; anything else is refused with 415. */
export async function sniffImage(bytes: Buffer | undefined, field: string): Promise<string> {
  if (!bytes)
    throw new ValidationError(msg`Send the image in a multipart field named ${field}.`, [
      { field: `body.${field}`, message: 'required' },
    ]);
  const { fileTypeFromBuffer } = await import('file-type');
  const sniffed = await fileTypeFromBuffer(bytes);
  if (!sniffed || !(IMAGE_TYPES as readonly string[]).includes(sniffed.mime)) {
    throw new UnsupportedMediaTypeError(
      sniffed
        ? msg`An image must be PNG, JPEG, WebP or GIF; this file is ${sniffed.mime}.`
        : 'An image must be PNG, JPEG, WebP or GIF; this file is not an image.',
      [{ field: `body.${field}`, message: 'not an accepted image type' }],
    );
  }
  return sniffed.mime;
}

/** Image bytes in GridFS, so one database backup holds them too. */
export class ImageStore {
  private readonly bucket: GridFSBucket;
  constructor(db: Db) {
    this.bucket = new GridFSBucket(db, { bucketName: 'images' });
  }

  async save(bytes: Buffer, contentType: string, name: string): Promise<StoredImage> {
    const fileId = new ObjectId();
    await new Promise<void>((resolve, reject) => {
      const upload = this.bucket.openUploadStreamWithId(fileId, name, { metadata: { contentType } });
      upload.once('finish', () => resolve());
      upload.once('error', reject);
      upload.end(bytes);
    });
    return { fileId, contentType, updatedAt: new Date() };
  }

  async remove(image: StoredImage | null | undefined): Promise<void> {
    if (image) await this.bucket.delete(image.fileId).catch(() => undefined);
  }

  /** What a download route needs: type, a strong ETag, and the byte stream. */
  download(image: StoredImage) {
    return {
      contentType: image.contentType,
      etag: `"${image.fileId.toHexString()}"`,
      stream: () => this.bucket.openDownloadStream(image.fileId),
    };
  }
}

/** Serve an image with caching headers and 304 on a matching If-None-Match. */
export async function sendImage(
  req: Request,
  res: Response,
  image: ReturnType<ImageStore['download']>,
): Promise<void> {
  res.set({ 'Cache-Control': 'private, max-age=300', ETag: image.etag, 'X-Content-Type-Options': 'nosniff' });
  if (req.headers['if-none-match'] === image.etag) {
    res.status(304).end();
    return;
  }
  res.type(image.contentType);
  // pipeline() also settles (and closes the GridFS cursor) when the client goes away mid-download.
  await pipeline(image.stream(), res).catch((err: unknown) => {
    if (!res.destroyed && !req.destroyed) throw err;
  });
}
