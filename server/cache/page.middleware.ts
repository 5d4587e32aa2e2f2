import type { Request, RequestHandler, Response } from 'express';
import { requestId, type Logger } from '../core/logger.js';
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

/** What the lean path does that the rest of the pipeline would have done for the same answer. */
export interface LeanPipeline {
  /** The security headers every answer carries (helmet's, captured once: `capturedHeaders`). */
  headers: [string, string][];
  logger: Logger;
  /** Times the answer (metrics): method, status, seconds. */
  timed?: (method: string, status: number, seconds: number) => void;
}

/**
 * The lean path for readers without a session (docs/adr/0027-page-cache.md): a page kept for anonymous
 * readers is answered first, before the pipeline (metrics, request logging, helmet, body parsing, sessions,
 * passport, routing), doing itself what those would have done for it: the security headers, a request id,
 * the request's metric and log line. Anything else goes on through the pipeline.
 */
export function keptPages(cache: PageCache, sessionCookie: string): (lean: LeanPipeline) => RequestHandler {
  const marker = `${sessionCookie}=`;
  return ({ headers, logger, timed }) =>
    (req, res, next) => {
      if (!cache.enabled || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
      if (!req.url.startsWith('/api/v1/') || req.headers.cookie?.includes(marker)) return next();
      // Kept under the whole URL (the first middleware sees it unchanged).
      const page = cache.get(req.url);
      if (!page) return next();
      const started = process.hrtime.bigint();
      const id = requestId(req, res);
      for (const [name, value] of headers) res.setHeader(name, value);
      sendPage(req, res, page);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      timed?.(req.method, res.statusCode, seconds);
      if (logger.isLevelEnabled('info'))
        logger.info(
          {
            req: { id, method: req.method, url: req.url },
            res: { statusCode: res.statusCode },
            responseTime: seconds * 1000,
          },
          'request completed',
        );
    };
}

/** The headers a middleware that only sets headers (helmet) sets on every answer, captured once. */
export function capturedHeaders(middleware: RequestHandler): [string, string][] {
  const headers: [string, string][] = [];
  const res = {
    setHeader: (name: string, value: unknown) => void headers.push([name, String(value)]),
    removeHeader: () => undefined,
  };
  let called = false;
  middleware({} as Request, res as unknown as Response, () => void (called = true));
  if (!called) throw new Error('capturedHeaders: the middleware did not go on at once');
  return headers;
}
