/**
 * Typed domain errors. Services throw these; the HTTP layer (core/problem.ts) is the one place that
 * maps them to application/problem+json. Socket and inbox transports map them in their own adapters.
 */

import { asMessage, localized, type Language, type Message } from './messages.js';

export interface FieldProblem {
  /** Dotted path of the offending field, e.g. `body.title` or `query.limit`. */
  field: string;
  message: string;
}

/** A field's problem as raised: its message in English, or a `Message` shown in the reader's language. */
export interface FieldIssue {
  field: string;
  message: string | Message;
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
  /** The detail as raised; `message` is its English text. */
  readonly detail: Message;
  private readonly issues: { field: string; message: Message }[] | undefined;

  /** `detail` and each field's message: English, or a `Message` (core/messages.ts). */
  constructor(detail: string | Message, fields?: FieldIssue[]) {
    const message = asMessage(detail);
    super(message.text);
    this.name = new.target.name;
    this.detail = message;
    this.issues = fields?.map((f) => ({ field: f.field, message: asMessage(f.message) }));
  }

  /** The offending fields, in English. */
  get fields(): FieldProblem[] | undefined {
    return this.fieldsIn('en');
  }

  private fieldsIn(language: Language): FieldProblem[] | undefined {
    return this.issues?.map((i) => ({ field: i.field, message: localized(i.message, language) }));
  }

  /** The problem, its detail and field messages in `language` (the type's title stays English: a name). */
  toProblem(instance?: string, language: Language = 'en'): ProblemDetails {
    const problem: ProblemDetails = {
      type: problemType(this.slug),
      title: this.title,
      status: this.status,
      detail: localized(this.detail, language),
    };
    if (instance) problem.instance = instance;
    const fields = this.fieldsIn(language);
    if (fields?.length) problem.errors = fields;
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
    detail: string | Message,
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
    detail: string | Message,
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
