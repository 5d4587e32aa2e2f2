import type { IncomingMessage } from 'node:http';
import accepts from 'accepts';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { isDatabaseBusy, isDatabaseUnavailable, isUnreadableAnswer } from '../db/errors.js';
import {
  DatabaseUnavailableError,
  ValidationError,
  DomainError,
  InsufficientStorageError,
  MalformedBodyError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  RangeNotSatisfiableError,
  ServiceUnavailableError,
  UnsupportedMediaTypeError,
  problemType,
  type ProblemDetails,
} from './errors.js';
import { msg, type Language } from './messages.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function sendProblem(res: Response, problem: ProblemDetails): void {
  // What the answer was, for whoever observes the response (the metrics' inbox counter).
  res.locals.problem = problem.type.replace(/^\/problems\//, '');
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/** Errors raised by body-parser carry a `type` and a `status`; translate the ones clients cause. */
function fromBodyParser(err: unknown): DomainError | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  const e = err as { type: unknown; limit?: number; message?: string };
  switch (e.type) {
    case 'entity.parse.failed':
      return new MalformedBodyError('The body is not valid JSON.', [
        { field: 'body', message: 'invalid JSON' },
      ]);
    case 'entity.too.large':
      return new PayloadTooLargeError(
        e.limit === undefined
          ? 'The body is larger than the configured limit.'
          : msg`The body is larger than the limit of ${e.limit} bytes.`,
        [{ field: 'body', message: 'too large' }],
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError(
        e.message
          ? msg`The body's encoding or charset is not supported: ${e.message}.`
          : 'Unsupported content encoding or charset.',
      );
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new MalformedBodyError(
        e.message ? msg`The request body was incomplete: ${e.message}.` : 'The request body was incomplete.',
      );
    default:
      return undefined;
  }
}

/** Map anything thrown in a request to a DomainError, or undefined when it is a bug (a 5xx). */
export function toDomainError(err: unknown): DomainError | undefined {
  if (err instanceof DomainError) return err;
  // Express fails to decode a malformed %-escape in a path parameter with a URIError marked 400.
  if (err instanceof URIError && (err as { status?: number }).status === 400)
    return new ValidationError('The path is not validly percent-encoded.', [
      { field: 'path', message: 'malformed percent-encoding' },
    ]);
  // The database went away during the request (down, restarting, electing a primary): not a bug, a 503.
  if (isDatabaseUnavailable(err))
    return new DatabaseUnavailableError('The database does not answer; try again in a few seconds.');
  // The database could not take the write in time (FerretDB on SQLite under contention): nothing was written.
  if (isDatabaseBusy(err))
    return new DatabaseUnavailableError('The database is busy; try again in a moment.');
  // An answer the driver could not read as the answer to its command (server/db/errors.ts): a 503, not a 500.
  if (isUnreadableAnswer(err))
    return new DatabaseUnavailableError('The database is busy; try again in a moment.');
  return fromBodyParser(err);
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(msg`No route for ${req.method} ${req.path}.`));
};

/**
 * The language a refusal is told in (docs/api/problems.md, "Language"): the signed-in person's, else the
 * first of English and French the request's Accept-Language prefers, else English.
 */
export function readerLanguage(req: IncomingMessage & { user?: unknown }): Language {
  const locale = (req.user as { locale?: unknown } | undefined)?.locale;
  if (locale === 'en' || locale === 'fr') return locale;
  // A socket's request is Node's own (no Express helpers): read with the library Express reads it with.
  return accepts(req).languages('en', 'fr') === 'fr' ? 'fr' : 'en';
}

/** The single error handler: every failure leaves as application/problem+json. */
export function errorHandler(options: { exposeDetails: boolean }): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const domain = toDomainError(err);
    if (isUnreadableAnswer(err)) req.log.warn({ err }, 'database answer could not be read');
    // Which command could not take the database's write lock in time (an operator's first question).
    if (isDatabaseBusy(err)) req.log.warn({ err }, 'database busy');
    if (domain) {
      // The request body was not read to the end (too large, or refused before reading it, e.g. an
      // anonymous upload): close the connection rather than drain the rest, and tell keep-alive clients.
      if (
        domain instanceof PayloadTooLargeError ||
        domain instanceof InsufficientStorageError ||
        !req.complete
      )
        res.setHeader('Connection', 'close');
      if (domain instanceof ServiceUnavailableError && domain.retryAfterSeconds !== undefined)
        res.setHeader('Retry-After', String(domain.retryAfterSeconds));
      if (domain instanceof MethodNotAllowedError) res.setHeader('Allow', domain.allow.join(', '));
      if (domain instanceof RangeNotSatisfiableError)
        res.setHeader('Content-Range', `bytes */${domain.size}`);
      const language = readerLanguage(req);
      res.setHeader('Content-Language', language);
      sendProblem(res, domain.toProblem(req.originalUrl, language));
      return;
    }
    req.log.error({ err }, 'unhandled error');
    const problem: ProblemDetails = {
      type: problemType('internal-error'),
      title: 'Internal server error',
      status: 500,
      detail: options.exposeDetails && err instanceof Error ? err.message : 'An unexpected error occurred.',
      instance: req.originalUrl,
      requestId: String(req.id),
    };
    sendProblem(res, problem);
  };
}
