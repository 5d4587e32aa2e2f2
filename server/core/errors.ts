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
  readonly status = 400;
  readonly slug = 'validation-failed';
  readonly title = 'The request is not valid';
}

export class MalformedBodyError extends DomainError {
  readonly status = 400;
  readonly slug = 'malformed-body';
  readonly title = 'The request body could not be parsed';
}

export class UnauthenticatedError extends DomainError {
  readonly status = 401;
  readonly slug = 'unauthenticated';
  readonly title = 'Sign-in required';
}

export class ForbiddenError extends DomainError {
  readonly status = 403;
  readonly slug = 'forbidden';
  readonly title = 'Not allowed';
}

export class NotFoundError extends DomainError {
  readonly status = 404;
  readonly slug = 'not-found';
  readonly title = 'Not found';
}

export class MethodNotAllowedError extends DomainError {
  readonly status = 405;
  readonly slug = 'method-not-allowed';
  readonly title = 'Method not allowed';
}

export class ConflictError extends DomainError {
  readonly status = 409;
  readonly slug = 'conflict';
  readonly title = 'Conflict with the current state';
}

export class PayloadTooLargeError extends DomainError {
  readonly status = 413;
  readonly slug = 'payload-too-large';
  readonly title = 'The request body is too large';
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly status = 415;
  readonly slug = 'unsupported-media-type';
  readonly title = 'Unsupported media type';
}

export class RateLimitedError extends DomainError {
  readonly status = 429;
  readonly slug = 'rate-limited';
  readonly title = 'Too many requests';
}

export class ServiceUnavailableError extends DomainError {
  readonly status = 503;
  readonly slug = 'service-unavailable';
  readonly title = 'Service unavailable';
}
