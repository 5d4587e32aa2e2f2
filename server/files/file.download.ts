import { pipeline } from 'node:stream/promises';
import contentDisposition from 'content-disposition';
import fresh from 'fresh';
import type { Request, Response } from 'express';
import type { Db, ObjectId } from 'mongodb';
import { RangeNotSatisfiableError } from '../core/errors.js';
import { readBlob } from './blob.stream.js';
import { msg } from '../core/messages.js';

export interface Download {
  db: Db;
  /** The GridFS bucket's name. */
  bucket: string;
  blobId: ObjectId;
  size: number;
  contentType: string;
  name: string;
  /** A strong validator: the same bytes always give the same ETag. */
  etag: string;
  lastModified: Date;
  disposition: 'attachment' | 'inline';
}

/**
 * Send stored bytes with what browsers and download managers expect: ETag and Last-Modified (304 when
 * fresh), one byte range (206, honouring If-Range) or 416 outside the file, the original name in
 * Content-Disposition, and headers that keep a browser from running what it downloads.
 */
export async function sendDownload(req: Request, res: Response, d: Download): Promise<void> {
  res.set({
    ETag: d.etag,
    'Last-Modified': d.lastModified.toUTCString(),
    'Accept-Ranges': 'bytes',
    // Visibility can change: keep it private and revalidate every time (a 304 costs no bytes).
    'Cache-Control': 'private, no-cache',
    'Content-Disposition': contentDisposition(d.name, { type: d.disposition }),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
  });
  res.type(d.contentType);
  // `fresh` evaluates If-None-Match / If-Modified-Since; the request's Cache-Control is left out on purpose:
  // it speaks to caches, and an origin server answers a conditional request whatever it says (RFC 9110 13.2).
  const conditional = {
    'if-none-match': req.headers['if-none-match'],
    'if-modified-since': req.headers['if-modified-since'],
  };
  if (fresh(conditional, { etag: d.etag, 'last-modified': d.lastModified.toUTCString() })) {
    res.status(304).end();
    return;
  }
  let start = 0;
  let end = d.size - 1;
  const ifRange = req.headers['if-range'];
  const rangeApplies =
    req.headers.range !== undefined &&
    (ifRange === undefined || ifRange === d.etag || ifRange === d.lastModified.toUTCString());
  if (rangeApplies) {
    const ranges = req.range(d.size, { combine: true });
    if (ranges === -1) throw new RangeNotSatisfiableError(msg`This file has ${d.size} bytes.`, d.size);
    // -2 (malformed) and several ranges are answered with the whole file, as RFC 9110 allows.
    if (Array.isArray(ranges) && ranges.length === 1 && ranges.type === 'bytes') {
      start = ranges[0]!.start;
      end = ranges[0]!.end;
      res.status(206).set('Content-Range', `bytes ${start}-${end}/${d.size}`);
    }
  }
  res.set('Content-Length', String(Math.max(0, end - start + 1)));
  if (req.method === 'HEAD' || d.size === 0) {
    res.end();
    return;
  }
  const stream = readBlob(d.db, d.bucket, d.blobId, start, end + 1);
  await pipeline(stream, res).catch((err: unknown) => {
    // A client that goes away mid-download is not an error of ours.
    if (!res.destroyed && !req.destroyed) throw err;
  });
}
