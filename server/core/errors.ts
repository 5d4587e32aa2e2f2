/**
 * Typed domain errors. Services throw these; the HTTP layer (core/problem.ts) is the one place that
 * maps them to application/problem+json. Socket and inbox transports map them in their own adapters.
 */

export interface FieldProblem {
  /** Dotted path of the offending field, e.g. `body.title` or `query.limit`. */
  field: string;
  message: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

/** Stable problem type URIs, relative to the node; docs/api/problems.md describes each. */
export const problemType = (slug: string): string => `/problems/${slug}`;

export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly slug: string;
  abstract readonly title: string;
  readonly fields: FieldProblem[] | undefined;

  constructor(detail: string, fields?: FieldProblem[]) {
    super(detail);
    this.name = new.target.name;
    this.fields = fields;
  }

  toProblem(instance?: string): ProblemDetails {
    const problem: ProblemDetails = {
      type: problemType(this.slug),
      title: this.title,
      status: this.status,
      detail: this.message,
    };
    if (instance) problem.instance = instance;
    if (this.fields?.length) problem.errors = this.fields;
    return problem;
  }
}

export class ValidationError extends DomainError {
  readonly status: number = 400;
  readonly slug: string = 'validation-failed';
  readonly title: string = 'The request is not valid';
}

export class MalformedBodyError extends DomainError {
  readonly status: number = 400;
  readonly slug: string = 'malformed-body';
  readonly title: string = 'The request body could not be parsed';
}

export class UnauthenticatedError extends DomainError {
  readonly status: number = 401;
  readonly slug: string = 'unauthenticated';
  readonly title: string = 'Sign-in required';
}

export class ForbiddenError extends DomainError {
  readonly status: number = 403;
  readonly slug: string = 'forbidden';
  readonly title: string = 'Not allowed';
}

export class NotFoundError extends DomainError {
  readonly status: number = 404;
  readonly slug: string = 'not-found';
  readonly title: string = 'Not found';
}

export class MethodNotAllowedError extends DomainError {
  readonly status: number = 405;
  readonly slug: string = 'method-not-allowed';
  readonly title: string = 'Method not allowed';
  constructor(
    detail: string,
    /** The methods the resource answers, sent back in the Allow header. */
    readonly allow: string[],
  ) {
    super(detail);
  }
}

export class ConflictError extends DomainError {
  readonly status: number = 409;
  readonly slug: string = 'conflict';
  readonly title: string = 'Conflict with the current state';
}

export class PayloadTooLargeError extends DomainError {
  readonly status: number = 413;
  readonly slug: string = 'payload-too-large';
  readonly title: string = 'The request body is too large';
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly status: number = 415;
  readonly slug: string = 'unsupported-media-type';
  readonly title: string = 'Unsupported media type';
}

export class InsufficientStorageError extends DomainError {
  readonly status: number = 413;
  readonly slug: string = 'quota-exceeded';
  readonly title: string = "The group's storage quota is used up";
}

export class RangeNotSatisfiableError extends DomainError {
  readonly status: number = 416;
  readonly slug: string = 'range-not-satisfiable';
  readonly title: string = 'The requested range is outside the file';
  constructor(
    detail: string,
    /** The file size, sent back in the Content-Range header of the 416. */
    readonly size: number,
  ) {
    super(detail, [{ field: 'header.range', message: 'outside the file' }]);
  }
}

export class RateLimitedError extends DomainError {
  readonly status: number = 429;
  readonly slug: string = 'rate-limited';
  readonly title: string = 'Too many requests';
}

export class ServiceUnavailableError extends DomainError {
  readonly status: number = 503;
  readonly slug: string = 'service-unavailable';
  readonly title: string = 'Service unavailable';
  /** Seconds a client is told to wait (Retry-After), when the cause suggests it. */
  readonly retryAfterSeconds?: number;
}

/** The database does not answer (down, restarting, electing a primary): a 503 with Retry-After. */
export class DatabaseUnavailableError extends ServiceUnavailableError {
  override readonly retryAfterSeconds: number = 5;
}

/**
 * Another server the request needs (for a key, an object, a parent post) did not answer, or had trouble
 * (5xx): nothing was changed, and the same request may succeed later (a sender of an activity retries).
 */
export class PeerUnavailableError extends ServiceUnavailableError {
  override readonly retryAfterSeconds: number = 30;
}
