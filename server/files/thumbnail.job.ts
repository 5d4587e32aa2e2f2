import { pipeline } from 'node:stream/promises';
import { ObjectId } from 'mongodb';
import type { Logger } from '../core/logger.js';
import type { FileRepository } from './file.repository.js';
import { THUMBNAIL_MAX_INPUT_BYTES } from './file.service.js';

/** Longest side of a thumbnail, in pixels. */
export const THUMBNAIL_SIZE = 320;
/** Larger images are not decoded (a decompression bomb costs memory, not a thumbnail). */
const MAX_INPUT_PIXELS = 100_000_000;

/**
 * The `thumbnail` job: a WebP of at most 320 px on its longest side, from a version's image, kept in the
 * `thumbnails` GridFS bucket and recorded on the version. Idempotent: a version that has one is left alone,
 * and a half-written thumbnail from a crashed attempt is replaced. An image sharp cannot read gets none.
 */
export function thumbnailJob(repo: FileRepository, logger: Logger) {
  return async (payload: Record<string, unknown>): Promise<void> => {
    const version = await repo.versionById(String(payload.versionId));
    if (!version || version.thumbnail || version.size > THUMBNAIL_MAX_INPUT_BYTES) return;
    const { default: sharp } = await import('sharp');
    const blobId = new ObjectId();
    const resize = sharp({ limitInputPixels: MAX_INPUT_PIXELS, animated: false })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 });
    const info = new Promise<{ width: number; height: number }>((resolve) => resize.once('info', resolve));
    try {
      await pipeline(
        repo.blobs.openDownloadStream(version.blobId),
        resize,
        repo.thumbnails.openUploadStreamWithId(blobId, `${version._id}.webp`),
      );
    } catch (err) {
      await repo.removeBlob('thumbnails', blobId);
      // Bytes that are not a readable image: no thumbnail, and no retry. Anything else is retried.
      if (
        /unsupported image format|Input (buffer|file) (contains|has)|corrupt|premature|exceeds pixel limit/i.test(
          String(err),
        )
      ) {
        logger.info({ version: version._id, err: String(err) }, 'no thumbnail for an unreadable image');
        return;
      }
      throw err;
    }
    const { width, height } = await info;
    await repo.setThumbnail(version._id, { blobId, contentType: 'image/webp', width, height });
  };
}
