import type { RequestHandler, Response } from 'express';
import type { CachedPage, PageCache } from './page.cache.js';

/** What every page answer carries: it may be kept only by the reader's browser, which asks again each time. */
export function pageHeaders(res: Response, etag: string): void {
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'private, no-cache');
  res.setHeader('Vary', 'Cookie');
}

/**
 * Whether `If-None-Match` names this ETag (weak comparison, RFC 9110 13.1.2). A request's own
 * `Cache-Control: no-cache` (which fetch() adds to every conditional request) is for caches on the way, not
 * for the server that made the page, so it does not turn the answer into a full one.
 */
export function hasPage(ifNoneMatch: unknown, etag: string): boolean {
  if (typeof ifNoneMatch !== 'string') return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const mine = opaque(etag);
  return ifNoneMatch.split(',').some((tag) => opaque(tag) === mine);
}

/** Answer from a kept page: 304 when the reader has it, else its bytes. */
export function sendPage(
  req: { method: string; headers: Record<string, unknown> },
  res: Response,
  page: CachedPage,
): void {
  pageHeaders(res, page.etag);
  if (hasPage(req.headers['if-none-match'], page.etag)) {
    res.status(304).end();
    return;
  }
  res.status(200);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(page.body.length));
  res.end(req.method === 'HEAD' ? undefined : page.body);
}

/**
 * The lean path for readers without a session (docs/adr/0027-page-cache.md): a page kept for anonymous
 * readers is answered before body parsing, sessions, passport and routing run. Anything else goes on.
 */
export function keptPages(cache: PageCache, sessionCookie: string): RequestHandler {
  const marker = `${sessionCookie}=`;
  return (req, res, next) => {
    if (!cache.enabled || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    if (req.headers.cookie?.includes(marker)) return next();
    // Mounted at /api/v1: the page is kept under the whole URL.
    const page = cache.get(req.originalUrl);
    if (!page) return next();
    sendPage(req, res, page);
  };
}
